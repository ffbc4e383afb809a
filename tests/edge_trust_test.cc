// Trust at the edges (issue 18), with real fedrad-coordinator, fedrad-site
// and fedrad processes on loopback and certificates made by `fedrad pki`:
//
//  * a site revoked with `fedrad pki revoke` while it is connected is cut
//    off at once: a study submitted right after runs without it and says
//    why; a site revoked in the middle of a study is excluded, saying why;
//  * a site and the admin CLI refuse a server whose certificate is for
//    another name, or has another role than coordinator, naming both;
//  * a CA file from another study is blamed on tls.ca_cert (not on the
//    CRL), by `fedrad-site --check` and by the service's log.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class EdgeTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("edge-trust");
    d_ = dir_->path();
    Pki({"init", "--ca-dir", d_ + "/ca", "--cn", "study CA"});
  }
  void TearDown() override { StopAll(); }
  void StopAll() {
    for (Process& p : sites_) Terminate(p);
    sites_.clear();
    Terminate(coordinator_);
    fs::remove(d_ + "/port");
  }

  // `fedrad pki ARGS...`; the test fails if it does.
  std::string Pki(std::vector<std::string> args) {
    args.insert(args.begin(), {FedradBin(), "pki"});
    std::string out;
    EXPECT_EQ(fedrad::testing::Run(args, d_ + "/pki.log", &out), 0) << out;
    return out;
  }
  // A key and a certificate for `cn` in d_/certs (the tests' one-step
  // enrolment; a real node runs `pki request` and the CA `pki sign`).
  void Issue(const std::string& cn, const std::string& role, const std::string& ca = "ca") {
    Pki({"issue", "--ca-dir", d_ + "/" + ca, "--cn", cn, "--role", role, "--out-dir",
         d_ + "/" + ca + "-certs"});
  }
  std::string Cert(const std::string& cn, const std::string& ca = "ca") {
    return d_ + "/" + ca + "-certs/" + cn + ".crt";
  }
  std::string Key(const std::string& cn, const std::string& ca = "ca") {
    return d_ + "/" + ca + "-certs/" + cn + ".key";
  }

  // Starts fedrad-coordinator with the identity `cn` (from `ca`'s folder).
  void StartCoordinator(const std::string& cn, const std::string& ca = "ca") {
    WriteAll(d_ + "/coordinator.textproto",
             "listen_address: \"127.0.0.1:0\"\n"
             "tls { ca_cert: \"" + d_ + "/ca/ca.crt\" crl: \"" + d_ + "/ca/crl.pem\" cert: \"" +
                 Cert(cn, ca) + "\" key: \"" + Key(cn, ca) + "\" }\n"
             "data_dir: \"" + d_ + "/data\"\naudit_log: \"" + d_ + "/audit/coordinator.log\"\n"
             "port_file: \"" + d_ + "/port\"\nsite_wait_seconds: 20\n");
    coordinator_log_ = d_ + "/coordinator.log";
    coordinator_ = Start({BinDir() + "/fedrad-coordinator", "--config", d_ + "/coordinator.textproto"},
                         coordinator_log_);
    ASSERT_TRUE(WaitFor([&] { return ReadAll(d_ + "/port").find('\n') != std::string::npos; }, 30))
        << ReadAll(coordinator_log_);
    address_ = "127.0.0.1:" + std::to_string(std::atoi(ReadAll(d_ + "/port").c_str()));
  }

  // Writes site `name`'s config (pinned to the coordinator "coordinator").
  std::string SiteConfig(const std::string& name, const std::string& ca_cert = "") {
    WriteCohortCsv(d_ + "/" + name + ".csv", name, 40, name.back());
    const std::string path = d_ + "/" + name + ".textproto";
    WriteAll(path, "coordinator_address: \"" + address_ + "\"\ncoordinator_name: \"coordinator\"\n"
                   "tls { ca_cert: \"" + (ca_cert.empty() ? d_ + "/ca/ca.crt" : ca_cert) +
                       "\" crl: \"" + d_ + "/ca/crl.pem\" cert: \"" + Cert(name) + "\" key: \"" +
                       Key(name) + "\" }\n"
                   "data_csv: \"" + d_ + "/" + name + ".csv\"\noutput_dir: \"" + d_ + "/out-" +
                       name + "\"\naudit_log: \"" + d_ + "/audit/" + name + ".log\"\n"
                   "state_dir: \"" + d_ + "/state-" + name + "\"\nheartbeat_seconds: 1\n"
                   "reconnect_initial_seconds: 0.2\nreconnect_max_seconds: 1\n"
                   "policy { min_cell_count: 10 enable_debug_tasks: true }\n");
    return path;
  }
  std::string SiteLog(const std::string& name) { return d_ + "/" + name + ".service.log"; }
  void StartSite(const std::string& name) {
    sites_.push_back(Start({BinDir() + "/fedrad-site", "--config", d_ + "/" + name + ".textproto"},
                           SiteLog(name)));
  }

  // `fedrad study ARGS... --admin-config` as `admin`; returns the exit code.
  int Study(std::vector<std::string> args, std::string* out, const std::string& admin = "alice") {
    const std::string config = d_ + "/" + admin + ".admin.textproto";
    WriteAll(config, "coordinator_address: \"" + address_ + "\"\ncoordinator_name: \"coordinator\"\n"
                     "tls { ca_cert: \"" + d_ + "/ca/ca.crt\" crl: \"" + d_ + "/ca/crl.pem\" cert: \"" +
                         Cert(admin) + "\" key: \"" + Key(admin) + "\" }\n");
    args.insert(args.begin(), {FedradBin(), "study"});
    args.insert(args.end(), {"--admin-config", config});
    return fedrad::testing::Run(args, d_ + "/study-" + args[2] + ".log", out);
  }

  // Submits the spec at `path` and waits for its end; returns results.json.
  nlohmann::json RunStudy(const std::string& path, std::string* id) {
    std::string out;
    EXPECT_EQ(Study({"submit", path}, &out), 0) << out;
    *id = out.substr(0, out.find('\n'));
    Study({"watch", *id}, &out);
    EXPECT_EQ(Study({"results", *id, "--out", d_ + "/" + *id + ".json"}, &out), 0) << out;
    return nlohmann::json::parse(ReadAll(d_ + "/" + *id + ".json"), nullptr, false);
  }

  std::unique_ptr<TempDir> dir_;
  std::string d_, address_, coordinator_log_;
  Process coordinator_;
  std::vector<Process> sites_;
};

// Row 1: "revoked S3 (keyCompromise) while it was connected, then submitted
// a study -> S3 took part". Now the coordinator re-reads its CRL when it
// changes and drops the live stream; the study runs without S3 and says why.
TEST_F(EdgeTrust, RevokedWhileConnectedIsCutOffAtOnce) {
  for (const char* s : {"S1", "S2", "S3"}) Issue(s, "site");
  Issue("coordinator", "coordinator");
  Issue("alice", "admin");
  Issue("bob", "admin");
  StartCoordinator("coordinator");
  const std::string spec = d_ + "/study.textproto";
  WriteAll(spec, "name: \"revocation\"\nsites: \"S1\"\nsites: \"S2\"\nsites: \"S3\"\n"
                 "quorum { min_sites: 2 task_timeout_seconds: 30 }\n"
                 "debug { sleep_rounds: 1 sleep_seconds: 0.05 vector_rounds: 0 }\n");
  for (const char* s : {"S1", "S2", "S3"}) {
    std::string out;
    ASSERT_TRUE(ApproveStudy(SiteConfig(s), spec, d_ + "/approve-" + s + ".log", &out)) << out;
    StartSite(s);
  }
  for (const char* s : {"S1", "S2", "S3"}) {
    ASSERT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(coordinator_log_),
                                                       absl::StrCat("site ", s, " connected")); },
                        30))
        << ReadAll(coordinator_log_) << ReadAll(SiteLog(s));
  }

  // Revoke S3 while its stream is live, then submit at once.
  Pki({"revoke", "--ca-dir", d_ + "/ca", "--cert", Cert("S3"), "--reason", "keyCompromise"});
  std::string id;
  nlohmann::json results = RunStudy(spec, &id);
  ASSERT_FALSE(results.is_discarded()) << ReadAll(coordinator_log_);
  EXPECT_EQ(results["study"]["state"], "SUCCEEDED") << results["study"].dump(2);
  EXPECT_EQ(results["study"]["completed_sites"], nlohmann::json({"S1", "S2"}));
  EXPECT_THAT(results["study"]["excluded_sites"].value("S3", ""),
              HasSubstr("certificate revoked (serial "));
  EXPECT_THAT(results["study"]["excluded_sites"].value("S3", ""), HasSubstr("keyCompromise"));
  EXPECT_THAT(results["study"]["message"].get<std::string>(), HasSubstr("S3: certificate revoked"));
  std::string status;
  EXPECT_EQ(Study({"status", id}, &status), 0) << status;
  EXPECT_THAT(status, HasSubstr("certificate revoked"));

  // The coordinator says so in its log and in its audit log; S3 received
  // nothing of the study; S3's own log names the reason.
  const std::string log = ReadAll(coordinator_log_);
  EXPECT_THAT(log, HasSubstr("site S3: certificate revoked (serial "));
  EXPECT_THAT(log, HasSubstr("its stream is dropped"));
  const std::string audit = ReadAll(d_ + "/audit/coordinator.log");
  EXPECT_THAT(audit, HasSubstr("connect.revoked"));
  EXPECT_THAT(audit, HasSubstr("dropped the stream of site S3: certificate revoked"));
  EXPECT_THAT(ReadAll(d_ + "/audit/S3.log"), Not(HasSubstr(id)));
  EXPECT_THAT(ReadAll(d_ + "/audit/S1.log"), HasSubstr(id));
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(SiteLog("S3")),
                                                     "lost: the coordinator dropped this stream: "
                                                     "this site's certificate revoked (serial"); },
                      10))
      << ReadAll(SiteLog("S3"));

  // S3 cannot come back: each new handshake is refused, with the reason.
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(coordinator_log_),
                                                     "refused TLS peer CN=S3: certificate CN=S3 revoked"); },
                      15))
      << ReadAll(coordinator_log_);

  // In the middle of a study: S2 is revoked while the study's rounds run;
  // the study goes on without it and says why.
  const std::string spec2 = d_ + "/study2.textproto";
  WriteAll(spec2, "name: \"midway\"\nsites: \"S1\"\nsites: \"S2\"\n"
                  "quorum { min_sites: 1 task_timeout_seconds: 60 }\n"
                  "debug { sleep_rounds: 40 sleep_seconds: 0.1 vector_rounds: 0 }\n");
  for (const char* s : {"S1", "S2"}) {
    std::string out;
    ASSERT_TRUE(ApproveStudy(d_ + "/" + s + ".textproto", spec2, d_ + "/approve2-" + s + ".log",
                             &out))
        << out;
  }
  std::string out;
  ASSERT_EQ(Study({"submit", spec2}, &out), 0) << out;
  const std::string id2 = out.substr(0, out.find('\n'));
  // Once S2 has answered a round, revoke it.
  ASSERT_TRUE(WaitFor([&] { return Count(ReadAll(d_ + "/audit/S2.log"), id2) >= 4; }, 30))
      << ReadAll(SiteLog("S2"));
  Pki({"revoke", "--ca-dir", d_ + "/ca", "--cert", Cert("S2"), "--reason", "superseded"});
  Study({"watch", id2}, &out);
  ASSERT_EQ(Study({"results", id2, "--out", d_ + "/midway.json"}, &out), 0) << out;
  nlohmann::json midway = nlohmann::json::parse(ReadAll(d_ + "/midway.json"), nullptr, false);
  ASSERT_FALSE(midway.is_discarded());
  EXPECT_EQ(midway["study"]["state"], "SUCCEEDED") << midway["study"].dump(2);
  EXPECT_EQ(midway["study"]["completed_sites"], nlohmann::json({"S1"}));
  EXPECT_THAT(midway["study"]["excluded_sites"].value("S2", ""),
              HasSubstr("certificate revoked (serial "));
  EXPECT_THAT(midway["study"]["excluded_sites"].value("S2", ""), HasSubstr("superseded"));

  // An admin revoked is refused too, saying why.
  Pki({"revoke", "--ca-dir", d_ + "/ca", "--cert", Cert("bob")});
  EXPECT_NE(Study({"list"}, &out, "bob"), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadAll(coordinator_log_),
                                                     "CN=bob: certificate CN=bob revoked"); },
                      10))
      << ReadAll(coordinator_log_);
  EXPECT_EQ(Study({"list"}, &out), 0) << out;  // alice still may
}

// Row 2: a coordinator-role certificate for another name, and a
// certificate for the right name but another role: the site and the admin
// CLI refuse both, naming what they expected and what they were shown.
TEST_F(EdgeTrust, SitesAndAdminCliPinTheCoordinatorsNameAndRole) {
  Issue("S1", "site");
  Issue("alice", "admin");
  Issue("impostor", "coordinator");  // valid, right role, wrong name
  StartCoordinator("impostor");
  SiteConfig("S1");
  StartSite("S1");
  EXPECT_TRUE(WaitFor([&] {
    const std::string log = ReadAll(SiteLog("S1"));
    return absl::StrContains(log, "coordinator_name: ") &&
           absl::StrContains(log, "expected a certificate for 'coordinator'") &&
           absl::StrContains(log, "CN=impostor (role coordinator");
  }, 30)) << ReadAll(SiteLog("S1"));
  EXPECT_THAT(ReadAll(SiteLog("S1")), Not(HasSubstr("as site 'S1'")));
  EXPECT_THAT(ReadAll(coordinator_log_), Not(HasSubstr("site S1 connected")));
  std::string out;
  EXPECT_NE(Study({"list"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("expected a certificate for 'coordinator'"));
  EXPECT_THAT(out, HasSubstr("CN=impostor (role coordinator"));
  // --server-name is checked the same way.
  EXPECT_NE(fedrad::testing::Run({FedradBin(), "study", "list", "--coordinator", address_, "--ca",
                                  d_ + "/ca/ca.crt", "--cert", Cert("alice"), "--key", Key("alice"),
                                  "--server-name", "fedrad.example.org"},
                                 d_ + "/server-name.log", &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("expected a certificate for 'fedrad.example.org'"));
  // Dialled by a name it does carry, the same server is accepted: the check
  // is the name, not something else about this certificate.
  EXPECT_EQ(fedrad::testing::Run({FedradBin(), "study", "list", "--coordinator", address_, "--ca",
                                  d_ + "/ca/ca.crt", "--cert", Cert("alice"), "--key", Key("alice"),
                                  "--server-name", "impostor"},
                                 d_ + "/right-name.log", &out),
            0)
      << out;
  StopAll();

  // The right name, the wrong role: a site certificate called "coordinator".
  Issue("coordinator", "site");
  StartCoordinator("coordinator");
  SiteConfig("S1");
  StartSite("S1");
  EXPECT_TRUE(WaitFor([&] {
    const std::string log = ReadAll(SiteLog("S1"));
    return absl::StrContains(log, "coordinator_address: ") &&
           absl::StrContains(log, "certificate CN=coordinator has role 'site', expected 'coordinator'");
  }, 30)) << ReadAll(SiteLog("S1"));
  EXPECT_THAT(ReadAll(SiteLog("S1")), Not(HasSubstr("as site 'S1'")));
  EXPECT_NE(Study({"list"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("certificate CN=coordinator has role 'site', expected 'coordinator'"));
  // fedrad-site --check agrees with the service.
  EXPECT_NE(fedrad::testing::Run({BinDir() + "/fedrad-site", "--check", "--config",
                                  d_ + "/S1.textproto"},
                                 d_ + "/check-role.log", &out),
            0);
  EXPECT_THAT(out, HasSubstr("has role 'site', expected 'coordinator'")) << out;
}

// Row 3: trust errors are said in terms of the config field to fix, and the
// chain is checked before the CRL.
TEST_F(EdgeTrust, ChainBeforeCrlAndErrorsNameTheConfigField) {
  Issue("S1", "site");
  Issue("alice", "admin");
  // Another study's CA and its coordinator, on the same name.
  Pki({"init", "--ca-dir", d_ + "/other", "--cn", "other study CA"});
  Issue("coordinator", "coordinator", "other");
  StartCoordinator("coordinator", "other");

  // The site dials the other study's coordinator: its certificate does not
  // chain to this site's CA. The service's log names tls.ca_cert, not the
  // CRL, and no raw OpenSSL text.
  SiteConfig("S1");
  StartSite("S1");
  EXPECT_TRUE(WaitFor([&] {
    const std::string log = ReadAll(SiteLog("S1"));
    return absl::StrContains(log,
                             "failed: tls.ca_cert: the coordinator's certificate is not signed by "
                             "this CA ('" + d_ + "/ca/ca.crt'): certificate CN=coordinator not "
                             "issued by this study's CA (issuer other study CA)");
  }, 30)) << ReadAll(SiteLog("S1"));
  const std::string service = ReadAll(SiteLog("S1"));
  EXPECT_THAT(service, Not(HasSubstr("failed: tls.crl")));
  EXPECT_THAT(service, Not(HasSubstr("failed to connect to all addresses")));
  // --check says the same in its tls step.
  std::string out;
  EXPECT_NE(fedrad::testing::Run({BinDir() + "/fedrad-site", "--check", "--config",
                                  d_ + "/S1.textproto"},
                                 d_ + "/check-chain.log", &out),
            0);
  EXPECT_THAT(out, HasSubstr("tls.ca_cert: the coordinator's certificate is not signed by this CA "
                             "('" + d_ + "/ca/ca.crt'): certificate CN=coordinator not issued by "
                             "this study's CA (issuer other study CA)"))
      << out;
  StopAll();

  // The issue's case: the site's CA file is another study's, with this
  // study's CRL configured. The chain is what is wrong, and --check says so
  // instead of blaming the CRL (which the other CA did not sign).
  SiteConfig("S1", d_ + "/other/ca.crt");
  EXPECT_NE(fedrad::testing::Run({BinDir() + "/fedrad-site", "--check", "--config",
                                  d_ + "/S1.textproto"},
                                 d_ + "/check-ca.log", &out),
            0);
  EXPECT_THAT(out, HasSubstr("not issued by this study's CA")) << out;
  EXPECT_THAT(out, Not(HasSubstr("is not signed by the CA"))) << out;
}

}  // namespace
}  // namespace fedrad::testing
