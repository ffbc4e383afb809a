// fedrad-site: the site daemon. Usage:
//   fedrad-site --config site.textproto          serve until SIGINT/SIGTERM
//   fedrad-site --config site.textproto --check  validate config and data, exit
// See docs/site-operator.md.
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>

#include "core/log.h"
#include "proto/config.pb.h"
#include "proto/textproto.h"
#include "site_node/site_node.h"
#ifdef FEDRAD_HAVE_SITE_CHECK
#include "site_node/site_check.h"
#endif

namespace {

int Usage() {
  std::cerr << "usage: fedrad-site --config SITE.textproto [--check]\n"
               "  --config  the site's configuration (docs/site-operator.md)\n"
               "  --check   validate the configuration and the data table, then exit\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fedrad::SetLogTag("site");
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

#ifdef FEDRAD_HAVE_SITE_CHECK
  if (check) return fedrad::site::RunSiteCheck(config_path);
#endif
  fedrad::v1::SiteConfig config;
  if (absl::Status s = fedrad::ReadTextProto(config_path, &config); !s.ok()) {
    FEDRAD_LOG(ERROR) << "cannot load the site config: " << s.message();
    return 1;
  }
  if (check) {
    auto normalized = fedrad::site::NormalizeSiteConfig(config);
    if (!normalized.ok()) {
      FEDRAD_LOG(ERROR) << normalized.status().message();
      return 1;
    }
    auto table = fedrad::site::LoadSiteTable(normalized->data_csv(), normalized->id_column());
    if (!table.ok()) {
      FEDRAD_LOG(ERROR) << table.status().message();
      return 1;
    }
    std::cout << normalized->data_csv() << ": " << table->num_rows() << " patients, "
              << table->num_columns() << " columns: OK\n";
    return 0;
  }
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
