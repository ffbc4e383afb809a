// fedrad-coordinator: the coordinator daemon. Usage:
//   fedrad-coordinator --config coordinator.textproto
// Serves until SIGINT/SIGTERM. Relative paths in the file are relative to
// its folder. See docs/study-coordinator.md.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "coordinator/coordinator.h"
#include "core/log.h"
#include "proto/config.pb.h"
#include "proto/textproto.h"

namespace {

// Paths in the config file (defaults included) are relative to the file's
// folder, not to the working directory: the same file means the same files
// whichever folder the daemon is started from.
fedrad::v1::CoordinatorConfig ResolvePaths(fedrad::v1::CoordinatorConfig config,
                                           const std::filesystem::path& base) {
  auto resolve = [&](const std::string& path) -> std::string {
    if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
    return (base / path).lexically_normal().string();
  };
  config.set_data_dir(resolve(config.data_dir()));
  config.set_audit_log(resolve(config.audit_log()));
  config.set_port_file(resolve(config.port_file()));
  fedrad::v1::TlsConfig* tls = config.mutable_tls();
  tls->set_ca_cert(resolve(tls->ca_cert()));
  tls->set_cert(resolve(tls->cert()));
  tls->set_key(resolve(tls->key()));
  tls->set_crl(resolve(tls->crl()));
  return config;
}

}  // namespace

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

  fedrad::v1::CoordinatorConfig raw;
  if (absl::Status s = fedrad::ReadTextProto(config_path, &raw); !s.ok()) {
    FEDRAD_LOG(ERROR) << "cannot load the coordinator config: " << s.message();
    return 1;
  }
  auto normalized = fedrad::coordinator::NormalizeCoordinatorConfig(raw);
  if (!normalized.ok()) {
    FEDRAD_LOG(ERROR) << "cannot load the coordinator config: " << normalized.status().message();
    return 1;
  }
  const fedrad::v1::CoordinatorConfig config =
      ResolvePaths(*normalized, std::filesystem::absolute(config_path).parent_path());
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
