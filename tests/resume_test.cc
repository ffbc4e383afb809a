// Studies survive failures (issue #6), with real processes on loopback and
// mutual TLS: a coordinator and three site processes started directly (not
// through `fedrad sandbox`, which would stop everything when its coordinator
// dies), the study submitted with `fedrad study submit`, followed with
// `fedrad study status`, its results fetched with `fedrad study results`.
//
// The study: cohort summary, ComBat (bmi, cea), a debug.sleep round placed
// after harmonization (study.debug.after_step: the window for the kills) and
// a Cox model on the harmonised covariates, so that the last step's numbers
// depend on the site state (harmonised tables) saved in the checkpoints.
//  (a) the coordinator is SIGKILLed during the sleep round (after two
//      completed steps) and restarted with the same config: the study
//      resumes after 'harmonization' without re-running the earlier steps,
//      and its results.json equals an uninterrupted run's;
//  (b) a site is SIGKILLed while it works on the sleep task and restarted:
//      the coordinator sends it the task again, the site loads its checkpoint
//      from disk, the study succeeds with every site, same results;
//  (c) SIGTERM is not a cancel: the study stays RUNNING and the next start
//      resumes it; `fedrad study cancel` still ends a study for good.
// The reference is the same study run uninterrupted on the same data by the
// same binaries; results are compared with the keys that name the run
// (study id, times, rounds, epoch, audit log heads) and timings (*_seconds)
// removed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <filesystem>

#include "coordinator/admin_client.h"
#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/textproto.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

using ::fedrad::testing::StatusIs;

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const std::vector<std::string> kSites = {"S1", "S2", "S3"};

constexpr char kStudy[] = R"(name: "resume"
sites: "S1"
sites: "S2"
sites: "S3"
quorum { min_sites: 0 task_timeout_seconds: 60 }
cohort_summary { enabled: true columns: "age" columns: "bmi" }
harmonization { enabled: true features: "^(bmi|cea)$" covariates: "age" covariates: "sex" }
debug { sleep_rounds: 1 sleep_seconds: 2.5 after_step: "harmonization" }
models { name: "cox" type: COX time_column: "time" event_column: "status"
         covariates: "age" covariates: "bmi" covariates: "cea" }
)";

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool Contains(const std::string& path, const std::string& text) {
  return ReadAll(path).find(text) != std::string::npos;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// One federation in `dir`: PKI, configs (fixed loopback port, so a restarted
// coordinator is found at the same address), seeded site tables.
class Federation {
 public:
  explicit Federation(const std::string& dir) : d_(dir) {
    const std::string ca = d_ + "/ca";
    EXPECT_OK(pki::InitCa(ca, {}));
    EXPECT_OK(pki::IssueIdentity(ca, "coordinator", pki::Role::kCoordinator, d_ + "/certs"));
    EXPECT_OK(pki::IssueIdentity(ca, "admin", pki::Role::kAdmin, d_ + "/certs"));
    auto tls = [&](const std::string& who) {
      return "tls { ca_cert: \"" + ca + "/ca.crt\" crl: \"" + ca + "/crl.pem\" cert: \"" + d_ +
             "/certs/" + who + ".crt\" key: \"" + d_ + "/certs/" + who + ".key\" }\n";
    };
    const std::string address = "127.0.0.1:" + std::to_string(FreePort());
    WriteAll(d_ + "/coordinator.textproto",
             "listen_address: \"" + address + "\"\n" + tls("coordinator") + "data_dir: \"" + d_ +
                 "/data\"\naudit_log: \"" + d_ + "/audit/coordinator.log\"\nsite_wait_seconds: 30\n");
    WriteAll(d_ + "/admin.textproto", "coordinator_address: \"" + address + "\"\n" + tls("admin"));
    for (size_t i = 0; i < kSites.size(); ++i) {
      const std::string& s = kSites[i];
      EXPECT_OK(pki::IssueIdentity(ca, s, pki::Role::kSite, d_ + "/certs"));
      WriteCohortCsv(d_ + "/" + s + ".csv", s, 40 + 5 * static_cast<int>(i), 11 + i, 3.0 * i);
      WriteAll(d_ + "/" + s + ".textproto",
               "coordinator_address: \"" + address + "\"\n" + tls(s) + "data_csv: \"" + d_ + "/" +
                   s + ".csv\"\noutput_dir: \"" + d_ + "/sites/" + s + "\"\naudit_log: \"" + d_ +
                   "/audit/" + s + ".log\"\nstate_dir: \"" + d_ + "/state/" + s +
                   "\"\nheartbeat_seconds: 1\nreconnect_max_seconds: 0.5\n"
                   "policy { min_cell_count: 10 enable_debug_tasks: true }\n");
    }
    WriteAll(d_ + "/study.textproto", kStudy);
    // Each site's operator approves the study (the exact spec submitted).
    for (const auto& s : kSites) {
      std::string out;
      EXPECT_TRUE(ApproveStudy(d_ + "/" + s + ".textproto", d_ + "/study.textproto",
                               d_ + "/approve-" + s + ".log", &out))
          << out;
    }
  }
  ~Federation() {
    for (auto& [name, p] : sites_) Terminate(p);
    Terminate(coordinator_);
  }

  const std::string& dir() const { return d_; }
  std::string CoordinatorLog(int run) const { return d_ + "/coordinator." + std::to_string(run) + ".log"; }
  std::string SiteLog(const std::string& s, int run) const {
    return d_ + "/" + s + "." + std::to_string(run) + ".log";
  }

  // Starts (or restarts) the coordinator; run numbers its log.
  void StartCoordinator(int run) {
    coordinator_ = Start({BinDir() + "/fedrad-coordinator", "--config", d_ + "/coordinator.textproto"},
                         CoordinatorLog(run));
  }
  void StartSite(const std::string& s, int run) {
    sites_[s] = Start({BinDir() + "/fedrad-site", "--config", d_ + "/" + s + ".textproto"},
                      SiteLog(s, run));
  }
  void Kill(Process& p) {
    kill(p.pid, SIGKILL);
    Wait(p);
  }
  Process& coordinator() { return coordinator_; }
  Process& site(const std::string& s) { return sites_[s]; }

  // `fedrad study ARGS... --admin-config ...`; its output.
  std::string Study(const std::vector<std::string>& args, int* code = nullptr) {
    std::vector<std::string> argv = {FedradBin(), "study"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--admin-config");
    argv.push_back(d_ + "/admin.textproto");
    std::string out;
    int c = Run(argv, d_ + "/cli.log", &out);
    if (code != nullptr) *code = c;
    return out;
  }
  // Submits the study (retrying while the coordinator starts); its id.
  std::string Submit() {
    for (int i = 0; i < 100; ++i) {
      int code = 1;
      std::string out = Study({"submit", d_ + "/study.textproto"}, &code);
      if (code == 0) return out.substr(0, out.find('\n'));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "";
  }
  // Waits until `fedrad study status` says the study ended; its last line.
  std::string WaitEnded(const std::string& id) {
    std::string line;
    WaitFor([&] {
      line = Study({"status", id});
      return line.find("SUCCEEDED") != std::string::npos ||
             line.find("FAILED") != std::string::npos ||
             line.find("CANCELLED") != std::string::npos;
    }, 50);
    return line;
  }
  nlohmann::json Results(const std::string& id) {
    std::string path = d_ + "/results-" + id + ".json";
    Study({"results", id, "--out", path});
    return nlohmann::json::parse(ReadAll(path), nullptr, false);
  }

 private:
  std::string d_;
  Process coordinator_;
  std::map<std::string, Process> sites_;
};

// Drops timings (keys ending in "_seconds") at any depth.
void DropTimings(nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      const std::string key = it.key();
      if (key.size() > 8 && key.compare(key.size() - 8, 8, "_seconds") == 0) {
        it = j.erase(it);
      } else {
        DropTimings(*it);
        ++it;
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j) DropTimings(v);
  }
}

// results.json without what names the run rather than the analysis.
nlohmann::json Comparable(nlohmann::json j) {
  if (!j.is_object()) return j;
  for (const char* key : {"id", "finished_at", "rounds", "epoch"}) j["study"].erase(key);
  j["provenance"].erase("audit_log_heads");
  DropTimings(j);
  return j;
}

class Resume : public ::testing::Test {
 protected:
  // The same study, uninterrupted (computed once for both tests).
  static void SetUpTestSuite() {
    dir_ = new TempDir("resume-ref");
    Federation f(dir_->path());
    f.StartCoordinator(1);
    for (const auto& s : kSites) f.StartSite(s, 1);
    std::string id = f.Submit();
    ASSERT_FALSE(id.empty()) << ReadAll(f.dir() + "/cli.log");
    std::string status = f.WaitEnded(id);
    ASSERT_THAT(status, HasSubstr("SUCCEEDED")) << ReadAll(f.CoordinatorLog(1));
    reference_ = new nlohmann::json(f.Results(id));
    // The reference uses the data of its own folder; the tests write the
    // same seeded tables in theirs.
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete dir_;
  }
  static TempDir* dir_;
  static nlohmann::json* reference_;
};
TempDir* Resume::dir_ = nullptr;
nlohmann::json* Resume::reference_ = nullptr;

TEST_F(Resume, CoordinatorKilledMidStudyResumesAfterLastCompletedStepWithSameResults) {
  ASSERT_TRUE(reference_ != nullptr && reference_->is_object());
  TempDir dir("resume-coord");
  Federation f(dir.path());
  f.StartCoordinator(1);
  for (const auto& s : kSites) f.StartSite(s, 1);
  std::string id = f.Submit();
  ASSERT_FALSE(id.empty()) << ReadAll(f.dir() + "/cli.log");
  // Kill once 'harmonization' is done and checkpointed and the sleep round
  // is under way at the sites.
  ASSERT_TRUE(WaitFor([&] {
    return Contains(f.CoordinatorLog(1), "step 'harmonization' done") &&
           Contains(f.SiteLog("S1", 1), "(debug.sleep) received");
  }, 40)) << ReadAll(f.CoordinatorLog(1));
  f.Kill(f.coordinator());
  ASSERT_THAT(ReadAll(f.CoordinatorLog(1)), Not(HasSubstr(": step 'models'")));

  f.StartCoordinator(2);
  std::string status = f.WaitEnded(id);
  EXPECT_THAT(status, HasSubstr("SUCCEEDED")) << ReadAll(f.CoordinatorLog(2));
  const std::string log2 = ReadAll(f.CoordinatorLog(2));
  EXPECT_THAT(log2, HasSubstr("resuming at step 2 of 4 ('debug rounds'), epoch 1"));
  EXPECT_THAT(log2, HasSubstr("resuming (epoch 1) after step 'harmonization'"));
  // The completed steps were not run again; the rest was.
  EXPECT_THAT(log2, Not(HasSubstr(": step 'cohort summary'")));
  EXPECT_THAT(log2, Not(HasSubstr(": step 'harmonization'")));
  EXPECT_THAT(log2, HasSubstr(": step 'debug rounds'"));
  EXPECT_THAT(log2, HasSubstr(": step 'models'"));
  // Each site did the cohort summary and the ComBat tasks once, restored
  // its checkpoint once, and saw task ids of the new epoch after the restart.
  for (const auto& s : kSites) {
    std::string site_log = ReadAll(f.SiteLog(s, 1));
    EXPECT_EQ(Count(site_log, "(cohort.moments) received"), 1u) << s;
    EXPECT_EQ(Count(site_log, "(combat.moments) received"), 1u) << s;
    EXPECT_EQ(Count(site_log, "(study.restore) received"), 1u) << s;
    EXPECT_THAT(site_log, HasSubstr("restored from the checkpoint of step 1")) << s;
    EXPECT_THAT(site_log, HasSubstr("/e1/")) << s;
  }
  nlohmann::json results = f.Results(id);
  ASSERT_TRUE(results.is_object());
  EXPECT_EQ(results["study"]["state"], "SUCCEEDED");
  EXPECT_EQ(results["study"]["epoch"], 1);
  EXPECT_EQ(results["study"]["completed_sites"], nlohmann::json(kSites));
  EXPECT_EQ(Comparable(results), Comparable(*reference_))
      << "resumed:\n" << Comparable(results).dump(1) << "\nuninterrupted:\n"
      << Comparable(*reference_).dump(1);
  // The audit log of the restarted coordinator chains on: it records the
  // resumption, and the chain verifies across the unclean stop.
  EXPECT_THAT(ReadAll(f.dir() + "/audit/coordinator.log"), HasSubstr("study.resume"));
  std::string verify;
  EXPECT_EQ(fedrad::testing::Run({FedradBin(), "audit", "verify", "--live", f.dir() + "/audit/coordinator.log"},
                f.dir() + "/verify.log", &verify), 0) << verify;
}

TEST_F(Resume, SiteKilledMidTaskGetsTheTaskAgainAndStudySucceedsWithEverySite) {
  ASSERT_TRUE(reference_ != nullptr && reference_->is_object());
  TempDir dir("resume-site");
  Federation f(dir.path());
  f.StartCoordinator(1);
  for (const auto& s : kSites) f.StartSite(s, 1);
  std::string id = f.Submit();
  ASSERT_FALSE(id.empty()) << ReadAll(f.dir() + "/cli.log");
  ASSERT_TRUE(WaitFor([&] { return Contains(f.SiteLog("S2", 1), "(debug.sleep) received"); }, 40))
      << ReadAll(f.SiteLog("S2", 1));
  f.Kill(f.site("S2"));
  ASSERT_THAT(ReadAll(f.SiteLog("S2", 1)), Not(HasSubstr("(debug.sleep) done")));
  f.StartSite("S2", 2);
  std::string status = f.WaitEnded(id);
  EXPECT_THAT(status, HasSubstr("SUCCEEDED")) << ReadAll(f.CoordinatorLog(1));
  const std::string s2 = ReadAll(f.SiteLog("S2", 2));
  // The restarted site got the same task again, loaded its checkpoint (the
  // harmonised table) from disk and answered.
  EXPECT_THAT(s2, HasSubstr("(debug.sleep) received"));
  EXPECT_THAT(s2, HasSubstr("resumed from the checkpoint of step 1"));
  EXPECT_THAT(s2, HasSubstr("(debug.sleep) done"));
  EXPECT_THAT(s2, HasSubstr("(models."));
  // ComBat's last round changed the table: the site kept a working snapshot
  // of it on disk before answering (the step's checkpoint then replaced it).
  EXPECT_THAT(ReadAll(f.SiteLog("S2", 1)), HasSubstr("(combat.fit) changed the study's state"));
  nlohmann::json results = f.Results(id);
  ASSERT_TRUE(results.is_object());
  EXPECT_EQ(results["study"]["state"], "SUCCEEDED");
  EXPECT_EQ(results["study"]["completed_sites"], nlohmann::json(kSites));
  EXPECT_TRUE(results["study"]["excluded_sites"].empty()) << results["study"].dump();
  EXPECT_EQ(Comparable(results), Comparable(*reference_))
      << "with restarted site:\n" << Comparable(results).dump(1) << "\nuninterrupted:\n"
      << Comparable(*reference_).dump(1);
  EXPECT_THAT(ReadAll(f.dir() + "/audit/S2.log"), HasSubstr("study.resume"));
  std::string verify;
  EXPECT_EQ(fedrad::testing::Run({FedradBin(), "audit", "verify", "--live", f.dir() + "/audit/S2.log"},
                f.dir() + "/verify.log", &verify), 0) << verify;
}

// A shutdown is not a cancel: SIGTERM leaves the study RUNNING (no final
// results.json) and the next start resumes it; an explicit cancel still
// ends it CANCELLED, and a restart does not resume it.
TEST_F(Resume, SigtermLeavesStudyRunningAndRestartResumesItButCancelIsFinal) {
  ASSERT_TRUE(reference_ != nullptr && reference_->is_object());
  TempDir dir("resume-term");
  Federation f(dir.path());
  f.StartCoordinator(1);
  for (const auto& s : kSites) f.StartSite(s, 1);
  std::string id = f.Submit();
  ASSERT_FALSE(id.empty()) << ReadAll(f.dir() + "/cli.log");
  ASSERT_TRUE(WaitFor([&] { return Contains(f.SiteLog("S1", 1), "(debug.sleep) received"); }, 40))
      << ReadAll(f.CoordinatorLog(1));
  kill(f.coordinator().pid, SIGTERM);
  EXPECT_EQ(Wait(f.coordinator()), 0) << ReadAll(f.CoordinatorLog(1));
  EXPECT_THAT(ReadAll(f.CoordinatorLog(1)), HasSubstr("it stays RUNNING"));
  EXPECT_FALSE(fs::exists(f.dir() + "/data/studies/" + id + "/results.json"));

  f.StartCoordinator(2);
  EXPECT_THAT(f.WaitEnded(id), HasSubstr("SUCCEEDED")) << ReadAll(f.CoordinatorLog(2));
  nlohmann::json results = f.Results(id);
  EXPECT_EQ(results["study"]["epoch"], 1);
  EXPECT_EQ(Comparable(results), Comparable(*reference_));

  // A second study, cancelled explicitly, stays cancelled across a restart.
  std::string second = f.Submit();
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(WaitFor([&] { return Count(ReadAll(f.SiteLog("S1", 1)), "(debug.sleep) received") >= 3; }, 40))
      << ReadAll(f.CoordinatorLog(2));
  f.Study({"cancel", second});
  EXPECT_THAT(f.WaitEnded(second), HasSubstr("CANCELLED"));
  kill(f.coordinator().pid, SIGTERM);
  Wait(f.coordinator());
  f.StartCoordinator(3);
  std::string list;
  ASSERT_TRUE(WaitFor([&] {
    list = f.Study({"list"});
    return list.find(second) != std::string::npos;
  }, 20)) << ReadAll(f.CoordinatorLog(3));
  EXPECT_THAT(list, HasSubstr(id));
  EXPECT_THAT(f.Study({"status", second}), HasSubstr("CANCELLED"));
  EXPECT_THAT(f.Study({"status", id}), HasSubstr("SUCCEEDED"));
  EXPECT_THAT(ReadAll(f.CoordinatorLog(3)), Not(HasSubstr("resuming")));

  // The coordinator itself refuses a wrong spec (here sent with the admin
  // client directly, past the CLI's own check), naming the field.
  v1::AdminClientConfig admin;
  ASSERT_OK(ReadTextProto(f.dir() + "/admin.textproto", &admin));
  ASSERT_OK_AND_ASSIGN(auto client, coordinator::AdminClient::Connect(admin));
  v1::Study bad;
  ASSERT_OK(ParseTextProto("cohort_summary { enabled: true } harmonization { enabled: true }",
                           "bad", &bad));
  auto refused = client->Submit(bad);
  ASSERT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("harmonization.features: is required")));
}

// `fedrad sandbox` and `fedrad study submit` refuse a wrong spec before
// anything starts or is sent, naming the field.
TEST(SpecCheck, SandboxAndSubmitRefuseAWrongSpecNamingTheFieldBeforeStartingAnything) {
  TempDir dir("speccheck");
  const std::string d = dir.path();
  WriteCohortCsv(d + "/S1.csv", "S1", 20, 1);
  WriteAll(d + "/bad.textproto",
           "sites: \"S1\"\nmodels { name: \"cox\" }\n"
           "models { name: \"ridge\" penalty { type: L2 } }\n");
  std::string out;
  int code = fedrad::testing::Run({FedradBin(), "sandbox", "--quiet", "--study", d + "/bad.textproto", "--out",
                  d + "/out", "--site", "S1=" + d + "/S1.csv"},
                 d + "/sandbox.log", &out);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("models[1].penalty.lambda: must be > 0 with penalty L2"));
  EXPECT_FALSE(fs::exists(d + "/out/logs")) << "a process was started";

  WriteAll(d + "/bad2.textproto",
           "sites: \"S1\"\nsites: \"S2\"\nmodels { name: \"cox\" }\n"
           "validation { enabled: true develop_on: \"X\" }\n");
  // No coordinator runs at this address: the spec is refused before connecting.
  code = fedrad::testing::Run({FedradBin(), "study", "submit", d + "/bad2.textproto", "--coordinator",
              "127.0.0.1:1", "--ca", d + "/none.crt", "--cert", d + "/none.crt", "--key",
              d + "/none.key"},
             d + "/submit.log", &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("validation.develop_on: names site 'X' that is not in sites"));
  EXPECT_THAT(out, Not(HasSubstr("cannot connect")));
}

}  // namespace
}  // namespace fedrad::testing
