// Shared helpers for the integration tests: run fedrad binaries as real
// processes, make seeded synthetic site tables, run `fedrad sandbox` and read
// its results.json.
//
//   TempDir dir("cohort");
//   WriteCohortCsv(dir.path() + "/S1.csv", "S1", 60, 1);
//   SandboxRun run = RunSandbox({{"S1", dir.path() + "/S1.csv"}}, kStudy, dir.path() + "/out");
//   EXPECT_EQ(run.results["study"]["state"], "SUCCEEDED");
#ifndef FEDRAD_TESTS_SANDBOX_TESTUTIL_H_
#define FEDRAD_TESTS_SANDBOX_TESTUTIL_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fedrad::testing {

inline std::string BinDir() { return FEDRAD_BIN_DIR; }
inline std::string FedradBin() { return BinDir() + "/fedrad"; }

// A fresh folder under /tmp, removed at destruction (kept when the
// FEDRAD_KEEP_TEST_DIRS environment variable is set).
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::string templ = "/tmp/fedrad-" + tag + "-XXXXXX";
    char* made = mkdtemp(templ.data());
    path_ = made ? made : "/tmp/fedrad-" + tag;
  }
  ~TempDir() {
    if (std::getenv("FEDRAD_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A started process whose stdout+stderr go to `log`.
struct Process {
  pid_t pid = -1;
  std::string log;
};

inline Process Start(const std::vector<std::string>& argv, const std::string& log) {
  Process p;
  p.log = log;
  p.pid = fork();
  if (p.pid == 0) {
    // A child never outlives the test (or benchmark) that started it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return p;
}

// Waits for the process; returns its exit code (128+signal if killed).
inline int Wait(Process& p) {
  int status = 0;
  waitpid(p.pid, &status, 0);
  p.pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

inline void Terminate(Process& p) {
  if (p.pid <= 0) return;
  kill(p.pid, SIGTERM);
  Wait(p);
}

// Runs a command to completion; *output gets stdout+stderr.
inline int Run(const std::vector<std::string>& argv, const std::string& log, std::string* output) {
  Process p = Start(argv, log);
  int code = Wait(p);
  if (output != nullptr) *output = ReadAll(log);
  return code;
}

// The site operator's approval of a study spec, as a test that starts
// fedrad-site itself must give before the site runs the study's tasks
// (`fedrad-site approve`, docs/site-operator.md). The spec file must be the
// one submitted. True on success; the command's output goes to *output.
inline bool ApproveStudy(const std::string& site_config, const std::string& study_path,
                         const std::string& log, std::string* output = nullptr) {
  return Run({BinDir() + "/fedrad-site", "approve", "--config", site_config, study_path, "--note",
              "test"},
             log, output) == 0;
}

// Polls `condition` every 20 ms for up to `seconds`; true once it holds.
template <typename F>
bool WaitFor(F condition, double seconds = 60) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// A seeded synthetic site table with the demo's columns.
inline void WriteCohortCsv(const std::string& path, const std::string& site, int n, uint64_t seed,
                           double age_shift = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> age(62 + age_shift, 9), bmi(26, 4), logcea(1.5, 1);
  std::bernoulli_distribution coin(0.5);
  std::uniform_int_distribution<int> lesions(1, 6);
  std::exponential_distribution<double> follow(1.0 / 30);
  std::ofstream out(path);
  out << "patient_id,age,sex,bmi,cea,n_lesions,time,status\n";
  out.precision(17);
  for (int i = 0; i < n; ++i) {
    out << site << "-" << i << "," << age(rng) << "," << (coin(rng) ? 1 : 0) << "," << bmi(rng)
        << "," << std::exp(logcea(rng)) << "," << lesions(rng) << "," << follow(rng) << ","
        << (coin(rng) ? 1 : 0) << "\n";
  }
}

// Columns of a CSV written by WriteCohortCsv, as doubles (test-side pooled
// computation).
inline std::vector<double> ReadColumn(const std::string& path, const std::string& column) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string h; std::getline(hs, h, ',');) header.push_back(h);
  size_t index = std::find(header.begin(), header.end(), column) - header.begin();
  std::vector<double> values;
  while (std::getline(in, line)) {
    std::stringstream ls(line);
    std::string cell;
    for (size_t i = 0; i <= index; ++i) std::getline(ls, cell, ',');
    values.push_back(std::stod(cell));
  }
  return values;
}

struct SandboxRun {
  int exit_code = -1;
  std::string output;        // the sandbox's stdout+stderr
  nlohmann::json results;    // DIR/results.json (null when absent)
  std::string out_dir;
};

// Runs `fedrad sandbox` on the given sites and study text, in out_dir.
inline SandboxRun RunSandbox(const std::vector<std::pair<std::string, std::string>>& sites,
                             const std::string& study_text, const std::string& out_dir,
                             const std::vector<std::string>& extra_args = {}) {
  std::filesystem::create_directories(out_dir);
  std::string study_path = out_dir + "/study.textproto";
  WriteAll(study_path, study_text);
  std::vector<std::string> argv = {FedradBin(), "sandbox", "--study", study_path, "--out", out_dir};
  for (const auto& [name, csv] : sites) {
    argv.push_back("--site");
    argv.push_back(name + "=" + csv);
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  SandboxRun run;
  run.out_dir = out_dir;
  run.exit_code = Run(argv, out_dir + ".sandbox.log", &run.output);
  std::string json = ReadAll(out_dir + "/results.json");
  if (!json.empty()) run.results = nlohmann::json::parse(json, nullptr, false);
  return run;
}

}  // namespace fedrad::testing

#endif  // FEDRAD_TESTS_SANDBOX_TESTUTIL_H_
