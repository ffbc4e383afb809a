// End-to-end tests of `fedrad pki ...` and `fedrad audit ...`: runs the real
// binary (FEDRAD_BIN_DIR/fedrad) the way an operator or auditor would.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/audit_log.h"
#include "core/hash.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct CmdResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

class SecurityCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedrad_security_cli_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bin_ = std::string(FEDRAD_BIN_DIR) + "/fedrad";
    ASSERT_TRUE(std::filesystem::exists(bin_)) << bin_ << " is not built";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }

  CmdResult Fedrad(const std::string& args) const {
    CmdResult run;
    std::string cmd = "cd '" + dir_ + "' && '" + bin_ + "' " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) return run;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.output.append(buf, n);
    int status = ::pclose(pipe);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void Write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  }

  // CA in ca/, site S1 and the coordinator with keys made by `pki request`.
  void MakePki() {
    CmdResult init = Fedrad("pki init --ca-dir ca --cn 'CRLM study CA' --days 365");
    ASSERT_EQ(init.code, 0) << init.output;
    for (const auto& [cn, role] :
         {std::pair<std::string, std::string>{"S1", "site"}, {"coordinator", "coordinator"}}) {
      CmdResult req = Fedrad("pki request --cn " + cn + " --role " + role + " --key-out " + cn +
                             ".key --csr-out " + cn + ".csr");
      ASSERT_EQ(req.code, 0) << req.output;
      CmdResult sign = Fedrad("pki sign --ca-dir ca --csr " + cn + ".csr --out " + cn +
                              ".crt --expect-cn " + cn + " --expect-role " + role + " --dns " +
                              cn + ".example.org --ip 10.1.2.3 < /dev/null");
      ASSERT_EQ(sign.code, 0) << sign.output;
    }
  }

  std::string dir_, bin_;
};

TEST_F(SecurityCliTest, PkiInitRequestSignShowRevokeRoundTrip) {
  MakePki();
  struct stat st;
  ASSERT_EQ(::stat(P("S1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(::stat(P("ca/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  CmdResult show = Fedrad("pki show S1.crt");
  ASSERT_EQ(show.code, 0) << show.output;
  EXPECT_THAT(show.output,
              AllOf(HasSubstr("common name:  S1"), HasSubstr("role:         site"),
                    HasSubstr("serial:"), HasSubstr("valid until:"), HasSubstr("sha256:"),
                    HasSubstr("S1.example.org"), HasSubstr("localhost"), HasSubstr("10.1.2.3"),
                    HasSubstr("::1"), HasSubstr("CN=CRLM study CA")));

  CmdResult ok = Fedrad("pki verify S1.crt --ca ca/ca.crt --crl ca/crl.pem --key S1.key");
  EXPECT_EQ(ok.code, 0) << ok.output;
  CmdResult wrong_key = Fedrad("pki verify S1.crt --ca ca/ca.crt --key coordinator.key");
  EXPECT_EQ(wrong_key.code, 1) << wrong_key.output;
  EXPECT_THAT(wrong_key.output, HasSubstr("does not match"));

  CmdResult revoke = Fedrad("pki revoke --ca-dir ca --cert S1.crt --reason keyCompromise");
  ASSERT_EQ(revoke.code, 0) << revoke.output;
  CmdResult crl = Fedrad("pki show ca/crl.pem");
  ASSERT_EQ(crl.code, 0) << crl.output;
  EXPECT_THAT(crl.output, AllOf(HasSubstr("revoked:      1"), HasSubstr("keyCompromise")));
  CmdResult revoked = Fedrad("pki verify S1.crt --ca ca/ca.crt --crl ca/crl.pem");
  EXPECT_EQ(revoked.code, 1);
  EXPECT_THAT(revoked.output, AllOf(HasSubstr("S1.crt"), HasSubstr("revoked")));
  CmdResult refreshed = Fedrad("pki crl --ca-dir ca --days 30");
  EXPECT_EQ(refreshed.code, 0) << refreshed.output;
}

// Issue 18: a CSR asking for the coordinator role under a site's name is
// shown, and signed only when the CA holder's expectations match it.
TEST_F(SecurityCliTest, PkiSignShowsTheRequestAndSignsOnlyWhatIsExpected) {
  ASSERT_EQ(Fedrad("pki init --ca-dir ca").code, 0);
  CmdResult req =
      Fedrad("pki request --cn S5 --role coordinator --key-out S5.key --csr-out S5.csr");
  ASSERT_EQ(req.code, 0) << req.output;

  CmdResult show = Fedrad("pki show S5.csr");
  ASSERT_EQ(show.code, 0) << show.output;
  EXPECT_THAT(show.output,
              AllOf(HasSubstr("certificate request"), HasSubstr("common name:  S5"),
                    HasSubstr("role:         coordinator"), HasSubstr("key:          EC P-256"),
                    HasSubstr("signature:    valid")));

  // No expectations and no terminal: refused with advice, nothing written.
  CmdResult blind = Fedrad("pki sign --ca-dir ca --csr S5.csr --out S5.crt < /dev/null");
  EXPECT_EQ(blind.code, 1) << blind.output;
  EXPECT_THAT(blind.output, AllOf(HasSubstr("role:         coordinator"),
                                  HasSubstr("--expect-cn NAME --expect-role ROLE")));
  EXPECT_FALSE(std::filesystem::exists(P("S5.crt")));

  // The site S5 was expected: the role differs.
  CmdResult wrong_role = Fedrad(
      "pki sign --ca-dir ca --csr S5.csr --out S5.crt --expect-cn S5 --expect-role site "
      "< /dev/null");
  EXPECT_EQ(wrong_role.code, 1) << wrong_role.output;
  EXPECT_THAT(wrong_role.output, HasSubstr("role \"coordinator\" (expected \"site\")"));
  EXPECT_FALSE(std::filesystem::exists(P("S5.crt")));
  // Another name was expected.
  CmdResult wrong_cn = Fedrad(
      "pki sign --ca-dir ca --csr S5.csr --out S5.crt --expect-cn coordinator "
      "--expect-role coordinator < /dev/null");
  EXPECT_EQ(wrong_cn.code, 1) << wrong_cn.output;
  EXPECT_THAT(wrong_cn.output, HasSubstr("CN \"S5\" (expected \"coordinator\")"));
  EXPECT_FALSE(std::filesystem::exists(P("S5.crt")));
  // Half an expectation is a usage error.
  EXPECT_EQ(Fedrad("pki sign --ca-dir ca --csr S5.csr --out S5.crt --expect-cn S5").code, 2);

  // What the CA holder expects: signed.
  CmdResult ok = Fedrad(
      "pki sign --ca-dir ca --csr S5.csr --out S5.crt --expect-cn S5 --expect-role coordinator "
      "< /dev/null");
  ASSERT_EQ(ok.code, 0) << ok.output;
  CmdResult cert = Fedrad("pki show S5.crt");
  EXPECT_THAT(cert.output, AllOf(HasSubstr("common name:  S5"), HasSubstr("role:         coordinator")));
}

TEST_F(SecurityCliTest, PkiErrorsNameTheFileAndUsageErrorsExit2) {
  CmdResult missing = Fedrad(
      "pki sign --ca-dir nowhere --csr none.csr --out x.crt --expect-cn S1 --expect-role site");
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.output, HasSubstr("none.csr"));
  CmdResult usage = Fedrad("pki request --cn S1 --role emperor --key-out k --csr-out c");
  EXPECT_EQ(usage.code, 2);
  EXPECT_THAT(usage.output, HasSubstr("emperor"));
  ASSERT_EQ(Fedrad("pki init --ca-dir ca").code, 0);
  CmdResult again = Fedrad("pki init --ca-dir ca");
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.output, HasSubstr("already exists"));
  EXPECT_EQ(Fedrad("pki show").code, 2);
}

TEST_F(SecurityCliTest, AuditVerifyAcceptsAnIntactLogAndNamesATamperedLine) {
  MakePki();
  fedrad::audit::AuditLogOptions o;
  o.path = P("site.jsonl");
  o.node_id = "site:S1";
  o.key_path = P("S1.key");
  o.cert_path = P("S1.crt");
  o.checkpoint_every = 2;
  {
    ASSERT_OK_AND_ASSIGN(auto log, fedrad::audit::AuditLog::Open(o));
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK(log->Append({fedrad::audit::Direction::kSent, "crlm", "t" + std::to_string(i),
                             "coordinator", "cohort.summary", fedrad::Sha256Hex("x"),
                             "cohort summary over 40 patients"}));
    }
  }
  CmdResult ok = Fedrad("audit verify site.jsonl --ca ca/ca.crt");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("OK"));

  CmdResult show = Fedrad("audit show site.jsonl");
  EXPECT_EQ(show.code, 0) << show.output;
  EXPECT_THAT(show.output, AllOf(HasSubstr("integrity OK"), HasSubstr("sent"),
                                 HasSubstr("cohort summary over 40 patients")));

  // Change "40 patients" to "41 patients" in the third record.
  std::string text = Read(P("site.jsonl"));
  size_t at = text.find("40 patients", text.find("\"task\":\"t1\""));
  ASSERT_NE(at, std::string::npos);
  text[at + 1] = '1';
  Write(P("site.jsonl"), text);
  CmdResult bad = Fedrad("audit verify site.jsonl --ca ca/ca.crt");
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_THAT(bad.output,
              AllOf(HasSubstr("FAILED"), HasSubstr("line 3 (seq 2)"), HasSubstr("hash mismatch")));
}

TEST_F(SecurityCliTest, AuditVerifyNeedsLiveForARunningNodeAndCrossCheckWorks) {
  MakePki();
  auto open = [&](const std::string& name, const std::string& node, const std::string& id) {
    fedrad::audit::AuditLogOptions o;
    o.path = P(name);
    o.node_id = node;
    o.key_path = P(id + ".key");
    o.cert_path = P(id + ".crt");
    return fedrad::audit::AuditLog::Open(o);
  };
  auto site = open("site.jsonl", "site:S1", "S1");
  auto coord = open("coord.jsonl", "coordinator", "coordinator");
  ASSERT_OK(site);
  ASSERT_OK(coord);
  using fedrad::audit::Direction;
  std::string task = fedrad::Sha256Hex("task"), result = fedrad::Sha256Hex("result");
  ASSERT_OK((*coord)->Append({Direction::kSent, "crlm", "t1", "S1", "cox.gradient", task, "task"}));
  ASSERT_OK((*site)->Append(
      {Direction::kReceived, "crlm", "t1", "coordinator", "cox.gradient", task, "task"}));
  ASSERT_OK((*site)->Append(
      {Direction::kSent, "crlm", "t1", "coordinator", "cox.gradient", result, "gradient"}));
  ASSERT_OK((*coord)->Append(
      {Direction::kReceived, "crlm", "t1", "S1", "cox.gradient", result, "gradient"}));

  // Both still running.
  CmdResult strict = Fedrad("audit verify site.jsonl");
  EXPECT_EQ(strict.code, 1);
  EXPECT_THAT(strict.output, HasSubstr("does not end with a close record"));
  CmdResult live = Fedrad("audit verify --live site.jsonl");
  EXPECT_EQ(live.code, 0) << live.output;
  EXPECT_THAT(live.output, HasSubstr("2 record(s) follow the last signed record (seq 0)"));
  CmdResult cross = Fedrad("audit cross-check site.jsonl coord.jsonl");
  EXPECT_EQ(cross.code, 0) << cross.output;
  EXPECT_THAT(cross.output, HasSubstr("OK: 2 message(s)"));

  // The coordinator records a result the site never sent.
  ASSERT_OK((*coord)->Append(
      {Direction::kReceived, "crlm", "t2", "S1", "cox.gradient", result, "gradient"}));
  CmdResult mismatch = Fedrad("audit cross-check site.jsonl coord.jsonl");
  EXPECT_EQ(mismatch.code, 1) << mismatch.output;
  EXPECT_THAT(mismatch.output, AllOf(HasSubstr("task t2"), HasSubstr("no matching sent record")));
}

}  // namespace
