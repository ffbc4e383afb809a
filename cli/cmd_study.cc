// `fedrad study submit|status|watch|results|cancel|list|hash`: the study
// coordinator's commands, talking to the coordinator's Admin service over
// mutual TLS with an admin (or, read-only, auditor) certificate.
//
// Connection: --admin-config ADMIN.textproto (fedrad.v1.AdminClientConfig),
// or the environment variable FEDRAD_ADMIN_CONFIG, or the flags
// --coordinator HOST:PORT --ca CA.crt --cert ADMIN.crt --key ADMIN.key.
#include <fstream>
#include <iostream>

#include "cli/admin_connection.h"
#include "cli/command.h"
#include "coordinator/admin_client.h"
#include "coordinator/analyses.h"
#include "core/csv.h"
#include "proto/spec_hash.h"
#include "proto/study.pb.h"
#include "proto/textproto.h"

namespace {

using fedrad::cli::Args;
using fedrad::coordinator::AdminClient;

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "fedrad: " << what << ": " << status.message() << " ("
            << absl::StatusCodeToString(status.code()) << ")\n";
  return 1;
}

int RunSubmit(Args& args) {
  args.Describe("Submits a study (text-format fedrad.v1.Study) and prints its id.");
  fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
  // The switch first: in "--watch STUDY.textproto" it hands the path back as
  // a positional argument.
  bool watch = args.Bool("watch", "Follow the study until it ends");
  std::string spec = args.Positional("STUDY.textproto", "The study spec");
  if (!args.Finish()) return args.exit_code();
  fedrad::v1::Study study;
  if (absl::Status s = fedrad::ReadTextProto(spec, &study); !s.ok()) return Fail("bad study", s);
  // Refused here before anything is sent (the coordinator checks again).
  if (absl::Status s = fedrad::coordinator::CheckStudy(study); !s.ok()) {
    return Fail(spec, s);
  }
  auto client = fedrad::cli::OpenAdminClient(c);
  if (!client.ok()) return Fail("cannot connect", client.status());
  auto id = (*client)->Submit(study);
  if (!id.ok()) return Fail("submit refused", id.status());
  std::cout << *id << "\n";
  std::cerr << "each site runs it only once its operator approved this exact spec "
               "(fedrad-site approve; spec sha256 "
            << fedrad::StudySpecHash(study) << ")\n";
  if (!watch) return 0;
  fedrad::coordinator::StatusLines lines;
  auto last = (*client)->Watch(*id, [&lines](const fedrad::v1::StudyStatus& s) {
    for (const std::string& line : lines.Next(s)) std::cerr << line << "\n";
  });
  if (!last.ok()) return Fail("watch failed", last.status());
  return last->state() == "SUCCEEDED" ? 0 : 1;
}

int RunStatus(Args& args) {
  args.Describe("Prints a study's state, step and per-site status.");
  fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
  std::string id = args.Positional("ID", "The study id (from submit)");
  if (!args.Finish()) return args.exit_code();
  auto client = fedrad::cli::OpenAdminClient(c);
  if (!client.ok()) return Fail("cannot connect", client.status());
  auto status = (*client)->Status(id);
  if (!status.ok()) return Fail("status", status.status());
  std::cout << status->study_id() << "  " << fedrad::coordinator::FormatStatus(*status) << "\n";
  for (const std::string& notice : status->notices()) std::cout << "  notice: " << notice << "\n";
  return 0;
}

int RunWatch(Args& args) {
  args.Describe(
      "Follows a study until it ends: one line per change of step, message or unusual site "
      "state, and per 5% of progress (the per-round site states are left out; `study status` "
      "shows them); each notice once. Exit code 0 if it succeeded.");
  fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
  std::string id = args.Positional("ID", "The study id");
  if (!args.Finish()) return args.exit_code();
  auto client = fedrad::cli::OpenAdminClient(c);
  if (!client.ok()) return Fail("cannot connect", client.status());
  fedrad::coordinator::StatusLines lines;
  auto last = (*client)->Watch(id, [&lines](const fedrad::v1::StudyStatus& s) {
    for (const std::string& line : lines.Next(s)) std::cout << line << std::endl;
  });
  if (!last.ok()) return Fail("watch", last.status());
  return last->state() == "SUCCEEDED" ? 0 : 1;
}

int RunResults(Args& args) {
  args.Describe("Fetches a finished study's results.json.");
  fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
  std::string id = args.Positional("ID", "The study id");
  std::string out = args.Flag("out", "", "Write to this file instead of stdout");
  if (!args.Finish()) return args.exit_code();
  auto client = fedrad::cli::OpenAdminClient(c);
  if (!client.ok()) return Fail("cannot connect", client.status());
  auto json = (*client)->Results(id);
  if (!json.ok()) return Fail("results", json.status());
  if (out.empty()) {
    std::cout << *json;
    return 0;
  }
  if (absl::Status s = fedrad::WriteStringToFile(out, *json); !s.ok()) return Fail("write", s);
  std::cerr << "wrote " << out << "\n";
  return 0;
}

int RunCancel(Args& args) {
  args.Describe("Cancels a running study (admin role).");
  fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
  std::string id = args.Positional("ID", "The study id");
  if (!args.Finish()) return args.exit_code();
  auto client = fedrad::cli::OpenAdminClient(c);
  if (!client.ok()) return Fail("cannot connect", client.status());
  auto status = (*client)->Cancel(id);
  if (!status.ok()) return Fail("cancel", status.status());
  std::cout << status->study_id() << "  cancel requested\n";
  return 0;
}

int RunList(Args& args) {
  args.Describe("Lists the studies this coordinator run knows.");
  fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
  if (!args.Finish()) return args.exit_code();
  auto client = fedrad::cli::OpenAdminClient(c);
  if (!client.ok()) return Fail("cannot connect", client.status());
  auto list = (*client)->List();
  if (!list.ok()) return Fail("list", list.status());
  if (list->studies().empty()) {
    std::cout << "no studies\n";
    return 0;
  }
  for (const auto& s : list->studies()) {
    std::cout << s.study_id() << "  " << fedrad::coordinator::FormatStatus(s) << "\n";
  }
  return 0;
}

// The hash a site operator approves, computed here so that the coordinator can
// publish it with the spec (`fedrad-site approve` prints the same).
int RunHash(Args& args) {
  args.Describe(
      "Prints the study spec's canonical SHA-256: the hash each site's operator approves with "
      "`fedrad-site approve` (which prints the same hash) and that results.json records as "
      "provenance.spec_approval_sha256. Any change to the spec changes it. Needs no connection.");
  std::string spec = args.Positional("STUDY.textproto", "The study spec");
  if (!args.Finish()) return args.exit_code();
  fedrad::v1::Study study;
  if (absl::Status s = fedrad::ReadTextProto(spec, &study); !s.ok()) return Fail("bad study", s);
  std::cout << fedrad::StudySpecHash(study) << "  " << fedrad::CanonicalStudy(study).name() << "\n";
  return 0;
}

FEDRAD_REGISTER_COMMAND("study submit", "Submit a study to the coordinator", RunSubmit);
FEDRAD_REGISTER_COMMAND("study hash", "Print the spec hash sites approve", RunHash);
FEDRAD_REGISTER_COMMAND("study status", "Show a study's status", RunStatus);
FEDRAD_REGISTER_COMMAND("study watch", "Follow a study until it ends", RunWatch);
FEDRAD_REGISTER_COMMAND("study results", "Fetch a study's results.json", RunResults);
FEDRAD_REGISTER_COMMAND("study cancel", "Cancel a running study", RunCancel);
FEDRAD_REGISTER_COMMAND("study list", "List studies", RunList);

}  // namespace
