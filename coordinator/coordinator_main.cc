// fedrad-coordinator: the coordinator daemon. Usage:
//   fedrad-coordinator --config coordinator.textproto
// Serves until SIGINT/SIGTERM. See docs/study-coordinator.md.
#include <signal.h>

#include <iostream>
#include <string>

#include "coordinator/coordinator.h"
#include "core/log.h"
#include "proto/config.pb.h"
#include "proto/textproto.h"

int main(int argc, char** argv) {
  fedrad::SetLogTag("coordinator");
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: fedrad-coordinator --config COORDINATOR.textproto\n";
      return 0;
    } else {
      std::cerr << "fedrad-coordinator: unknown argument '" << a << "'\n";
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "usage: fedrad-coordinator --config COORDINATOR.textproto\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  fedrad::v1::CoordinatorConfig config;
  if (absl::Status s = fedrad::ReadTextProto(config_path, &config); !s.ok()) {
    FEDRAD_LOG(ERROR) << "cannot load the coordinator config: " << s.message();
    return 1;
  }
  auto coordinator = fedrad::coordinator::Coordinator::Create(config);
  if (!coordinator.ok()) {
    FEDRAD_LOG(ERROR) << "cannot start the coordinator: " << coordinator.status().message();
    return 1;
  }
  if (absl::Status s = (*coordinator)->Start(); !s.ok()) {
    FEDRAD_LOG(ERROR) << s.message();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  FEDRAD_LOG(INFO) << "signal " << sig << ": shutting down";
  (*coordinator)->Shutdown();
  return 0;
}
