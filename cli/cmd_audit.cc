// `fedrad audit verify|cross-check|show`: the auditor's commands over the
// nodes' audit logs (core/audit_log.h; docs/auditor.md). Exit codes: 0 the
// check passed, 1 it failed (each problem is printed with its line/seq) or a
// file could not be read, 2 usage error.
//
//   fedrad audit verify site-S1.audit.jsonl --ca ca.crt
//   fedrad audit verify coordinator.audit.jsonl --live     # node still running
//   fedrad audit cross-check site-S1.audit.jsonl coordinator.audit.jsonl
//   fedrad audit show site-S1.audit.jsonl
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "core/audit_log.h"

namespace {

using fedrad::cli::Args;
namespace audit = fedrad::audit;

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "fedrad " << command << ": " << status.message() << "\n";
  return 1;
}

int RunVerify(Args& args) {
  args.Describe(
      "Verifies an audit log: the hash chain is whole, every record is unchanged and "
      "in sequence, every checkpoint signature verifies with the node's certificate "
      "(issued by the study CA, with --ca), and the log ends with the node's signed "
      "close record. Exit 0 only if all holds. A running node's log has no close "
      "record yet: use --live, which reports how many records follow the last "
      "signed one.");
  bool live = args.Bool("live", "The node is still running: accept a log without a close record");
  std::string ca = args.Flag("ca", "", "Study CA certificate the node's certificate must chain to");
  std::string log = args.Positional("LOG", "Audit log (JSON Lines)");
  if (!args.Finish()) return args.exit_code();
  audit::VerifyOptions options;
  options.ca_cert_path = ca;
  options.live = live;
  auto report = audit::VerifyLog(log, options);
  if (!report.ok()) return Fail("audit verify", report.status());
  for (const auto& note : report->notes) std::cout << "note: " << note << "\n";
  if (!report->ok) {
    std::cout << log << ": FAILED (" << report->problems.size() << " problem(s))\n";
    for (const auto& p : report->problems) std::cout << "  " << p << "\n";
    return 1;
  }
  std::cout << log << ": OK: " << report->records << " records, " << report->sessions
            << " session(s), " << report->signed_records << " signed";
  if (report->closed) {
    std::cout << ", ends with a signed close record";
  } else {
    std::cout << ", live: " << report->unsigned_tail << " record(s) after the last signed one (seq "
              << report->last_signed_seq << ")";
  }
  std::cout << "\n  signed by: ";
  for (size_t i = 0; i < report->signers.size(); ++i) {
    std::cout << (i ? "; " : "") << report->signers[i];
  }
  std::cout << (ca.empty() ? " (certificate not checked against a CA; pass --ca)" : "")
            << "\n  head hash: " << report->head_hash << "\n";
  return 0;
}

int RunCrossCheck(Args& args) {
  args.Describe(
      "Checks that a site and the coordinator saw the same messages: every message the "
      "site logged as sent to the coordinator is logged by the coordinator as received "
      "from that site with the same study, task, kind and payload SHA-256, and vice "
      "versa, in the same order. Both logs are verified too (as live logs). Exit 0 "
      "only if everything matches; each mismatch is printed.");
  std::string site = args.Positional("SITE_LOG", "The site's audit log");
  std::string coordinator = args.Positional("COORDINATOR_LOG", "The coordinator's audit log");
  if (!args.Finish()) return args.exit_code();
  auto report = audit::CrossCheck(site, coordinator);
  if (!report.ok()) return Fail("audit cross-check", report.status());
  for (const auto& note : report->notes) std::cout << "note: " << note << "\n";
  if (!report->ok) {
    std::cout << "FAILED: " << report->problems.size() << " problem(s), " << report->matched
              << " message(s) matched\n";
    for (const auto& p : report->problems) std::cout << "  " << p << "\n";
    return 1;
  }
  std::cout << "OK: " << report->matched << " message(s) seen identically by both sides\n";
  return 0;
}

std::string Clip(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  return s.substr(0, n - 3) + "...";
}

int RunShow(Args& args) {
  args.Describe(
      "Lists an audit log for humans: one line per record with its sequence number, "
      "time, direction (or record type), peer, kind, task and summary, grouped by study. Also "
      "states whether the log verifies (as a live log; use `audit verify` for the "
      "full check).");
  std::string study = args.Flag("study", "", "Only records of this study");
  bool digests = args.Bool("digests", "Also show payload SHA-256 digests");
  std::string log = args.Positional("LOG", "Audit log (JSON Lines)");
  if (!args.Finish()) return args.exit_code();
  auto records = audit::ReadRecords(log);
  if (!records.ok()) return Fail("audit show", records.status());
  audit::VerifyOptions live;
  live.live = true;
  auto report = audit::VerifyLog(log, live);
  if (!report.ok()) return Fail("audit show", report.status());
  std::string node = records->empty() ? "?" : records->front().node;
  std::cout << "log " << log << " of " << node << ": " << records->size() << " records; integrity "
            << (report->ok ? "OK" : "FAILED (run fedrad audit verify for details)")
            << (report->closed ? ", closed" : ", no close record (live or truncated)") << "\n\n";
  std::cout << std::left << std::setw(6) << "SEQ" << std::setw(28) << "TIME" << std::setw(10)
            << "WHAT" << std::setw(14) << "PEER" << std::setw(22) << "KIND" << std::setw(18)
            << "TASK"
            << "SUMMARY\n";
  std::string current_study;
  for (const auto& r : *records) {
    if (!study.empty() && r.type == "event" && r.study != study) continue;
    if (r.type == "event" && r.study != current_study) {
      current_study = r.study;
      std::cout << "-- " << (current_study.empty() ? "(no study)" : "study " + current_study)
                << "\n";
    }
    std::string what = r.type == "event" ? r.direction : r.type;
    // Task ids usually start with the study id, shown already above.
    std::string task = r.task;
    if (!r.study.empty() && task.rfind(r.study, 0) == 0 && task.size() > r.study.size()) {
      task = "..." + task.substr(r.study.size());
    }
    std::cout << std::left << std::setw(6) << r.seq << std::setw(28) << r.time << std::setw(10)
              << what << std::setw(14) << Clip(r.peer, 13) << std::setw(22) << Clip(r.kind, 21)
              << std::setw(18) << Clip(task, 17) << r.summary;
    if (digests && !r.payload_sha256.empty()) std::cout << "  [sha256 " << r.payload_sha256 << "]";
    std::cout << "\n";
  }
  return 0;
}

FEDRAD_REGISTER_COMMAND("audit verify", "Verify an audit log's chain and signatures", RunVerify);
FEDRAD_REGISTER_COMMAND("audit cross-check", "Match a site's log against the coordinator's",
                        RunCrossCheck);
FEDRAD_REGISTER_COMMAND("audit show", "List an audit log for humans", RunShow);

}  // namespace
