// `fedrad sandbox`: runs a whole federation on one machine (see sandbox.h).
//
// Layout of --out DIR:
//   results.json             the study's results
//   sites/NAME/              each site's local outputs (per study subfolder)
//   audit/NAME.log           each site's audit log; audit/coordinator.log
//   state/NAME/              each site's state_dir (its approval of the study)
//   logs/NAME.log            each process's stderr; logs/coordinator.log
//   pki/                     the throw-away study CA and every node's key and certificate
//   config/                  the generated configs (coordinator, sites, admin client) and
//                            study.textproto, the spec as submitted and approved
//   coordinator/data/        the coordinator's data dir (its study store is reset on each run)
//   pids/NAME.pid            process ids while running (tests use them)
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "cli/sandbox.h"
#include "coordinator/admin_client.h"
#include "coordinator/analyses.h"
#include "core/audit_log.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/status.h"
#include "proto/config.pb.h"
#include "proto/spec_hash.h"
#include "proto/textproto.h"

namespace fedrad::cli {
namespace {

namespace fs = std::filesystem;

volatile std::sig_atomic_t g_stop_signal = 0;
void OnStopSignal(int sig) { g_stop_signal = sig; }

std::string SelfDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return name != "coordinator" && name != "admin";
}

// A started child process; stopped (SIGTERM, then SIGKILL) by Stop().
struct Child {
  std::string name;
  pid_t pid = -1;
  std::string log;
};

absl::StatusOr<Child> Spawn(const std::string& name, const std::string& binary,
                            const std::vector<std::string>& args, const std::string& log_path,
                            const std::string& pid_dir) {
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot find ", binary, " (fedrad-site and fedrad-coordinator must sit next to fedrad)"));
  }
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Child: own process group so a terminal's Ctrl-C reaches only the
    // sandbox, which then stops everyone in order.
    setpgid(0, 0);
    // If the sandbox itself is killed (SIGKILL), its children follow.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  WriteStringToFile((fs::path(pid_dir) / (name + ".pid")).string(), absl::StrCat(pid, "\n"))
      .IgnoreError();
  return Child{name, pid, log_path};
}

bool Alive(Child& c) {
  if (c.pid <= 0) return false;
  int status = 0;
  pid_t r = waitpid(c.pid, &status, WNOHANG);
  if (r == c.pid) {
    c.pid = -1;
    return false;
  }
  return r == 0;
}

void Stop(Child& c) {
  if (c.pid <= 0) return;
  if (!Alive(c)) return;
  kill(c.pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {  // up to 5 s for a clean shutdown (audit close)
    if (!Alive(c)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FEDRAD_LOG(WARNING) << c.name << " did not stop within 5 s; killing it";
  kill(c.pid, SIGKILL);
  waitpid(c.pid, nullptr, 0);
  c.pid = -1;
}

// Stops every child on every exit path.
class Children {
 public:
  ~Children() { StopAll(); }
  void Add(Child c) { children_.push_back(std::move(c)); }
  void StopAll() {
    // Sites first, so the coordinator logs their goodbye; then the coordinator.
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) Stop(*it);
  }
  std::vector<Child>& all() { return children_; }

 private:
  std::vector<Child> children_;
};

std::string Abs(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// Runs `binary args...` to completion, its output appended to `log_path`;
// returns its exit code (-1 if it could not run).
int RunToEnd(const std::string& binary, const std::vector<std::string>& args,
             const std::string& log_path) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

namespace {

// The sites by name (their CSVs as absolute paths); InvalidArgument or
// NotFound naming the bad site or the spec's bad field.
absl::StatusOr<std::map<std::string, std::string>> CheckSandboxOptions(
    const SandboxOptions& options) {
  if (options.sites.empty()) return absl::InvalidArgumentError("no --site given");
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  std::map<std::string, std::string> sites;
  for (const auto& [name, csv] : options.sites) {
    if (!ValidName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad site name '", name, "' (letters, digits, - _ . ; not 'coordinator' or 'admin')"));
    }
    if (!sites.emplace(name, Abs(csv)).second) {
      return absl::InvalidArgumentError(absl::StrCat("site '", name, "' given twice"));
    }
    if (!fs::exists(csv)) return absl::NotFoundError(absl::StrCat("site ", name, ": no file ", csv));
  }
  // A wrong spec is refused before anything starts, naming the field.
  v1::Study checked = options.study;
  if (checked.sites().empty()) {
    for (const auto& [name, csv] : sites) checked.add_sites(name);
  }
  if (absl::Status s = coordinator::CheckStudy(checked); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the study spec: ", s.message()));
  }
  return sites;
}

// The --out folder's layout (see the top of this file).
struct Layout {
  fs::path out, pki_dir, ca_dir;

  explicit Layout(const fs::path& out_dir)
      : out(out_dir), pki_dir(out_dir / "pki"), ca_dir(out_dir / "pki" / "ca") {}

  void Tls(const std::string& who, v1::TlsConfig* tls) const {
    tls->set_ca_cert((ca_dir / "ca.crt").string());
    tls->set_crl((ca_dir / "crl.pem").string());
    tls->set_cert((pki_dir / (who + ".crt")).string());
    tls->set_key((pki_dir / (who + ".key")).string());
  }
};

// Creates the folders and removes what an earlier run left that this run
// must not reuse: its PKI, audit logs, approvals and coordinator state.
void PrepareOutDir(const Layout& dirs, const std::map<std::string, std::string>& sites) {
  const fs::path& out = dirs.out;
  for (const char* sub : {"pki", "config", "logs", "audit", "sites", "pids", "coordinator", "state"}) {
    fs::create_directories(out / sub);
  }
  if (fs::exists(dirs.ca_dir / "ca.key")) {
    // A previous run's PKI: start afresh (it is throw-away).
    fs::remove_all(dirs.pki_dir);
    fs::create_directories(dirs.pki_dir);
  }
  for (const auto& [name, csv] : sites) {
    fs::remove(out / "audit" / (name + ".log"));
    fs::remove_all(out / "state" / name);  // the previous run's approvals
    fs::remove(out / "logs" / (name + ".approve.log"));
  }
  fs::remove(out / "audit" / "coordinator.log");
  fs::remove(out / "coordinator" / "port");
  // A throw-away federation: a study an earlier sandbox run left RUNNING
  // (interrupted) is not resumed by this one.
  fs::remove(out / "coordinator" / "data" / "coordinator.db");
  fs::remove(out / "coordinator" / "data" / "coordinator.db-journal");
}

// A fresh throw-away PKI: the CA and the coordinator's, the admin's and
// every site's key and certificate.
absl::Status IssueSandboxPki(const Layout& dirs, const std::map<std::string, std::string>& sites) {
  const std::string ca_dir = dirs.ca_dir.string(), pki_dir = dirs.pki_dir.string();
  pki::CaOptions ca_options;
  ca_options.common_name = "fedrad sandbox CA";
  FEDRAD_RETURN_IF_ERROR(pki::InitCa(ca_dir, ca_options));
  FEDRAD_RETURN_IF_ERROR(
      pki::IssueIdentity(ca_dir, "coordinator", pki::Role::kCoordinator, pki_dir).status());
  FEDRAD_RETURN_IF_ERROR(pki::IssueIdentity(ca_dir, "admin", pki::Role::kAdmin, pki_dir).status());
  for (const auto& [name, csv] : sites) {
    FEDRAD_RETURN_IF_ERROR(pki::IssueIdentity(ca_dir, name, pki::Role::kSite, pki_dir).status());
  }
  return absl::OkStatus();
}

// The port the coordinator writes to `port_file` once it listens (up to
// 30 s); Unavailable if it exits or does not listen, Cancelled on a signal.
absl::StatusOr<int> WaitForPort(const std::string& port_file, Child& coordinator,
                                const std::string& log) {
  int port = 0;
  for (int i = 0; i < 600 && port == 0; ++i) {  // up to 30 s
    if (g_stop_signal != 0) return absl::CancelledError("interrupted");
    auto text = ReadFileToString(port_file);
    if (text.ok() && !text->empty() && text->back() == '\n') port = std::atoi(text->c_str());
    if (port == 0) {
      if (!Alive(coordinator)) {
        return absl::UnavailableError(absl::StrCat("the coordinator exited at start; see ", log));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (port == 0) return absl::UnavailableError("the coordinator did not start listening within 30 s");
  return port;
}

// Starts the coordinator on a free loopback port (port 0; it writes the
// port) and adds it to *children; its address once it listens.
absl::StatusOr<std::string> StartCoordinator(
    const SandboxOptions& options, const Layout& dirs,
    const std::function<void(const std::string&)>& progress, Children* children) {
  const fs::path& out = dirs.out;
  v1::CoordinatorConfig cc;
  cc.set_listen_address("127.0.0.1:0");
  dirs.Tls("coordinator", cc.mutable_tls());
  cc.set_data_dir((out / "coordinator" / "data").string());
  cc.set_audit_log((out / "audit" / "coordinator.log").string());
  cc.set_port_file((out / "coordinator" / "port").string());
  cc.set_site_wait_seconds(options.site_wait_seconds);
  const std::string cc_path = (out / "config" / "coordinator.textproto").string();
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile(cc_path, ToTextProto(cc)));
  FEDRAD_ASSIGN_OR_RETURN(
      Child coordinator,
      Spawn("coordinator", SelfDir() + "/fedrad-coordinator", {"--config", cc_path},
            (out / "logs" / "coordinator.log").string(), (out / "pids").string()));
  children->Add(coordinator);
  progress(absl::StrCat("started coordinator (pid ", coordinator.pid, ")"));
  FEDRAD_ASSIGN_OR_RETURN(const int port,
                          WaitForPort(cc.port_file(), children->all().back(),
                                      (out / "logs" / "coordinator.log").string()));
  const std::string address = absl::StrCat("127.0.0.1:", port);
  progress(absl::StrCat("coordinator listening on ", address, " (mutual TLS)"));
  return address;
}

// Writes site `name`'s config, has its operator approve the study spec at
// `study_path` (`fedrad-site approve`, as by hand) and starts the site.
absl::StatusOr<Child> StartSite(const SandboxOptions& options, const Layout& dirs,
                                const std::string& name, const std::string& csv,
                                const std::string& address, const std::string& study_path,
                                const v1::Study& study,
                                const std::function<void(const std::string&)>& progress) {
  const fs::path& out = dirs.out;
  const std::string bin = SelfDir();
  v1::SiteConfig sc;
  sc.set_coordinator_address(address);
  dirs.Tls(name, sc.mutable_tls());
  sc.set_data_csv(csv);
  sc.set_id_column(options.study.id_column().empty() ? "patient_id" : options.study.id_column());
  sc.mutable_policy()->set_min_cell_count(options.min_cell_count);
  sc.mutable_policy()->set_enable_debug_tasks(options.enable_debug_tasks);
  sc.set_output_dir((out / "sites" / name).string());
  sc.set_audit_log((out / "audit" / (name + ".log")).string());
  sc.set_state_dir((out / "state" / name).string());
  sc.set_heartbeat_seconds(2);
  sc.set_extraction_threads(options.extraction_threads);
  const std::string path = (out / "config" / (name + ".textproto")).string();
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile(path, ToTextProto(sc)));
  const std::string approve_log = (out / "logs" / (name + ".approve.log")).string();
  const int approved = RunToEnd(bin + "/fedrad-site",
                                {"approve", "--config", path, study_path, "--note",
                                 "approved by fedrad sandbox for this run"},
                                approve_log);
  if (approved != 0) {
    return absl::UnavailableError(absl::StrCat("site ", name, ": `fedrad-site approve` failed (exit ",
                                               approved, "); see ", approve_log));
  }
  progress(absl::StrCat("site ", name, " approved the study spec (fedrad-site approve, spec sha256 ",
                        StudySpecHash(study).substr(0, 12), "...)"));
  FEDRAD_ASSIGN_OR_RETURN(Child site, Spawn(name, bin + "/fedrad-site", {"--config", path},
                                            (out / "logs" / (name + ".log")).string(),
                                            (out / "pids").string()));
  progress(absl::StrCat("started site ", name, " (pid ", site.pid, ", data ", csv, ")"));
  return site;
}

// Restores the signal handlers RunSandbox replaced.
struct RestoreSignals {
  struct sigaction i, t;
  ~RestoreSignals() {
    sigaction(SIGINT, &i, nullptr);
    sigaction(SIGTERM, &t, nullptr);
  }
};

}  // namespace

absl::StatusOr<nlohmann::json> RunSandbox(const SandboxOptions& options) {
  FEDRAD_ASSIGN_OR_RETURN(const auto sites, CheckSandboxOptions(options));
  const Layout dirs(Abs(options.out_dir));
  const fs::path& out = dirs.out;
  PrepareOutDir(dirs, sites);
  FEDRAD_RETURN_IF_ERROR(IssueSandboxPki(dirs, sites));

  // Stop everything on Ctrl-C / SIGTERM.
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int, old_term;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  RestoreSignals restore{old_int, old_term};
  g_stop_signal = 0;
  auto stopped = [] { return g_stop_signal != 0; };

  Children children;
  std::function<void(const std::string&)> progress = [&](const std::string& line) {
    if (!options.quiet) std::cerr << "[sandbox] " << line << std::endl;
  };

  FEDRAD_ASSIGN_OR_RETURN(const std::string address,
                          StartCoordinator(options, dirs, progress, &children));

  // The spec exactly as it is submitted (its sites filled in): each site's
  // operator approves it, as `fedrad-site approve` would be run by hand.
  v1::Study study = options.study;
  if (study.sites().empty()) {
    for (const auto& [name, csv] : sites) study.add_sites(name);
  }
  const std::string study_path = (out / "config" / "study.textproto").string();
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile(study_path, ToTextProto(study)));
  for (const auto& [name, csv] : sites) {
    FEDRAD_ASSIGN_OR_RETURN(
        Child site, StartSite(options, dirs, name, csv, address, study_path, study, progress));
    children.Add(site);
  }

  v1::AdminClientConfig ac;
  ac.set_coordinator_address(address);
  dirs.Tls("admin", ac.mutable_tls());
  const std::string ac_path = (out / "config" / "admin.textproto").string();
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile(ac_path, ToTextProto(ac)));
  FEDRAD_ASSIGN_OR_RETURN(auto client, coordinator::AdminClient::Connect(ac));

  absl::StatusOr<std::string> id;
  for (int attempt = 0; attempt < 50; ++attempt) {  // the server may need a moment
    id = client->Submit(study);
    if (id.ok() || id.status().code() != absl::StatusCode::kUnavailable || stopped()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!id.ok()) return Annotate(id.status(), "submitting the study");
  progress(absl::StrCat("study ", *id, " submitted"));
  std::string last_line;
  auto last = client->Watch(
      *id,
      [&](const v1::StudyStatus& s) {
        // Site states change every round ("working on ...", "answered");
        // only an unusual one (excluded, disconnected, ...) is shown, so
        // there is one line per step or message change.
        v1::StudyStatus shown = s;
        shown.mutable_sites()->clear();
        for (const auto& [site, state] : s.sites()) {
          if (!absl::StartsWith(state, "working on") && state != "answered" &&
              state != "connected" && state != "waiting") {
            (*shown.mutable_sites())[site] = state;
          }
        }
        std::string line = coordinator::FormatStatus(shown);
        if (line != last_line) progress(line);
        last_line = line;
        // A site process that died is worth saying at once.
        for (auto& c : children.all()) {
          if (c.pid > 0 && !Alive(c)) progress(absl::StrCat("process ", c.name, " exited; see ", c.log));
        }
      },
      stopped);
  if (stopped()) {
    progress("interrupted: stopping every process");
    children.StopAll();
    return absl::CancelledError("interrupted by a signal");
  }
  if (!last.ok()) return Annotate(last.status(), "watching the study");
  FEDRAD_ASSIGN_OR_RETURN(std::string json_text, client->Results(*id));
  children.StopAll();
  fs::remove_all(out / "pids");
  auto json = nlohmann::json::parse(json_text, nullptr, false);
  if (json.is_discarded()) return absl::DataLossError("results.json does not parse");
  // The sandbox sees every node's audit log: record each site's head for
  // this study (the hash of its last record of the study, as `fedrad study
  // report --audit-log` does) beside the coordinator's.
  for (const auto& [name, csv] : sites) {
    auto records = audit::ReadRecords((out / "audit" / (name + ".log")).string());
    if (!records.ok()) continue;
    auto end = audit::LastRecordOfStudy(*records, *id);
    if (end.ok()) json["provenance"]["audit_log_heads"][name] = end->hash;
  }
  const std::string results_path = (out / "results.json").string();
  FEDRAD_RETURN_IF_ERROR(WriteStringToFile(results_path, json.dump(2) + "\n"));
  progress(absl::StrCat("study ", last->state(), "; results in ", results_path));
  return json;
}

namespace {

int RunSandboxCommand(Args& args) {
  args.Describe(
      "Runs a whole federation on this machine: a fresh throw-away PKI, a coordinator and one "
      "site process per --site on loopback with mutual TLS, one study. Writes DIR/results.json, "
      "each site's outputs under DIR/sites/NAME/, every audit log under DIR/audit/. Exit code 0 "
      "if the study succeeded, 1 if it failed (results.json says why), 2 for bad arguments.");
  std::vector<std::string> site_flags = args.Flags("site", "NAME=DATA.csv (repeat per site)");
  std::string study_path = args.Flag("study", "", "Study spec, text-format fedrad.v1.Study (required)");
  std::string out = args.Flag("out", "", "Output folder (required)");
  long k = args.Int("k", 10, "Every site's minimum cell count");
  bool debug = args.Bool("debug-tasks", "Enable test-only task kinds at the sites");
  bool quiet = args.Bool("quiet", "No progress lines");
  double wait = args.Double("site-wait", 30, "Seconds the study waits for its sites to connect");
  long extraction_threads =
      args.Int("extraction-threads", 0, "Every site's feature-extraction threads (0: all cores)");
  if (!args.Finish()) return args.exit_code();
  if (study_path.empty()) return args.UsageError("--study is required");
  if (out.empty()) return args.UsageError("--out is required");
  if (site_flags.empty()) return args.UsageError("at least one --site NAME=DATA.csv is required");
  SandboxOptions options;
  for (const auto& f : site_flags) {
    std::vector<std::string> parts = absl::StrSplit(f, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return args.UsageError("--site takes NAME=DATA.csv, got '" + f + "'");
    }
    options.sites.emplace_back(parts[0], parts[1]);
  }
  if (absl::Status s = ReadTextProto(study_path, &options.study); !s.ok()) {
    std::cerr << "fedrad sandbox: " << s.message() << "\n";
    return 2;
  }
  options.out_dir = out;
  options.min_cell_count = static_cast<int>(k);
  options.enable_debug_tasks = debug;
  options.quiet = quiet;
  options.site_wait_seconds = wait;
  options.extraction_threads = static_cast<int>(extraction_threads);
  auto results = RunSandbox(options);
  if (!results.ok()) {
    std::cerr << "fedrad sandbox: " << results.status().message() << "\n";
    return results.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  const auto& study = (*results)["study"];
  std::cout << "study " << study.value("id", "") << ": " << study.value("state", "") << " ("
            << study.value("message", "") << ")\nresults: " << (fs::path(out) / "results.json").string()
            << "\n";
  return study.value("state", "") == "SUCCEEDED" ? 0 : 1;
}

FEDRAD_REGISTER_COMMAND("sandbox", "Run a whole federation on this machine", RunSandboxCommand);

}  // namespace
}  // namespace fedrad::cli
