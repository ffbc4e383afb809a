// Issue 18, the study coordinator's edges, with real processes on loopback:
// a fedrad-coordinator, site processes and the `fedrad` CLI, with
// certificates made by `fedrad pki init` / `fedrad pki issue`.
//  - a study names its sites: a spec without `sites:` is refused at submit,
//    naming the field and listing the sites connected now (and every example
//    spec names its sites); `fedrad study list` says "no studies";
//  - a spec error every site reports (a column that exists nowhere) is the
//    study's error, not "quorum lost ... 0 of 2 sites remain";
//  - `fedrad study watch` prints one line per real change: no per-round site
//    states, no line twice in a row, and progress that moves while the Cox
//    model is fitted;
//  - a second site process with the same certificate from another folder is
//    refused while the first is connected, naming the first's instance;
//    `fedrad-site --check` says whose the live stream is; when the second
//    takes over after the first stopped, the study status, results.json and
//    the coordinator's audit log say that the site's audit trail is split.
#include <csignal>
#include <filesystem>
#include <sstream>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/study.pb.h"
#include "proto/textproto.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class StudyEdges : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("study-edges");
    const std::string d = dir_->path();
    std::string out;
    ASSERT_EQ(fedrad::testing::Run({FedradBin(), "pki", "init", "--ca-dir", d + "/ca"}, d + "/pki.log", &out), 0)
        << out;
    for (auto [cn, role] : std::vector<std::pair<std::string, std::string>>{
             {"coordinator", "coordinator"}, {"admin", "admin"}, {"S1", "site"}, {"S2", "site"}}) {
      ASSERT_EQ(fedrad::testing::Run({FedradBin(), "pki", "issue", "--ca-dir", d + "/ca", "--cn", cn, "--role", role,
                     "--out-dir", d + "/certs"},
                    d + "/pki.log", &out),
                0)
          << out;
    }
    auto tls = [&](const std::string& who) {
      return "tls { ca_cert: \"" + d + "/ca/ca.crt\" crl: \"" + d + "/ca/crl.pem\" cert: \"" + d +
             "/certs/" + who + ".crt\" key: \"" + d + "/certs/" + who + ".key\" }\n";
    };
    WriteAll(d + "/coordinator.textproto",
             "listen_address: \"127.0.0.1:0\"\n" + tls("coordinator") + "data_dir: \"" + d +
                 "/data\"\naudit_log: \"" + d + "/audit/coordinator.log\"\nport_file: \"" + d +
                 "/port\"\nsite_wait_seconds: 20\n");
    coordinator_ = Start({BinDir() + "/fedrad-coordinator", "--config", d + "/coordinator.textproto"},
                         d + "/coordinator.log");
    ASSERT_TRUE(WaitFor([&] { return ReadAll(d + "/port").find('\n') != std::string::npos; }))
        << ReadAll(d + "/coordinator.log");
    std::string port = ReadAll(d + "/port");
    port = port.substr(0, port.find('\n'));
    const std::string address = "127.0.0.1:" + port;
    WriteAll(d + "/admin.textproto", "coordinator_address: \"" + address + "\"\n" + tls("admin"));

    // S1 and S2 in their folders; S1b: S1's certificate in another folder.
    auto site_config = [&](const std::string& folder, const std::string& cert, uint64_t seed) {
      fs::create_directories(d + "/" + folder);
      WriteCohortCsv(d + "/" + folder + "/data.csv", cert, 60, seed);
      WriteAll(d + "/" + folder + "/site.textproto",
               "coordinator_address: \"" + address + "\"\n" + tls(cert) + "data_csv: \"" + d + "/" +
                   folder + "/data.csv\"\noutput_dir: \"" + d + "/" + folder +
                   "/out\"\naudit_log: \"" + d + "/" + folder + "/audit/site.log\"\nstate_dir: \"" +
                   d + "/" + folder + "/state\"\nheartbeat_seconds: 1\n"
                   "reconnect_max_seconds: 0.5\n"
                   "policy { min_cell_count: 5 enable_debug_tasks: true }\n");
    };
    site_config("S1", "S1", 11);
    site_config("S2", "S2", 12);
    site_config("S1b", "S1", 13);

    // The studies, each approved by the operators of the folders that run it.
    const std::string two = "sites: \"S1\"\nsites: \"S2\"\n";
    WriteAll(d + "/nocolumn.textproto",
             "name: \"nocolumn\"\n" + two +
                 "cohort_summary { enabled: true columns: \"no_such_column\" }\n");
    WriteAll(d + "/cox.textproto",
             "name: \"cox\"\n" + two +
                 "models { name: \"cox\" type: COX time_column: \"time\" event_column: \"status\" "
                 "covariates: \"age\" covariates: \"bmi\" covariates: \"cea\" "
                 "covariates: \"n_lesions\" }\n");
    WriteAll(d + "/takeover.textproto",
             "name: \"takeover\"\n" + two +
                 "quorum { task_timeout_seconds: 120 }\n"
                 "debug { sleep_rounds: 1 sleep_seconds: 30 }\n");
    for (const char* study : {"nocolumn", "cox", "takeover"}) {
      for (const char* folder : {"S1", "S2", "S1b"}) {
        ASSERT_TRUE(ApproveStudy(d + "/" + folder + "/site.textproto",
                                 d + "/" + study + ".textproto",
                                 d + "/approve-" + folder + ".log", &out))
            << out;
      }
    }
    for (const char* s : {"S1", "S2"}) {
      sites_[s] = Start({BinDir() + "/fedrad-site", "--config", d + "/" + s + "/site.textproto"},
                        d + "/" + s + ".log");
    }
    ASSERT_TRUE(WaitFor([&] {
      const std::string log = ReadAll(d + "/coordinator.log");
      return log.find("site S1 connected") != std::string::npos &&
             log.find("site S2 connected") != std::string::npos;
    })) << ReadAll(d + "/coordinator.log");
  }
  static void TearDownTestSuite() {
    for (auto& [name, p] : sites_) Terminate(p);
    Terminate(coordinator_);
    sites_.clear();
    delete dir_;
  }

  static std::string D() { return dir_->path(); }
  // `fedrad study ARGS... --admin-config ...`: its output (stdout+stderr).
  static std::string Study(const std::vector<std::string>& args, int* code = nullptr) {
    std::vector<std::string> argv = {FedradBin(), "study"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--admin-config");
    argv.push_back(D() + "/admin.textproto");
    std::string out;
    int c = fedrad::testing::Run(argv, D() + "/cli.log", &out);
    if (code != nullptr) *code = c;
    return out;
  }
  static std::string Submit(const std::string& study) {
    int code = 1;
    std::string out = Study({"submit", D() + "/" + study + ".textproto"}, &code);
    EXPECT_EQ(code, 0) << out;
    return out.substr(0, out.find('\n'));
  }
  static std::string WaitEnded(const std::string& id) {
    std::string line;
    WaitFor([&] {
      line = Study({"status", id});
      return line.find("SUCCEEDED") != std::string::npos ||
             line.find("FAILED") != std::string::npos ||
             line.find("CANCELLED") != std::string::npos;
    }, 60);
    return line;
  }
  static nlohmann::json Results(const std::string& id) {
    const std::string path = D() + "/results-" + id + ".json";
    Study({"results", id, "--out", path});
    return nlohmann::json::parse(ReadAll(path), nullptr, false);
  }

  static TempDir* dir_;
  static Process coordinator_;
  static std::map<std::string, Process> sites_;
};

TempDir* StudyEdges::dir_ = nullptr;
Process StudyEdges::coordinator_;
std::map<std::string, Process> StudyEdges::sites_;

// Runs first (gtest runs a suite's tests in the order they are defined).
TEST_F(StudyEdges, ASpecWithoutSitesIsRefusedListingTheConnectedSites) {
  int code = 0;
  std::string listed = Study({"list"}, &code);
  EXPECT_EQ(code, 0) << listed;
  EXPECT_THAT(listed, HasSubstr("no studies"));

  WriteAll(D() + "/nosites.textproto",
           "name: \"nosites\"\ncohort_summary { enabled: true columns: \"age\" }\n");
  std::string out = Study({"submit", D() + "/nosites.textproto"}, &code);
  EXPECT_NE(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("sites: is required"));
  EXPECT_THAT(out, HasSubstr("Connected now: S1, S2"));
  EXPECT_THAT(out, HasSubstr("sites: \"S1\""));
  EXPECT_THAT(out, HasSubstr("(INVALID_ARGUMENT)"));
  EXPECT_THAT(Study({"list"}), HasSubstr("no studies")) << "the refused study was started";

  // Every example spec names its sites.
  int examples = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(FEDRAD_SOURCE_DIR) / "examples/studies")) {
    if (entry.path().extension() != ".textproto") continue;
    v1::Study study;
    ASSERT_OK(ReadTextProto(entry.path().string(), &study)) << entry.path();
    EXPECT_GT(study.sites_size(), 0) << entry.path() << " names no sites";
    ++examples;
  }
  EXPECT_GT(examples, 5);
}

TEST_F(StudyEdges, ASpecErrorEverySiteReportsIsTheStudysError) {
  const std::string id = Submit("nocolumn");
  ASSERT_FALSE(id.empty());
  EXPECT_THAT(WaitEnded(id), HasSubstr("FAILED"));
  nlohmann::json r = Results(id);
  ASSERT_TRUE(r.is_object()) << ReadAll(D() + "/cli.log");
  const std::string message = r["study"]["message"].get<std::string>();
  EXPECT_THAT(message, HasSubstr("every site failed 'cohort."));
  EXPECT_THAT(message, HasSubstr("no_such_column"));
  EXPECT_THAT(message, Not(HasSubstr("quorum lost")));
}

TEST_F(StudyEdges, WatchPrintsOneLinePerChangeAndProgressMovesDuringTheCoxFit) {
  int code = 1;
  // `--watch` before the path, as docs/deployment.md writes it.
  std::string out = Study({"submit", "--watch", D() + "/cox.textproto"}, &code);
  ASSERT_EQ(code, 0) << out;
  std::vector<std::string> lines = Lines(out);
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_THAT(lines.back(), HasSubstr("SUCCEEDED 100%")) << out;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_THAT(lines[i], Not(HasSubstr("working on"))) << out;
    EXPECT_THAT(lines[i], Not(HasSubstr("answered"))) << out;
    if (i > 0) {
      EXPECT_NE(lines[i], lines[i - 1]) << out;
    }
  }
  // The line stream is bounded: steps, messages and 5% progress steps.
  EXPECT_LT(lines.size(), 40u) << out;
  // `study watch` on the finished study prints its last state once.
  const std::string id = lines.front();
  std::string watched = Study({"watch", id}, &code);
  EXPECT_EQ(code, 0) << watched;
  EXPECT_EQ(Lines(watched).size(), 1u) << watched;
  // (Progress during the fit, which a watch samples: study_progress_test.)
  nlohmann::json r = Results(id);
  ASSERT_TRUE(r.is_object());
  EXPECT_GT(r["models"]["cox"]["iterations"].get<int>(), 1);
}

TEST_F(StudyEdges, ASecondProcessWithTheSameCertificateIsRefusedAndATakeOverIsReported) {
  const std::string d = D();
  Process second = Start({BinDir() + "/fedrad-site", "--config", d + "/S1b/site.textproto"},
                         d + "/S1b.log");
  ASSERT_TRUE(WaitFor([&] {
    return ReadAll(d + "/S1b.log").find("already connected from another process") !=
           std::string::npos;
  })) << ReadAll(d + "/S1b.log");
  const std::string refusal = ReadAll(d + "/S1b.log");
  EXPECT_THAT(refusal, HasSubstr("site 'S1' is already connected from another process (instance "));
  EXPECT_THAT(refusal, HasSubstr("run one fedrad-site per site certificate"));
  EXPECT_THAT(ReadAll(d + "/coordinator.log"),
              HasSubstr("refused site S1: site 'S1' is already connected from another process"));

  // --check from each folder says whose the live stream is.
  std::string check;
  int code = fedrad::testing::Run({BinDir() + "/fedrad-site", "--config", d + "/S1b/site.textproto", "--check"},
                 d + "/check-S1b.log", &check);
  EXPECT_NE(code, 0) << check;
  EXPECT_THAT(check, HasSubstr("the live stream of site 'S1' belongs to another process"));
  code = fedrad::testing::Run({BinDir() + "/fedrad-site", "--config", d + "/S1/site.textproto", "--check"},
             d + "/check-S1.log", &check);
  EXPECT_THAT(check, HasSubstr("the live stream belongs to the service writing this config's "
                               "audit log"));
  EXPECT_THAT(check, Not(HasSubstr("belongs to another process")));

  // A study runs; S1 stops mid-study and S1b takes its place.
  const std::string id = Submit("takeover");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return Study({"status", id}).find("debug") != std::string::npos; }))
      << Study({"status", id});
  Terminate(sites_["S1"]);
  ASSERT_TRUE(WaitFor([&] {
    return Study({"status", id}).find("notice: site S1 is now served by another process") !=
           std::string::npos;
  })) << Study({"status", id}) << ReadAll(d + "/coordinator.log");
  EXPECT_THAT(Study({"status", id}), HasSubstr("its audit trail is split over two logs"));
  Study({"cancel", id});
  EXPECT_THAT(WaitEnded(id), HasSubstr("CANCELLED"));
  nlohmann::json r = Results(id);
  ASSERT_TRUE(r.is_object());
  ASSERT_TRUE(r["study"].contains("notices")) << r["study"].dump(2);
  EXPECT_THAT(r["study"]["notices"][0].get<std::string>(),
              HasSubstr("site S1 is now served by another process"));
  EXPECT_THAT(ReadAll(d + "/audit/coordinator.log"),
              HasSubstr("site S1 is now served by another process"));
  sites_["S1b"] = second;
}

}  // namespace
}  // namespace fedrad::testing
