// The audit log's cross-check (core/audit_log.h): a site's log against the
// coordinator's, message by message.
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/audit_log.h"
#include "core/internal/audit_internal.h"
#include "core/status.h"

namespace fedrad::audit {

using audit_internal::ParseCertCached;
using audit_internal::ReadLog;
using audit_internal::Scan;
using audit_internal::VerifyText;

namespace {

struct NodeLog {
  std::string label;  // "site log" / "coordinator log"
  std::string path;
  std::set<std::string> names;
  std::vector<AuditRecord> records;
};

absl::StatusOr<NodeLog> LoadForCrossCheck(const std::string& path, const std::string& label,
                                          CrossCheckReport* report) {
  NodeLog log;
  log.label = label;
  log.path = path;
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadLog(path));
  VerifyOptions vo;
  vo.live = true;
  Scan scan = VerifyText(text, vo);
  for (const std::string& p : scan.report.problems) {
    report->problems.push_back(absl::StrCat(label, " ", path, ": ", p));
  }
  for (const AuditRecord& r : scan.records) {
    if (r.type == "open") {
      log.names.insert(r.node);
      size_t colon = r.node.find(':');
      if (colon != std::string::npos) log.names.insert(r.node.substr(colon + 1));
      auto parsed = ParseCertCached(r.cert);
      if (parsed.ok()) log.names.insert(parsed->info.common_name);
    }
  }
  log.records = std::move(scan.records);
  return log;
}

std::string Describe(const NodeLog& log, const AuditRecord& r) {
  return absl::StrCat(log.label, " line ", r.line, " (seq ", r.seq, ", ", r.direction, " ", r.kind,
                      ", study ", r.study, ", task ", r.task, ", digest ",
                      r.payload_sha256.substr(0, 12), ")");
}

// Matches `from`'s records sent to `to` with `to`'s records received from
// `from`.
void MatchDirection(const NodeLog& from, const NodeLog& to, CrossCheckReport* report,
                    int64_t* considered) {
  std::vector<const AuditRecord*> sent, received;
  for (const AuditRecord& r : from.records) {
    if (r.type == "event" && r.direction == "sent" && to.names.count(r.peer)) sent.push_back(&r);
  }
  for (const AuditRecord& r : to.records) {
    if (r.type == "event" && r.direction == "received" && from.names.count(r.peer)) {
      received.push_back(&r);
    }
  }
  *considered += static_cast<int64_t>(sent.size() + received.size());
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, std::deque<size_t>> by_key;
  for (size_t i = 0; i < received.size(); ++i) {
    const AuditRecord* r = received[i];
    by_key[Key{r->study, r->task, r->kind, r->payload_sha256}].push_back(i);
  }
  std::vector<bool> received_used(received.size(), false);
  std::vector<const AuditRecord*> unmatched_sent;
  int64_t last_index = -1;
  bool order_reported = false;
  for (const AuditRecord* s : sent) {
    auto it = by_key.find(Key{s->study, s->task, s->kind, s->payload_sha256});
    if (it == by_key.end() || it->second.empty()) {
      unmatched_sent.push_back(s);
      continue;
    }
    size_t idx = it->second.front();
    it->second.pop_front();
    received_used[idx] = true;
    ++report->matched;
    if (static_cast<int64_t>(idx) < last_index && !order_reported) {
      report->problems.push_back(absl::StrCat(
          "order differs: ", Describe(from, *s), " matches ", Describe(to, *received[idx]),
          ", which comes before the match of an earlier message"));
      order_reported = true;
    }
    last_index = std::max<int64_t>(last_index, static_cast<int64_t>(idx));
  }
  // A sent and a received record for the same study/task/kind with
  // different digests: the payload changed between the two logs.
  for (const AuditRecord* s : unmatched_sent) {
    bool paired = false;
    for (size_t i = 0; i < received.size(); ++i) {
      const AuditRecord* r = received[i];
      if (received_used[i] || r->study != s->study || r->task != s->task || r->kind != s->kind) {
        continue;
      }
      received_used[i] = true;
      paired = true;
      report->problems.push_back(absl::StrCat("payload digest mismatch: ", Describe(from, *s),
                                              " has ", s->payload_sha256, " but ", Describe(to, *r),
                                              " has ", r->payload_sha256));
      break;
    }
    if (!paired) {
      report->problems.push_back(absl::StrCat("missing: ", Describe(from, *s), " was sent to ",
                                              s->peer, " but the ", to.label,
                                              " has no matching received record"));
    }
  }
  for (size_t i = 0; i < received.size(); ++i) {
    if (received_used[i]) continue;
    report->problems.push_back(absl::StrCat("missing: ", Describe(to, *received[i]),
                                            " was received from ", received[i]->peer, " but the ",
                                            from.label, " has no matching sent record"));
  }
}

}  // namespace

absl::StatusOr<CrossCheckReport> CrossCheck(const std::string& site_log,
                                            const std::string& coordinator_log) {
  CrossCheckReport report;
  FEDRAD_ASSIGN_OR_RETURN(NodeLog site, LoadForCrossCheck(site_log, "site log", &report));
  FEDRAD_ASSIGN_OR_RETURN(NodeLog coord,
                          LoadForCrossCheck(coordinator_log, "coordinator log", &report));
  report.notes.push_back(absl::StrCat("site known as: ", absl::StrJoin(site.names, ", ")));
  report.notes.push_back(absl::StrCat("coordinator known as: ", absl::StrJoin(coord.names, ", ")));
  int64_t considered = 0;
  MatchDirection(site, coord, &report, &considered);  // site -> coordinator
  MatchDirection(coord, site, &report, &considered);  // coordinator -> site
  if (considered == 0) {
    report.problems.push_back(absl::StrCat(
        "no messages between the two nodes were found: the site log records no message "
        "to or from any of the coordinator's names and vice versa (are these the right "
        "logs?)"));
  }
  report.notes.push_back(absl::StrCat(report.matched, " message(s) matched"));
  report.ok = report.problems.empty();
  return report;
}

}  // namespace fedrad::audit
