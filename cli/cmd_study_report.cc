// `fedrad study report ID --out report.html`: fetches a finished study's
// results.json from the coordinator's Admin API (admin or auditor
// certificate) and renders the HTML report (fedrad::report::RenderReport,
// docs/report.md). Connection flags as `fedrad study results`
// (cli/admin_connection.h).
//
//   fedrad study report 3f2a9c --admin-config admin.textproto --out report.html
//   fedrad study report 3f2a9c --admin-config admin.textproto --out report.html
//       --audit-log S1=S1-audit.log --audit-log S2=S2-audit.log
//
// --audit-log NAME=LOG verifies a node's audit log (e.g. one a site operator
// handed over), checks it is NAME's (the CN of its signing certificate) and
// adds the hash of its last record of this study to
// provenance.audit_log_heads.NAME (the coordinator records only its own
// head; the sandbox adds the sites'). A running node's log (no final close
// record) needs --live.
// A study that is still running, or unknown to the coordinator, is an error
// that says what to do.
#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/admin_connection.h"
#include "cli/command.h"
#include "core/audit_log.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/pki.h"
#include "core/status.h"
#include "report/report.h"

namespace fedrad::cli {
namespace {

int Fail(const std::string& message) {
  std::cerr << "fedrad study report: " << message << "\n";
  return 1;
}

// Adds, for each NAME=LOG, the hash of the study's last record in that
// verified log to provenance.audit_log_heads.NAME. The log must be NAME's:
// every certificate in its open records (the key that signs its
// checkpoints) has CN NAME. A log without a final close record (its node is
// still running) is accepted only when `live`.
absl::Status AddAuditHeads(const std::vector<std::string>& flags, const std::string& study_id,
                           bool live, nlohmann::json* results) {
  for (const std::string& f : flags) {
    std::vector<std::string> parts = absl::StrSplit(f, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--audit-log takes NAME=LOG (e.g. S1=audit/S1.log), got '", f, "'"));
    }
    const std::string& name = parts[0];
    const std::string& path = parts[1];
    audit::VerifyOptions options;
    options.live = live;
    absl::StatusOr<audit::VerifyReport> report = audit::VerifyLog(path, options);
    if (!report.ok()) return Annotate(report.status(), absl::StrCat("--audit-log ", name));
    if (!report->ok) {
      if (!live && !report->closed && report->problems.size() == 1 &&
          absl::StrContains(report->problems.front(), "close record")) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the audit log ", path, " of ", name,
            " has no final close record: its node is still running (add --live to accept a "
            "running node's log) or its end was cut off"));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "the audit log ", path, " of ", name, " does not verify (",
          report->problems.empty() ? "" : report->problems.front(),
          "); run `fedrad audit verify ", path, "` for the whole report"));
    }
    FEDRAD_ASSIGN_OR_RETURN(std::vector<audit::AuditRecord> records, audit::ReadRecords(path));
    // Whose log it is: the certificate(s) its node signed with.
    std::vector<std::string> others;
    bool signed_by_name = false;
    for (const audit::AuditRecord& r : records) {
      if (r.type != "open") continue;
      absl::StatusOr<pki::CertificateInfo> cert = pki::ParseCertificatePem(r.cert);
      std::string cn = cert.ok() ? cert->common_name : "(unreadable certificate)";
      if (cn == name) {
        signed_by_name = true;
      } else if (std::find(others.begin(), others.end(), cn) == others.end()) {
        others.push_back(cn);
      }
    }
    if (!others.empty() || !signed_by_name) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the audit log ", path, " is not ", name, "'s: it is signed by ",
          others.empty() ? std::string("no certificate") : absl::StrJoin(others, ", "),
          " (the CN of the certificate in its open records); give --audit-log ", name,
          "=LOG with the log ", name, " kept"));
    }
    absl::StatusOr<audit::AuditRecord> end = audit::LastRecordOfStudy(records, study_id);
    if (!end.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the audit log ", path, " of ", name, " has no record of study ", study_id,
          ": did ", name, " take part in it, and is this its current log?"));
    }
    if (end->seq > report->last_signed_seq) {
      std::cerr << "fedrad study report: note: in " << path << ", the end of study " << study_id
                << " (seq " << end->seq << ") is not yet covered by a signed checkpoint\n";
    }
    (*results)["provenance"]["audit_log_heads"][name] = end->hash;
  }
  return absl::OkStatus();
}

int RunStudyReport(Args& args) {
  args.Describe(
      "Writes the HTML report of a finished study: fetches its results.json from the "
      "coordinator (Admin API, admin or auditor certificate) and renders one self-contained "
      "HTML file (docs/report.md). Exit code 0 when written, 1 when the study is unknown, "
      "still running or the report cannot be written.");
  AdminConnection c = DeclareAdminConnection(args);
  const std::string id = args.Positional("ID", "The study id (from `fedrad study submit` or `list`)");
  const std::string out = args.Flag("out", "report.html", "HTML file to write");
  const std::string results_out =
      args.Flag("results-out", "", "Also write the fetched results.json here");
  const std::string title = args.Flag("title", "", "Page title (default: from the study name)");
  const std::vector<std::string> audit_logs = args.Flags(
      "audit-log",
      "NAME=LOG: verify NAME's own audit log and record the hash of its last record of this "
      "study (repeat)");
  const bool live = args.Bool(
      "live", "Accept --audit-log logs of nodes still running (no final close record)");
  const long k = args.Int("min-cell-count", 10,
                          "k used when results.json states none (never draw a smaller cell)");
  if (!args.Finish()) return args.exit_code();
  if (k < 1) return args.UsageError("--min-cell-count must be at least 1");

  auto client = OpenAdminClient(c);
  if (!client.ok()) return Fail(absl::StrCat("cannot connect: ", client.status().message()));
  absl::StatusOr<v1::StudyStatus> status = (*client)->Status(id);
  if (!status.ok()) {
    if (absl::IsNotFound(status.status())) {
      return Fail(absl::StrCat("the coordinator knows no study '", id,
                               "'; list the studies it knows with `fedrad study list`"));
    }
    return Fail(absl::StrCat("status of study ", id, ": ", status.status().message()));
  }
  const std::string state = status->state();
  if (state != "SUCCEEDED" && state != "FAILED" && state != "CANCELLED") {
    return Fail(absl::StrCat("study ", id, " is ", state.empty() ? "not finished" : state,
                             " (", coordinator::FormatStatus(*status),
                             "); its report can be written once it ends: follow it with "
                             "`fedrad study watch ",
                             id, "` and run this command again"));
  }
  absl::StatusOr<std::string> text = (*client)->Results(id);
  if (!text.ok()) {
    return Fail(absl::StrCat("results of study ", id, ": ", text.status().message()));
  }
  nlohmann::json results = nlohmann::json::parse(*text, nullptr, false);
  if (results.is_discarded() || !results.is_object()) {
    return Fail(absl::StrCat("the coordinator's results.json for study ", id, " does not parse"));
  }
  if (absl::Status s = AddAuditHeads(audit_logs, id, live, &results); !s.ok()) return Fail(std::string(s.message()));
  if (!results_out.empty()) {
    if (absl::Status s = WriteStringToFile(results_out, results.dump(2) + "\n"); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  report::ReportOptions options;
  options.title = title;
  options.default_min_cell_count = static_cast<int>(k);
  options.results_source = absl::StrCat("study ", id, " at the coordinator (Admin API)");
  options.results_sha256 = Sha256Hex(*text);
  absl::StatusOr<std::string> html = report::RenderReport(results, options);
  if (!html.ok()) return Fail(std::string(html.status().message()));
  if (absl::Status s = WriteStringToFile(out, *html); !s.ok()) {
    return Fail(absl::StrCat("writing ", out, ": ", s.message()));
  }
  if (state != "SUCCEEDED") {
    std::cerr << "fedrad study report: note: study " << id << " ended " << state
              << "; the report shows what it computed before that\n";
  }
  std::cout << "wrote " << out << "\n";
  return 0;
}

FEDRAD_REGISTER_COMMAND("study report", "Write the HTML report of a finished study",
                        RunStudyReport);

}  // namespace
}  // namespace fedrad::cli
