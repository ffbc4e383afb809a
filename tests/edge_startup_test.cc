// Trust and failure at the edges (issue 18), with real processes and
// certificates made by the real `fedrad pki` commands:
//   - a site whose certificate is expired, revoked or from another CA exits
//     at start-up naming the config field, and `--check` fails on the same
//     reason; a coordinator that refuses a site's certificate at run time is
//     logged as such;
//   - `--check` verifies the audit log as the service does (damaged: both
//     refuse; held by a running service: said so);
//   - relative paths in site.textproto and coordinator.textproto resolve
//     against the config file's folder, whatever the working directory;
//   - `fedrad study report --audit-log NAME=LOG` takes only NAME's own log,
//     a running node's log only with --live, and records the study's end.
#include <sys/file.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/audit_log.h"
#include "core/hash.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

// Runs argv from folder `cwd` (through /bin/sh), bounded by `seconds`: a
// process that does not end by itself exits 124 (timeout(1)).
int RunIn(const std::string& cwd, const std::vector<std::string>& argv, const std::string& log,
          std::string* output, int seconds = 60) {
  std::string command = "cd '" + cwd + "' && exec timeout " + std::to_string(seconds);
  for (const std::string& a : argv) command += " '" + a + "'";
  return fedrad::testing::Run({"/bin/sh", "-c", command}, log, output);
}

Process StartIn(const std::string& cwd, const std::vector<std::string>& argv,
                const std::string& log) {
  std::string command = "cd '" + cwd + "' && exec";
  for (const std::string& a : argv) command += " '" + a + "'";
  return Start({"/bin/sh", "-c", command}, log);
}

class EdgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = dir_.path();
    fs::create_directories(d_ + "/elsewhere");
    Pki({"init", "--ca-dir", "ca", "--cn", "edge study CA"});
    Pki({"issue", "--ca-dir", "ca", "--cn", "coordinator", "--role", "coordinator", "--out-dir",
         "coord"});
  }

  // `fedrad pki ARGS` in the test folder; must succeed.
  void Pki(std::vector<std::string> args) {
    args.insert(args.begin(), {FedradBin(), "pki"});
    std::string output;
    ASSERT_EQ(RunIn(d_, args, d_ + "/pki.log", &output), 0) << output;
  }

  // A site folder NAME/ holding its key, CSR, certificate (signed by
  // ca_dir with the real `pki request` + `pki sign`), its CRL copy and its
  // data, and NAME/site.textproto with only relative paths.
  void MakeSite(const std::string& name, const std::string& ca_dir = "ca",
                const std::string& address = "127.0.0.1:1") {
    const std::string s = d_ + "/" + name;
    fs::create_directories(s + "/tls");
    fs::create_directories(s + "/data");
    Pki({"request", "--cn", "S1", "--role", "site", "--key-out", name + "/tls/site.key",
         "--csr-out", name + "/tls/site.csr"});
    Pki({"sign", "--ca-dir", ca_dir, "--csr", name + "/tls/site.csr", "--out",
         name + "/tls/site.crt", "--expect-cn", "S1", "--expect-role", "site"});
    fs::copy_file(d_ + "/ca/ca.crt", s + "/tls/ca.crt");
    fs::copy_file(d_ + "/ca/crl.pem", s + "/tls/crl.pem");
    WriteCohortCsv(s + "/data/cohort.csv", "S1", 30, 7);
    WriteSiteConfig(name, address);
  }
  void WriteSiteConfig(const std::string& name, const std::string& address) {
    WriteAll(d_ + "/" + name + "/site.textproto",
             "coordinator_address: \"" + address +
                 "\"\n"
                 "tls { ca_cert: \"tls/ca.crt\" cert: \"tls/site.crt\" key: \"tls/site.key\" "
                 "crl: \"tls/crl.pem\" }\n"
                 "data_csv: \"data/cohort.csv\"\n"
                 "output_dir: \"output\"\n"
                 "audit_log: \"audit/site.log\"\n"
                 "state_dir: \"state\"\n"
                 "reconnect_max_seconds: 1\n");
  }
  std::string Config(const std::string& name) const { return d_ + "/" + name + "/site.textproto"; }

  // The daemon from another folder, bounded: start-up failures end it.
  int Serve(const std::string& name, std::string* output) {
    return RunIn(d_ + "/elsewhere", {BinDir() + "/fedrad-site", "--config", Config(name)},
                 d_ + "/" + name + ".serve.log", output, 30);
  }
  int Check(const std::string& name, std::string* output) {
    return RunIn(d_ + "/elsewhere",
                 {BinDir() + "/fedrad-site", "--config", Config(name), "--check"},
                 d_ + "/" + name + ".check.log", output, 60);
  }

  TempDir dir_{"edge"};
  std::string d_;
};

TEST_F(EdgeTest, ExpiredRevokedOrForeignCertificateStopsTheSiteAtStartup) {
  // Expired: signed by the study CA for one day, three days ago (the CLI
  // makes only current certificates; core/pki's test hook shifts notBefore).
  MakeSite("expired");
  {
    pki::SignOptions o;
    o.validity_days = 1;
    o.not_before_offset_seconds = -3 * 86400;
    o.expect_common_name = "S1";
    o.expect_role = "site";
    fs::remove(d_ + "/expired/tls/site.crt");
    ASSERT_OK(
        pki::SignCsr(d_ + "/ca", d_ + "/expired/tls/site.csr", d_ + "/expired/tls/site.crt", o));
  }
  // Revoked: the CA revokes it and the site has the new CRL.
  MakeSite("revoked");
  Pki({"revoke", "--ca-dir", "ca", "--cert", "revoked/tls/site.crt", "--reason",
       "keyCompromise"});
  fs::copy_file(d_ + "/ca/crl.pem", d_ + "/revoked/tls/crl.pem",
                fs::copy_options::overwrite_existing);
  // From another study's CA, with this study's ca.crt and CRL configured.
  Pki({"init", "--ca-dir", "other-ca", "--cn", "another study CA"});
  MakeSite("foreign", "other-ca");

  const struct {
    std::string site, field, reason;
  } cases[] = {
      {"expired", "tls.cert", "expired on"},
      {"revoked", "tls.cert", "is revoked"},
      {"foreign", "tls.cert", "not issued by this study's CA"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.site);
    std::string output;
    EXPECT_EQ(Serve(c.site, &output), 1) << output;  // not 124: it did not keep retrying
    EXPECT_THAT(output, AllOf(HasSubstr("cannot start the site node"), HasSubstr(c.field),
                              HasSubstr(c.site + "/tls/site.crt"), HasSubstr(c.reason),
                              HasSubstr("run fedrad-site --check")));
    EXPECT_THAT(output, Not(HasSubstr("Socket closed")));
    // --check fails on the same reason, in its local steps.
    EXPECT_EQ(Check(c.site, &output), 1) << output;
    EXPECT_THAT(output, AllOf(HasSubstr("[FAIL]"), HasSubstr(c.reason)));
    if (c.site == "foreign") {
      EXPECT_THAT(output, Not(HasSubstr("CRL"))) << "the chain is checked before the CRL";
    }
  }
}

TEST_F(EdgeTest, CoordinatorRefusingTheSiteCertificateIsLoggedAsSuch) {
  // The coordinator's config uses relative paths and is started from
  // another folder: its files land beside the config.
  fs::create_directories(d_ + "/coordinator");
  WriteAll(d_ + "/coordinator/coordinator.textproto",
           "listen_address: \"127.0.0.1:0\"\n"
           "tls { ca_cert: \"../ca/ca.crt\" cert: \"../coord/coordinator.crt\" key: "
           "\"../coord/coordinator.key\" crl: \"../ca/crl.pem\" }\n"
           "data_dir: \"data\"\naudit_log: \"audit/coordinator.log\"\nport_file: \"port\"\n");
  Process coordinator =
      StartIn(d_ + "/elsewhere",
              {BinDir() + "/fedrad-coordinator", "--config", d_ + "/coordinator/coordinator.textproto"},
              d_ + "/coordinator.log");
  std::string port;
  ASSERT_TRUE(WaitFor([&] {
    port = ReadAll(d_ + "/coordinator/port");
    return !port.empty() && port.back() == '\n';
  }, 30)) << ReadAll(d_ + "/coordinator.log");
  port.pop_back();
  EXPECT_TRUE(fs::exists(d_ + "/coordinator/audit/coordinator.log"));
  EXPECT_FALSE(fs::exists(d_ + "/elsewhere/port"));

  // The site still holds the CRL from before its revocation: it starts, and
  // the coordinator (whose CRL is current) refuses it in the handshake.
  MakeSite("S1", "ca", "127.0.0.1:" + port);
  Pki({"revoke", "--ca-dir", "ca", "--cert", "S1/tls/site.crt"});
  Process site = StartIn(d_ + "/elsewhere", {BinDir() + "/fedrad-site", "--config", Config("S1")},
                         d_ + "/S1.serve.log");
  EXPECT_TRUE(WaitFor([&] {
    return ReadAll(d_ + "/S1.serve.log").find("run fedrad-site --check") != std::string::npos;
  }, 30));
  Terminate(site);
  Terminate(coordinator);
  EXPECT_THAT(ReadAll(d_ + "/S1.serve.log"),
              HasSubstr("the coordinator refused this site's certificate ("));
}

TEST_F(EdgeTest, CheckVerifiesTheAuditLogAsTheServiceDoes) {
  MakeSite("S1");
  const std::string log_path = d_ + "/S1/audit/site.log";
  fs::create_directories(d_ + "/S1/audit");
  audit::AuditLogOptions o;
  o.path = log_path;
  o.node_id = "site:S1";
  o.key_path = d_ + "/S1/tls/site.key";
  o.cert_path = d_ + "/S1/tls/site.crt";
  {
    ASSERT_OK_AND_ASSIGN(auto log, audit::AuditLog::Open(o));
    ASSERT_OK(log->Append({audit::Direction::kSent, "s", "t1", "coordinator", "cohort.summary",
                           Sha256Hex("x"), "cohort summary over 30 patients"}));
  }
  std::string output;
  Check("S1", &output);
  EXPECT_THAT(output, HasSubstr("its records verify")) << output;
  EXPECT_THAT(output, HasSubstr("[ OK ] storage"));

  // Held by a running node (this process, as the service would): said so.
  {
    auto log = audit::AuditLog::Open(o);
    ASSERT_OK(log);
    Check("S1", &output);
    EXPECT_THAT(output, HasSubstr("held by a running fedrad-site")) << output;
  }

  // One character of a summary changed: the service refuses to start, and
  // --check fails its storage step on the same reason.
  std::string text = ReadAll(log_path);
  size_t at = text.find("30 patients");
  ASSERT_NE(at, std::string::npos);
  text[at] = '4';
  WriteAll(log_path, text);
  EXPECT_EQ(Serve("S1", &output), 1) << output;
  EXPECT_THAT(output, AllOf(HasSubstr("is damaged"), HasSubstr(log_path)));
  EXPECT_EQ(Check("S1", &output), 1) << output;
  EXPECT_THAT(output, AllOf(HasSubstr("[FAIL] storage"), HasSubstr("is damaged")));
}

TEST_F(EdgeTest, RelativeSitePathsResolveAgainstTheConfigFolder) {
  MakeSite("S1");
  std::string output;
  // --check from another folder finds the data, key and CA beside the config.
  Check("S1", &output);
  EXPECT_THAT(output, AllOf(HasSubstr("[ OK ] data"), HasSubstr(d_ + "/S1/data/cohort.csv"),
                            HasSubstr("[ OK ] key"), HasSubstr("[ OK ] cert"),
                            HasSubstr(d_ + "/S1/audit/site.log")))
      << output;
  // approve (from another folder) writes the state and the audit log there.
  WriteAll(d_ + "/study.textproto", "name: \"edge\" sites: \"S1\" cohort_summary { enabled: true }\n");
  EXPECT_EQ(RunIn(d_ + "/elsewhere",
                  {BinDir() + "/fedrad-site", "approve", "--config", Config("S1"),
                   d_ + "/study.textproto"},
                  d_ + "/approve.log", &output),
            0)
      << output;
  EXPECT_TRUE(fs::exists(d_ + "/S1/state/approvals.textproto"));
  EXPECT_TRUE(fs::exists(d_ + "/S1/audit/site.log"));
  EXPECT_FALSE(fs::exists(d_ + "/elsewhere/state"));
  EXPECT_FALSE(fs::exists(d_ + "/elsewhere/audit"));
}

TEST(EdgeReport, StudyReportTakesOnlyTheSitesOwnLogAndRecordsTheStudyEnd) {
  TempDir dir("edge-report");
  const std::string d = dir.path();
  WriteCohortCsv(d + "/S1.csv", "S1", 40, 1);
  WriteCohortCsv(d + "/S2.csv", "S2", 40, 2);
  SandboxRun run = RunSandbox({{"S1", d + "/S1.csv"}, {"S2", d + "/S2.csv"}},
                              "name: \"edge\" cohort_summary { enabled: true columns: \"age\" }\n",
                              d + "/out", {"--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string id = run.results["study"]["id"].get<std::string>();
  const std::string out = d + "/out";
  const std::string s1_log = out + "/audit/S1.log", s2_log = out + "/audit/S2.log";

  // The study's end in S1's log: its last record of the study, not the
  // closing record that ends the file.
  auto records = audit::ReadRecords(s1_log);
  ASSERT_OK(records);
  ASSERT_OK_AND_ASSIGN(auto end, audit::LastRecordOfStudy(*records, id));
  EXPECT_NE(end.hash, records->back().hash);
  EXPECT_EQ(records->back().type, "close");
  EXPECT_EQ(run.results["provenance"]["audit_log_heads"]["S1"], end.hash);

  fs::remove(out + "/coordinator/port");
  Process coordinator =
      Start({BinDir() + "/fedrad-coordinator", "--config", out + "/config/coordinator.textproto"},
            d + "/coordinator.log");
  std::string port;
  ASSERT_TRUE(WaitFor([&] {
    port = ReadAll(out + "/coordinator/port");
    return !port.empty() && port.back() == '\n';
  }, 30)) << ReadAll(d + "/coordinator.log");
  port.pop_back();
  auto report = [&](const std::vector<std::string>& extra, std::string* output) {
    std::vector<std::string> argv = {FedradBin(), "study", "report", id, "--out",
                                     d + "/report.html", "--results-out", d + "/results.json",
                                     "--admin-config", out + "/config/admin.textproto",
                                     "--coordinator", "127.0.0.1:" + port};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return fedrad::testing::Run(argv, d + "/report.log", output);
  };

  std::string output;
  // S2's log given as S1's.
  EXPECT_EQ(report({"--audit-log", "S1=" + s2_log}, &output), 1);
  EXPECT_THAT(output, AllOf(HasSubstr("is not S1's"), HasSubstr("signed by S2")));

  // S1's own log: accepted, the head is the study's end.
  ASSERT_EQ(report({"--audit-log", "S1=" + s1_log}, &output), 0) << output;
  auto fetched = nlohmann::json::parse(ReadAll(d + "/results.json"));
  EXPECT_EQ(fetched["provenance"]["audit_log_heads"]["S1"], end.hash);

  // A running site's log (no close record yet): refused without --live,
  // accepted with it, the same head.
  std::string text = ReadAll(s1_log);
  text.pop_back();
  text = text.substr(0, text.rfind('\n') + 1);
  WriteAll(d + "/S1-live.log", text);
  EXPECT_EQ(report({"--audit-log", "S1=" + d + "/S1-live.log"}, &output), 1);
  EXPECT_THAT(output, AllOf(HasSubstr("no final close record"), HasSubstr("--live")));
  ASSERT_EQ(report({"--live", "--audit-log", "S1=" + d + "/S1-live.log"}, &output), 0) << output;
  fetched = nlohmann::json::parse(ReadAll(d + "/results.json"));
  EXPECT_EQ(fetched["provenance"]["audit_log_heads"]["S1"], end.hash);
  Terminate(coordinator);
}

}  // namespace
}  // namespace fedrad::testing
