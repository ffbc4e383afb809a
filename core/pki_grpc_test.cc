// Checks that certificates made by core/pki.h work with gRPC's SSL
// credentials for mutual TLS over loopback (the way the daemons use them).
// This test links gRPC; the pki library itself does not.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "core/csv.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace fedrad::pki {
namespace {

class PkiGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedrad_pki_grpc_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_OK(InitCa(dir_ + "/ca", {}));
    ASSERT_OK(IssueIdentity(dir_ + "/ca", "coordinator", Role::kCoordinator, dir_));
    ASSERT_OK(IssueIdentity(dir_ + "/ca", "S1", Role::kSite, dir_));
    ASSERT_OK(InitCa(dir_ + "/other", {}));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  std::string Read(const std::string& name) {
    auto text = ReadFileToString(dir_ + "/" + name);
    EXPECT_OK(text);
    return text.ok() ? *text : "";
  }
  // Starts a server requiring and verifying client certificates; returns port.
  int StartServer() {
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = Read("ca/ca.crt");
    options.pem_key_cert_pairs.push_back({Read("coordinator.key"), Read("coordinator.crt")});
    grpc::ServerBuilder builder;
    // A server needs one service; the default generic one answers
    // UNIMPLEMENTED, which is enough to complete handshakes.
    builder.RegisterCallbackGenericService(&generic_);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options), &port);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    return port;
  }
  bool Connects(const std::string& target, const std::string& root, const std::string& key,
                const std::string& cert, int timeout_s = 5) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = root;
    options.pem_private_key = key;
    options.pem_cert_chain = cert;
    auto channel = grpc::CreateChannel(target, grpc::SslCredentials(options));
    return channel->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::seconds(timeout_s));
  }

  std::string dir_;
  grpc::CallbackGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(PkiGrpcTest, MutualTlsHandshakeSucceedsOverLoopbackNames) {
  int port = StartServer();
  ASSERT_GT(port, 0);
  std::string p = std::to_string(port);
  // The SANs cover localhost and 127.0.0.1, so both targets pass the
  // client's host-name check of the server certificate.
  EXPECT_TRUE(Connects("localhost:" + p, Read("ca/ca.crt"), Read("S1.key"), Read("S1.crt")));
  EXPECT_TRUE(Connects("127.0.0.1:" + p, Read("ca/ca.crt"), Read("S1.key"), Read("S1.crt")));
}

TEST_F(PkiGrpcTest, ClientTrustingAnotherCaRefusesTheServer) {
  int port = StartServer();
  ASSERT_GT(port, 0);
  EXPECT_FALSE(Connects("localhost:" + std::to_string(port), Read("other/ca.crt"), Read("S1.key"),
                        Read("S1.crt"), /*timeout_s=*/2));
}

}  // namespace
}  // namespace fedrad::pki
