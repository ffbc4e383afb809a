// `fedrad audit replay` on real studies (issue 12): a coordinator and three
// site processes (`fedrad sandbox`, mutual TLS on loopback) run a model
// study; replay of their audit logs alone must verify every signed round
// message, recompute every fit and every validation site's metrics with
// their pooled meta-analysis, and agree with results.json; a log in which
// one signed contribution was altered must fail, naming the log, the record,
// the site and the round; so must a missing signed models.validate and a
// pooled meta-analysis number moved in results.json.
//
// Data: models/testdata/site_{A,B,C}.csv and the studies beside them.
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "proto/node_audit.h"
#include "proto/rounds.pb.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kMarker[] = "signed-message-base64: ";

struct Study {
  std::string out;
  std::string id;
};

Study RunModelStudy(const std::string& relative_spec, const std::string& tag) {
  const std::string src = FEDRAD_SOURCE_DIR;
  const std::string out = ::testing::TempDir() + "/audit_replay_" + tag;
  fs::remove_all(out);
  std::vector<std::pair<std::string, std::string>> sites;
  for (const char* s : {"A", "B", "C"}) {
    sites.push_back({s, src + "/models/testdata/site_" + std::string(s) + ".csv"});
  }
  SandboxRun run = RunSandbox(sites, ReadAll(src + "/" + relative_spec), out, {"--quiet"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  Study st;
  st.out = out;
  if (run.results.is_object()) st.id = run.results["study"]["id"].get<std::string>();
  return st;
}

std::vector<std::string> Logs(const std::string& dir) {
  return {dir + "/A.log", dir + "/B.log", dir + "/C.log", dir + "/coordinator.log"};
}

int Replay(const Study& st, const std::vector<std::string>& logs, std::string* output) {
  std::vector<std::string> argv = {FedradBin(),  "audit",      "replay", "--study",
                                   st.id,        "--spec",     st.out + "/config/study.textproto",
                                   "--ca",       st.out + "/pki/ca/ca.crt", "--results",
                                   st.out + "/results.json"};
  for (const auto& l : logs) argv.push_back(l);
  return Run(argv, st.out + ".replay.log", output);
}
int Replay(const Study& st, const std::string& log_dir, std::string* output) {
  return Replay(st, Logs(log_dir), output);
}

// The counts of "OK: ..., S site validation(s) of M model(s) recomputed":
// {S, M}, or {-1, -1} when the line does not say.
std::pair<int, int> ValidationCounts(const std::string& output) {
  const std::string tail = " site validation(s) of ";
  const size_t at = output.find(tail);
  const size_t ok = output.rfind("OK: ", at);
  if (at == std::string::npos || ok == std::string::npos) return {-1, -1};
  const size_t start = output.rfind(", ", at);
  return {std::stoi(output.substr(start + 2, at - start - 2)),
          std::stoi(output.substr(at + tail.size()))};
}

// The first signed round message of kind `kind` in the log `path`, changed
// by `edit` and written back (the signature kept: a forgery). Replaces the
// base64 text in place: the record keeps its key order (the log's canonical
// form), only the message changes. Returns the record's seq and the round
// id, or seq -1 when the log has no such message.
std::pair<int64_t, std::string> AlterSignedMessage(const std::string& path, const std::string& kind,
                                                   const std::function<void(v1::RoundMessage*)>& edit) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  in.close();
  std::pair<int64_t, std::string> altered{-1, ""};
  for (std::string& line : lines) {
    json rec = json::parse(line);
    if (rec.value("kind", "") != "round.signed") continue;
    std::string summary = rec["summary"];
    const size_t at = summary.find(kMarker);
    if (at == std::string::npos) continue;
    const std::string old_b64 = summary.substr(at + sizeof(kMarker) - 1);
    std::string bytes;
    v1::SignedMessage s;
    v1::RoundMessage m;
    if (!absl::Base64Unescape(old_b64, &bytes) || !s.ParseFromString(bytes) ||
        !m.ParseFromString(s.body()) || m.kind() != kind) {
      continue;
    }
    edit(&m);
    s.set_body(DeterministicBytes(m));
    const size_t pos = line.find(old_b64);
    if (pos == std::string::npos) continue;
    line.replace(pos, old_b64.size(), absl::Base64Escape(DeterministicBytes(s)));
    altered = {rec["seq"].get<int64_t>(), m.round_id()};
    break;
  }
  std::ofstream o(path, std::ios::trunc);
  for (const auto& line : lines) o << line << "\n";
  return altered;
}

// A copy of the study's four logs in `copy`.
void CopyLogs(const Study& st, const std::string& copy) {
  fs::create_directories(copy);
  for (const auto& l : Logs(st.out + "/audit")) {
    fs::copy_file(l, copy + "/" + fs::path(l).filename().string(),
                  fs::copy_options::overwrite_existing);
  }
}

TEST(AuditReplay, DevelopValidateStudyIsRecomputedFromTheLogs) {
  Study st = RunModelStudy("models/testdata/develop_validate_study.textproto", "devval");
  ASSERT_FALSE(st.id.empty());
  std::string out;
  EXPECT_EQ(Replay(st, st.out + "/audit", &out), 0) << out;
  EXPECT_NE(out.find("OK: "), std::string::npos) << out;
  EXPECT_NE(out.find("numbers of results.json agree"), std::string::npos) << out;
  EXPECT_EQ(out.find(" 0 fit(s)"), std::string::npos) << out;
  // H0 and the risk-group cuts recomputed from the signed models.baseline / lp_summary.
  EXPECT_NE(out.find("baseline hazard recomputed"), std::string::npos) << out;
  // Validation site C's metrics of both models (cox, logistic) and their pooling.
  EXPECT_EQ(ValidationCounts(out), std::make_pair(2, 2)) << out;
  EXPECT_NE(out.find("model 'cox' validation: the metrics of 1 site(s) (C)"), std::string::npos)
      << out;

  // Without C's and the coordinator's logs, C's signed models.validate is
  // missing: named, and replay fails.
  EXPECT_EQ(Replay(st, {st.out + "/audit/A.log", st.out + "/audit/B.log"}, &out), 1) << out;
  EXPECT_NE(out.find("the signed models.validate of site C (round "
                     "'models/cox/fit/dev/validate') is missing from the logs"),
            std::string::npos)
      << out;
}

// One signed models.validate in validation site C's log altered (its
// Harrell C moved, the signature kept): replay fails naming the record; with
// no intact copy (the coordinator's log left out) the site's metrics are
// also reported as not checkable.
TEST(AuditReplay, AnAlteredValidationContributionFailsNamingTheRecord) {
  Study st = RunModelStudy("models/testdata/develop_validate_study.textproto", "altered_validate");
  ASSERT_FALSE(st.id.empty());
  const std::string copy = st.out + "/audit-altered";
  CopyLogs(st, copy);
  const auto [seq, round_id] =
      AlterSignedMessage(copy + "/C.log", "models.validate", [](v1::RoundMessage* m) {
        for (v1::Array& a : *m->mutable_contribution()->mutable_plain()->mutable_arrays()) {
          if (a.name() == "metric.harrell_c" || a.name() == "metric.auc") {
            a.set_values(0, a.values(0) + 0.05);
          }
        }
      });
  ASSERT_GE(seq, 0) << "no signed models.validate in C.log";
  std::string out;
  EXPECT_EQ(Replay(st, copy, &out), 1) << out;
  const std::string named =
      "C.log record " + std::to_string(seq) + " (site C, round '" + round_id + "')";
  EXPECT_NE(out.find(named), std::string::npos) << "expected '" << named << "' in:\n" << out;
  EXPECT_NE(out.find("signature does not match"), std::string::npos) << out;

  EXPECT_EQ(Replay(st, {copy + "/A.log", copy + "/B.log", copy + "/C.log"}, &out), 1) << out;
  EXPECT_NE(out.find(named), std::string::npos) << out;
  EXPECT_NE(out.find("the signed models.validate of site C (round '" + round_id +
                     "') is missing from the logs"),
            std::string::npos)
      << out;
}

TEST(AuditReplay, LeaveOneSiteOutFitsAreRecomputed) {
  Study st = RunModelStudy("examples/studies/loso_validation.textproto", "loso");
  ASSERT_FALSE(st.id.empty());
  std::string out;
  EXPECT_EQ(Replay(st, st.out + "/audit", &out), 0) << out;
  // The development fit and one fit per left-out site.
  EXPECT_NE(out.find("fit 'loso-A'"), std::string::npos) << out;
  EXPECT_NE(out.find("fit 'loso-C'"), std::string::npos) << out;
}

// The demo (synthetic CTs, feature extraction, ComBat, nine models developed
// at C3 and validated at the other centers): replay of its five logs
// reproduces its results.json models, baselines, ComBat estimates and the
// cohort summary's pooled statistics.
TEST(AuditReplay, DemoIsRecomputedFromItsLogs) {
  TempDir dir("replay-demo");
  const std::string out = dir.path() + "/demo";
  std::string output;
  ASSERT_EQ(fedrad::testing::Run({FedradBin(), "demo", "--quiet", "--out", out, "--patients", "30,25,80,20", "--seed",
                 "7", "--threads", "2", "--study",
                 std::string(FEDRAD_SOURCE_DIR) + "/examples/studies/crlm_demo.textproto"},
                dir.path() + "/demo.log", &output),
            0)
      << output;
  json r = json::parse(ReadAll(out + "/results.json"), nullptr, false);
  ASSERT_TRUE(r.is_object());
  std::vector<std::string> argv = {FedradBin(), "audit", "replay", "--study",
                                   r["study"]["id"].get<std::string>(), "--spec",
                                   out + "/config/study.textproto", "--ca", out + "/pki/ca/ca.crt",
                                   "--results", out + "/results.json"};
  for (const char* node : {"C1", "C2", "C3", "C4", "coordinator"}) {
    argv.push_back(out + "/audit/" + node + ".log");
  }
  ASSERT_EQ(fedrad::testing::Run(argv, dir.path() + "/replay.log", &output), 0) << output;
  EXPECT_NE(output.find("ComBat: pooled estimates recomputed"), std::string::npos) << output;
  EXPECT_NE(output.find("cohort summary: pooled moments and quantiles of"), std::string::npos)
      << output;
  EXPECT_NE(output.find("read from its signed models.fit"), std::string::npos) << output;
  EXPECT_NE(output.find("numbers of results.json agree"), std::string::npos) << output;
  // Every model validated at C1, C2 and C4 from their signed models.validate.
  const std::pair<int, int> validated = ValidationCounts(output);
  EXPECT_GT(validated.second, 0) << output;
  EXPECT_EQ(validated.first, 3 * validated.second) << output;
  EXPECT_EQ(static_cast<size_t>(validated.second), r["validation"].size()) << output;

  // A pooled cohort mean that is not what the signed moments give: named.
  json& columns = r["cohort"]["pooled"]["columns"];
  ASSERT_TRUE(columns.is_object() && !columns.empty());
  const std::string column = columns.begin().key();
  ASSERT_TRUE(columns[column]["mean"].is_number()) << column;
  columns[column]["mean"] = columns[column]["mean"].get<double>() + 0.5;
  // And a pooled meta-analysis number that is not what the signed
  // models.validate give: named by its results.json path.
  std::string meta_path;
  for (auto& [model, v] : r["validation"].items()) {
    for (auto& [key, value] : v["pooled"].items()) {
      if (value.is_number_float() && key.size() > 5 && key.substr(key.size() - 5) == "_meta") {
        value = value.get<double>() + 0.01;
        meta_path = "validation." + model + ".pooled." + key;
        break;
      }
    }
    if (!meta_path.empty()) break;
  }
  ASSERT_FALSE(meta_path.empty()) << r["validation"].dump();
  const std::string moved = dir.path() + "/results-moved.json";
  std::ofstream(moved) << r.dump();
  for (std::string& a : argv) {
    if (a == out + "/results.json") a = moved;
  }
  EXPECT_NE(fedrad::testing::Run(argv, dir.path() + "/replay-moved.log", &output), 0) << output;
  EXPECT_NE(output.find("cohort summary: mean of " + column + " recomputed"), std::string::npos)
      << output;
  EXPECT_NE(output.find(": " + meta_path + " recomputed "), std::string::npos)
      << meta_path << " in:\n" << output;
}

// One signed contribution in site A's log altered (its first gradient value
// moved, the signature kept): replay fails and names the record.
TEST(AuditReplay, AnAlteredContributionFailsNamingTheRecord) {
  Study st = RunModelStudy("examples/studies/cox_stratified.textproto", "altered");
  ASSERT_FALSE(st.id.empty());
  const std::string copy = st.out + "/audit-altered";
  CopyLogs(st, copy);
  const auto [altered_seq, round_id] =
      AlterSignedMessage(copy + "/A.log", "models.derivatives", [](v1::RoundMessage* m) {
        m->mutable_contribution()->set_summed(0, m->contribution().summed(0) + 1.0);
      });
  ASSERT_GE(altered_seq, 0) << "no signed derivatives contribution in A.log";

  std::string out;
  EXPECT_EQ(Replay(st, st.out + "/audit", &out), 0) << "the unaltered logs: " << out;
  EXPECT_EQ(Replay(st, copy, &out), 1) << out;
  const std::string named = "A.log record " + std::to_string(altered_seq) + " (site A, round '" +
                            round_id + "')";
  EXPECT_NE(out.find(named), std::string::npos) << "expected '" << named << "' in:\n" << out;
  EXPECT_NE(out.find("signature does not match"), std::string::npos) << out;
}

}  // namespace
}  // namespace fedrad::testing
