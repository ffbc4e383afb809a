// Secure aggregation through real processes (`fedrad sandbox`: a coordinator
// and four sites on loopback with mutual TLS; docs/secure-aggregation.md):
//   - the example studies (logistic, stratified Cox, leave-one-site-out
//     validation, ComBat, cohort summary) with `secure_aggregation: true` give the same
//     results.json as without it, every number within 1e-10 relative
//     (timing keys and provenance ignored), and `fedrad audit replay` of the
//     secure run's logs recomputes its fits / ComBat estimates (issue 12:
//     secure rounds are verifiable rounds too);
//   - three sites or fewer are refused with the rule's name;
//   - a site killed (SIGKILL) after it sent its masked contribution, or
//     before it masked, does not stop the round: the sum over the others is
//     exact and results.json names the excluded site.
// Data: models/testdata/site_{A,B,C}.csv plus a fourth site D made here from
// site_C (ids renamed, times + 1, x1 negated); harmonization/testdata for
// ComBat; WriteCohortCsv for the cohort summary.
#include <signal.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using nlohmann::json;
using Sites = std::vector<std::pair<std::string, std::string>>;

std::string Source(const std::string& rel) { return std::string(FEDRAD_SOURCE_DIR) + "/" + rel; }

// The example study with its sites replaced by `sites` and, if `secure`,
// secure_aggregation set.
std::string Study(const std::string& example, const Sites& sites, bool secure,
                  const std::string& extra = "") {
  std::stringstream in(ReadAll(Source("examples/studies/" + example + ".textproto")));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("sites:", 0) == 0) continue;
    out += line + "\n";
  }
  for (const auto& [name, csv] : sites) out += "sites: \"" + name + "\"\n";
  if (secure) out += "secure_aggregation: true\n";
  return out + extra;
}

Sites ModelSites(const std::string& dir) {
  Sites sites;
  for (const std::string s : {"A", "B", "C"}) {
    sites.push_back({s, Source("models/testdata/site_" + s + ".csv")});
  }
  std::stringstream in(ReadAll(Source("models/testdata/site_C.csv")));
  std::ofstream d(dir + "/D.csv");
  std::string line;
  std::getline(in, line);
  d << line << "\n";
  while (std::getline(in, line)) {
    // patient_id,time,status,x1,...: D<id>, time + 1, -x1.
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.push_back("");  // an empty recur2y
    cells[0] = "D" + cells[0].substr(1);
    cells[1] = std::to_string(std::stod(cells[1]) + 1);
    cells[3] = cells[3][0] == '-' ? cells[3].substr(1) : "-" + cells[3];
    for (size_t i = 0; i < cells.size(); ++i) d << (i ? "," : "") << cells[i];
    d << "\n";
  }
  sites.push_back({"D", dir + "/D.csv"});
  return sites;
}

bool Ignored(const std::string& key) {
  return key == "provenance" || key == "id" || key == "finished_at" || key == "started_at" ||
         key == "rounds" || key.find("seconds") != std::string::npos;
}

// Every difference between two results.json trees beyond 1e-10 relative.
void Diff(const json& a, const json& b, const std::string& path, std::vector<std::string>* out) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (Ignored(k)) continue;
      if (!b.contains(k)) {
        out->push_back(path + "/" + k + " missing in one");
        continue;
      }
      Diff(v, b[k], path + "/" + k, out);
    }
    for (const auto& [k, v] : b.items()) {
      if (!Ignored(k) && !a.contains(k)) out->push_back(path + "/" + k + " missing in one");
    }
  } else if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) {
      out->push_back(path + ": lengths differ");
      return;
    }
    for (size_t i = 0; i < a.size(); ++i) Diff(a[i], b[i], path + "/" + std::to_string(i), out);
  } else if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    if (std::abs(x - y) > 1e-10 * std::max(std::abs(x), std::abs(y))) {
      std::ostringstream s;
      s.precision(17);
      s << path << ": " << x << " vs " << y;
      out->push_back(s.str());
    }
  } else if (a != b) {
    out->push_back(path + ": " + a.dump().substr(0, 80) + " vs " + b.dump().substr(0, 80));
  }
}

// `fedrad audit replay` on a sandbox run's five audit logs, checking its
// results.json; its exit code, the output in *output.
int ReplayRun(const SandboxRun& run, const Sites& sites, const std::string& dir,
              std::string* output) {
  const std::string out = run.out_dir;
  std::vector<std::string> argv = {FedradBin(), "audit", "replay", "--study",
                                   run.results["study"]["id"].get<std::string>(), "--spec",
                                   out + "/config/study.textproto", "--ca", out + "/pki/ca/ca.crt",
                                   "--results", out + "/results.json"};
  for (const auto& [name, csv] : sites) argv.push_back(out + "/audit/" + name + ".log");
  argv.push_back(out + "/audit/coordinator.log");
  return fedrad::testing::Run(argv, dir + "/replay.log", output);
}

void ExpectSecureEqualsPlain(const std::string& example, const Sites& sites,
                             const std::string& dir, bool has_secure_rounds = true) {
  SCOPED_TRACE(example);
  SandboxRun plain = RunSandbox(sites, Study(example, sites, false), dir + "/plain", {"--quiet"});
  SandboxRun secure = RunSandbox(sites, Study(example, sites, true), dir + "/secure", {"--quiet"});
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  ASSERT_EQ(secure.exit_code, 0) << secure.output;
  ASSERT_EQ(secure.results["study"]["state"], "SUCCEEDED");
  std::vector<std::string> diffs;
  Diff(plain.results, secure.results, "", &diffs);
  EXPECT_TRUE(diffs.empty()) << ::testing::PrintToString(diffs);
  // The secure run really ran secure rounds (the sites' audit logs say so);
  // the cohort summary has none: every number it releases is per site by
  // design (docs/privacy.md).
  std::string audits;
  for (const auto& [name, csv] : sites) {
    audits += ReadAll(secure.out_dir + "/audit/" + name + ".log");
  }
  if (has_secure_rounds) {
    EXPECT_THAT(audits, ::testing::HasSubstr("): masked "));
    EXPECT_THAT(audits, ::testing::HasSubstr("revealed its own self seed"));
    // Verifiable too: the auditor recomputes the secure study from the logs.
    std::string output;
    EXPECT_EQ(ReplayRun(secure, sites, dir, &output), 0) << output;
    EXPECT_THAT(output, ::testing::HasSubstr("numbers of results.json agree"));
  } else {
    EXPECT_THAT(audits, ::testing::Not(::testing::HasSubstr("): masked ")));
  }
}

TEST(SandboxSecure, LogisticEqualsPlain) {
  TempDir dir("secure-logistic");
  ExpectSecureEqualsPlain("logistic", ModelSites(dir.path()), dir.path());
}

TEST(SandboxSecure, StratifiedCoxEqualsPlain) {
  TempDir dir("secure-cox");
  ExpectSecureEqualsPlain("cox_stratified", ModelSites(dir.path()), dir.path());
}

// Secure and verifiable (issue 12): the secure Cox fit's masked
// contributions carry the verifiable round ids and inputs, the sites replay
// each step from the transcript (adverts and reveals included), and
// `fedrad audit replay` recomputes the fit from the five audit logs alone
// (rounds::SumRound unmasking each round with rounds::SecureSum).
TEST(SandboxSecure, SecureCoxStudyReplaysToItsResults) {
  TempDir dir("secure-cox-replay");
  const Sites sites = ModelSites(dir.path());
  SandboxRun run = RunSandbox(sites, Study("cox_stratified", sites, true), dir.path() + "/run",
                              {"--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_EQ(run.results["study"]["state"], "SUCCEEDED");
  // The second evaluation was masked under its verifiable round id.
  EXPECT_THAT(ReadAll(run.out_dir + "/audit/A.log"),
              ::testing::HasSubstr("secure round models/cox/fit/dev/eval/1 "));
  std::string output;
  EXPECT_EQ(ReplayRun(run, sites, dir.path(), &output), 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("numbers of results.json agree"));
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr(" 0 fit(s)")));
  EXPECT_THAT(output, ::testing::HasSubstr("model 'cox' fit 'dev'"));
}

// Leave-one-site-out validation in a secure study: the development fit and
// each fold's fit (over three of the four sites) are secure rounds; the
// folds' models and every validation metric equal the plain run's, and the
// replay recomputes every fold's fit from the logs.
TEST(SandboxSecure, LeaveOneSiteOutValidationEqualsPlain) {
  TempDir dir("secure-loso");
  ExpectSecureEqualsPlain("loso_validation", ModelSites(dir.path()), dir.path());
  const std::string replay = ReadAll(dir.path() + "/replay.log");
  for (const std::string site : {"A", "B", "C", "D"}) {
    EXPECT_THAT(replay, ::testing::HasSubstr("fit 'loso-" + site + "'"));
  }
}

TEST(SandboxSecure, ComBatEqualsPlain) {
  TempDir dir("secure-combat");
  Sites sites;
  for (const std::string s : {"S1", "S2", "S3", "S4"}) {
    sites.push_back({s, Source("harmonization/testdata/site_" + s + ".csv")});
  }
  ExpectSecureEqualsPlain("combat_parametric", sites, dir.path());
  // The replay recomputed the pooled estimates from the unmasked sums.
  EXPECT_THAT(ReadAll(dir.path() + "/replay.log"),
              ::testing::HasSubstr("ComBat: pooled estimates recomputed"));
}

TEST(SandboxSecure, CohortSummaryEqualsPlain) {
  TempDir dir("secure-cohort");
  Sites sites;
  for (int i = 1; i <= 4; ++i) {
    const std::string name = "S" + std::to_string(i);
    WriteCohortCsv(dir.path() + "/" + name + ".csv", name, 40 + 10 * i, 100 + i);
    sites.push_back({name, dir.path() + "/" + name + ".csv"});
  }
  ExpectSecureEqualsPlain("cohort_summary", sites, dir.path(), /*has_secure_rounds=*/false);
}

TEST(SandboxSecure, TwoSitesAreRefusedNamingTheRule) {
  TempDir dir("secure-two");
  Sites sites = ModelSites(dir.path());
  sites.resize(2);
  SandboxRun run = RunSandbox(sites, Study("logistic", sites, true), dir.path() + "/out", {"--quiet"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_EQ(run.results["study"]["state"], "FAILED");
  EXPECT_THAT(run.output, ::testing::HasSubstr("secagg-min-sites"));
}

// A secure debug.vector round over S1..S4 (20 rows each: site i sends
// value j * 20 at index j); S4 is SIGKILLed once a line of its audit log
// holds every "|"-separated part of `kill_after`. Returns the sandbox's
// results.
SandboxRun RunAndKillS4(const std::string& dir, const std::string& debug,
                        const std::string& kill_after) {
  std::vector<std::string> argv = {FedradBin(), "sandbox", "--quiet", "--debug-tasks",
                                   "--study", dir + "/study.textproto", "--out", dir + "/out"};
  for (const char* name : {"S1", "S2", "S3", "S4"}) {
    std::string csv = dir + "/" + name + ".csv";
    WriteCohortCsv(csv, name, 20, 7);
    argv.push_back("--site");
    argv.push_back(std::string(name) + "=" + csv);
  }
  WriteAll(dir + "/study.textproto",
           "name: \"dropout\"\nsecure_aggregation: true\n"
           "quorum { min_sites: 3 task_timeout_seconds: 4 }\n"
           "debug { vector_rounds: 1 vector_length: 5 " + debug + " }\n");
  Process sandbox = Start(argv, dir + "/sandbox.log");
  const std::string log = dir + "/out/audit/S4.log";
  // The first audit line that holds every part of `kill_after` ("|"-separated).
  const std::vector<std::string> parts = absl::StrSplit(kill_after, '|');
  const bool reached = WaitFor([&] {
    std::stringstream lines(ReadAll(log));
    for (std::string line; std::getline(lines, line);) {
      bool all = true;
      for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
      if (all) return true;
    }
    return false;
  });
  EXPECT_TRUE(reached) << ReadAll(dir + "/sandbox.log");
  pid_t s4 = std::atoi(ReadAll(dir + "/out/pids/S4.pid").c_str());
  EXPECT_GT(s4, 0);
  if (s4 > 0) kill(s4, SIGKILL);
  SandboxRun run;
  run.exit_code = Wait(sandbox);
  run.output = ReadAll(dir + "/sandbox.log");
  run.out_dir = dir + "/out";
  run.results = json::parse(ReadAll(dir + "/out/results.json"), nullptr, false);
  return run;
}

TEST(SandboxSecure, SiteKilledAfterMaskingIsRecoveredFromShares) {
  TempDir dir("secure-drop-after");
  // The coordinator waits 3 s between the masked round and the reveal.
  // Killed once its masked contribution has left (the audit's "sent" record).
  SandboxRun run = RunAndKillS4(dir.path(), "secure_reveal_delay_seconds: 3",
                                "\"direction\":\"sent\"|\"kind\":\"debug.vector\"");
  ASSERT_TRUE(run.results.is_object()) << run.output;
  EXPECT_EQ(run.results["study"]["state"], "SUCCEEDED") << run.output;
  // S4's masked vector is in the sum: (0 + 1 + 2 + 3 + 4) * 20 rows * 4 sites.
  EXPECT_EQ(run.results["debug"]["vector_sum"].get<double>(), 800.0);
  EXPECT_EQ(run.results["debug"]["vector_sites"], json({"S1", "S2", "S3", "S4"}));
  EXPECT_TRUE(run.results["study"]["excluded_sites"].contains("S4")) << run.results["study"].dump();
  EXPECT_THAT(run.results["study"]["excluded_sites"]["S4"].get<std::string>(),
              ::testing::HasSubstr("secagg.reveal"));
  // The others gave their shares of S4's seed, and said so in their logs.
  for (const char* s : {"S1", "S2", "S3"}) {
    EXPECT_THAT(ReadAll(run.out_dir + "/audit/" + s + ".log"),
                ::testing::HasSubstr("its shares of the master seeds of S4"))
        << s;
  }
}

TEST(SandboxSecure, SiteKilledBeforeMaskingLeavesTheSumOverTheOthers) {
  TempDir dir("secure-drop-before");
  // debug.vector sleeps 3 s before it answers; S4 dies in that window.
  SandboxRun run = RunAndKillS4(dir.path(), "vector_sleep_seconds: 3",
                                "\"direction\":\"received\"|\"kind\":\"debug.vector\"");
  ASSERT_TRUE(run.results.is_object()) << run.output;
  EXPECT_EQ(run.results["study"]["state"], "SUCCEEDED") << run.output;
  EXPECT_EQ(run.results["debug"]["vector_sum"].get<double>(), 600.0);
  EXPECT_EQ(run.results["debug"]["vector_sites"], json({"S1", "S2", "S3"}));
  EXPECT_TRUE(run.results["study"]["excluded_sites"].contains("S4"));
  for (const char* s : {"S1", "S2", "S3"}) {
    EXPECT_THAT(ReadAll(run.out_dir + "/audit/" + s + ".log"),
                ::testing::HasSubstr("pairwise seeds with S4"))
        << s;
  }
}

}  // namespace
}  // namespace fedrad::testing
