// The connection flags of the study coordinator's commands (`fedrad study
// submit|status|watch|results|cancel|list|report`) and the Admin client they
// open.
//
//   fedrad::cli::AdminConnection c = fedrad::cli::DeclareAdminConnection(args);
//   if (!args.Finish()) return args.exit_code();
//   FEDRAD_ASSIGN_OR_RETURN(auto client, fedrad::cli::OpenAdminClient(c));
//
// Connection: --admin-config ADMIN.textproto (fedrad.v1.AdminClientConfig),
// or the environment variable FEDRAD_ADMIN_CONFIG, or the flags
// --coordinator HOST:PORT --ca CA.crt --cert ADMIN.crt --key ADMIN.key; a
// flag overrides the config file's field.
#ifndef FEDRAD_CLI_ADMIN_CONNECTION_H_
#define FEDRAD_CLI_ADMIN_CONNECTION_H_

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/command.h"
#include "coordinator/admin_client.h"
#include "proto/textproto.h"

namespace fedrad::cli {

struct AdminConnection {
  std::string admin_config, coordinator, ca, cert, key, server_name;
};

inline AdminConnection DeclareAdminConnection(Args& args) {
  AdminConnection c;
  c.admin_config = args.Flag("admin-config", "",
                             "AdminClientConfig text proto (default $FEDRAD_ADMIN_CONFIG)");
  c.coordinator = args.Flag("coordinator", "", "Coordinator address HOST:PORT");
  c.ca = args.Flag("ca", "", "Study CA certificate (PEM)");
  c.cert = args.Flag("cert", "", "Your admin/auditor certificate (PEM)");
  c.key = args.Flag("key", "", "Your private key (PEM)");
  c.server_name = args.Flag("server-name", "", "Name the coordinator's certificate must carry");
  return c;
}

// Errors: the config file's read/parse error, or AdminClient::Connect's.
inline absl::StatusOr<std::unique_ptr<coordinator::AdminClient>> OpenAdminClient(
    const AdminConnection& c) {
  v1::AdminClientConfig config;
  std::string path = c.admin_config;
  if (path.empty() && std::getenv("FEDRAD_ADMIN_CONFIG") != nullptr) {
    path = std::getenv("FEDRAD_ADMIN_CONFIG");
  }
  if (!path.empty()) {
    if (absl::Status s = ReadTextProto(path, &config); !s.ok()) return s;
  }
  if (!c.coordinator.empty()) config.set_coordinator_address(c.coordinator);
  if (!c.ca.empty()) config.mutable_tls()->set_ca_cert(c.ca);
  if (!c.cert.empty()) config.mutable_tls()->set_cert(c.cert);
  if (!c.key.empty()) config.mutable_tls()->set_key(c.key);
  if (!c.server_name.empty()) config.set_coordinator_name(c.server_name);
  return coordinator::AdminClient::Connect(config);
}

}  // namespace fedrad::cli

#endif  // FEDRAD_CLI_ADMIN_CONNECTION_H_
