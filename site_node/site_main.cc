// fedrad-site: the site daemon and its operator's commands. Usage:
//   fedrad-site --config site.textproto          serve until SIGINT/SIGTERM
//   fedrad-site --config site.textproto --check  validate config and data, exit
//   fedrad-site approve --config site.textproto STUDY.textproto
//                       [--expires YYYY-MM-DD] [--note "ethics ref ..."]
//   fedrad-site approvals --config site.textproto
//   fedrad-site withdraw --config site.textproto STUDY_NAME_OR_HASH
//   fedrad-site reset-study --config site.textproto STUDY_ID
// See docs/site-operator.md.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "proto/config.pb.h"
#include "proto/study.pb.h"
#include "proto/textproto.h"
#include "site_node/approvals.h"
#include "site_node/site_node.h"
#include "core/status.h"
#include "site_node/site_rules.h"
#include "site_node/study_checkpoint.h"
#include "site_node/site_check.h"

namespace {

int Usage() {
  std::cerr
      << "usage: fedrad-site --config SITE.textproto [--check]\n"
         "       fedrad-site approve --config SITE.textproto STUDY.textproto [--expires YYYY-MM-DD]"
         " [--note TEXT]\n"
         "       fedrad-site approvals --config SITE.textproto\n"
         "       fedrad-site withdraw --config SITE.textproto STUDY_NAME_OR_HASH\n"
         "       fedrad-site reset-study --config SITE.textproto STUDY_ID\n"
         "  --config   the site's configuration (docs/site-operator.md)\n"
         "  --check    validate the configuration and the data table, then exit\n"
         "  approve    approve this exact study spec (by its SHA-256); --expires defaults to one "
         "year\n"
         "  approvals  list the approvals\n"
         "  withdraw   withdraw an approval (a study name, or >= 8 hex digits of its hash)\n"
         "  reset-study  let a study stopped by the crash guard run again at this site\n";
  return 2;
}

// The operator's commands: approve, approvals, withdraw, reset-study.
int RunCommand(const std::string& command, int argc, char** argv) {
  std::string config_path, expires, note;
  std::vector<std::string> positional;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag, std::string* out) {
      const std::string f = flag;
      if (a == f && i + 1 < argc) {
        *out = argv[++i];
        return true;
      }
      if (a.rfind(f + "=", 0) == 0) {
        *out = a.substr(f.size() + 1);
        return true;
      }
      return false;
    };
    if (value("--config", &config_path)) continue;
    if (command == "approve" && value("--expires", &expires)) continue;
    if (command == "approve" && value("--note", &note)) continue;
    if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    }
    if (a.rfind("--", 0) == 0) {
      std::cerr << "fedrad-site " << command << ": unknown flag '" << a << "'\n";
      return Usage();
    }
    positional.push_back(a);
  }
  const size_t want = command == "approvals" ? 0 : 1;
  if (config_path.empty() || positional.size() != want) return Usage();
  auto config = fedrad::site::LoadSiteConfig(config_path);
  if (!config.ok()) {
    std::cerr << "fedrad-site " << command << ": " << config.status().message() << "\n";
    return 1;
  }
  auto audit = [&](const std::string& kind, const std::string& summary, const std::string& digest) {
    return fedrad::site::AppendOperatorRecord(*config, "", kind, summary, digest);
  };
  absl::StatusOr<std::string> out;
  if (command == "approve") {
    fedrad::v1::Study study;
    if (absl::Status s = fedrad::ReadTextProto(positional[0], &study); !s.ok()) {
      std::cerr << "fedrad-site approve: " << s.message() << "\n";
      return 1;
    }
    fedrad::site::ApproveOptions options;
    options.expires = expires;
    options.note = note;
    out = fedrad::site::ApproveStudy(*config, study, options, audit, absl::Now());
  } else if (command == "approvals") {
    out = fedrad::site::ListApprovals(*config, absl::Now());
  } else if (command == "withdraw") {
    out = fedrad::site::WithdrawApproval(*config, positional[0], audit, absl::Now());
  } else {  // reset-study
    const std::string& study_id = positional[0];
    if (absl::Status s = fedrad::site::CheckPlainName(study_id, "STUDY_ID"); !s.ok()) {
      out = s;
    } else {
      auto reset = fedrad::site::ResetStudy(config->output_dir(), study_id);
      if (!reset.ok()) {
        out = reset.status();
      } else if (!*reset) {
        out = absl::StrCat("study ", study_id, " was not stopped at this site; nothing to reset\n");
      } else {
        absl::Status a = fedrad::site::AppendOperatorRecord(
            *config, study_id, "site.reset-study",
            "the operator reset the study after its worker crashed; it runs again");
        out = absl::StrCat("study ", study_id, " reset: its next tasks run again\n  (",
                           a.ok() ? "audit record written"
                                  : "the site is running: it writes the audit record at the "
                                    "study's next task",
                           ")\n");
      }
    }
  }
  if (!out.ok()) {
    std::cerr << "fedrad-site " << command << ": " << out.status().message() << "\n";
    return 1;
  }
  std::cout << *out;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fedrad::SetLogTag("site");
  if (argc >= 2) {
    const std::string command = argv[1];
    if (command == "approve" || command == "approvals" || command == "withdraw" ||
        command == "reset-study") {
      return RunCommand(command, argc, argv);
    }
  }
  std::string config_path;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--check") {
      check = true;
    } else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::cerr << "fedrad-site: unknown argument '" << a << "'\n";
      return Usage();
    }
  }
  if (config_path.empty()) return Usage();
  // Block the stop signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (check) return fedrad::site::RunSiteCheck(config_path);
  // Relative paths in the file are relative to its folder.
  auto loaded = fedrad::site::LoadSiteConfig(config_path);
  if (!loaded.ok()) {
    FEDRAD_LOG(ERROR) << "cannot load the site config: " << loaded.status().message();
    return 1;
  }
  const fedrad::v1::SiteConfig& config = *loaded;
  auto node = fedrad::site::SiteNode::Create(config);
  if (!node.ok()) {
    FEDRAD_LOG(ERROR) << "cannot start the site node: " << node.status().message();
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != 0) {
      FEDRAD_LOG(INFO) << "signal " << sig << ": shutting down";
    }
    (*node)->Shutdown();
    if (sig != 0) {
      // Tasks see the shutdown through ctx.cancelled(); one that does not
      // stop in time must not keep the site from stopping.
      std::thread([] {
        std::this_thread::sleep_for(std::chrono::seconds(20));
        FEDRAD_LOG(ERROR) << "a task did not stop within 20 s of the shutdown; exiting without "
                             "closing the audit log (the next start notes an unclean stop)";
        std::_Exit(1);
      }).detach();
    }
  });
  absl::Status status = (*node)->Run();
  // Wake the waiter if Run() ended on its own.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!status.ok()) {
    FEDRAD_LOG(ERROR) << status.message();
    return 1;
  }
  return 0;
}
