// The adversarial suite (issue 11): a site trusts nothing it receives.
//
// THREAT MODEL. The coordinator's operator may be curious or malicious and
// may run any code in place of fedrad-coordinator; it holds nothing but the
// coordinator's legitimate certificate from the study CA. Here that
// coordinator is tests/adversarial/rogue_coordinator.cc, a separate process
// speaking the real wire protocol over real mutual TLS to a real fedrad-site.
// Every attack runs INSIDE a study the site operator approved with
// `fedrad-site approve --config site.textproto STUDY.textproto` (so the
// approval gate alone cannot be what stops it), except the attacks on the
// gate itself (unapproved, withdrawn, expired).
//
// WHAT IS ASSERTED, for every attack (property-based, not exact numbers, so
// that the payload names other engineers are finalising may change):
//   - the site never crashes: it is still running when the rogue is done,
//     and stops within a few seconds of SIGTERM;
//   - it never hangs: every task is answered within its timeout;
//   - it writes nothing outside its output, state and audit folders (the
//     attack's temp tree is snapshotted before and after; the data table,
//     config and specs are unchanged; the audit log is still JSON Lines, so
//     it was not overwritten, e.g. with the patient table);
//   - it releases nothing finer than k (10, or the study's larger k):
//       * cumulative counts (`counts.*`, `lp_counts`) merged over all the
//         answers of one study, with 0 and n added, step by 0 or >= k;
//         per-interval event counts (`grid_events`) are counts; risk-set sums
//         at beta = 0 step by 0 or >= k;
//       * Kaplan-Meier n_at_risk and ROC steps (tpr * n_pos, fpr * n_neg)
//         move by 0 or >= k patients; no released group, bin, event count
//         or non-event count is 1..k-1; the scalars "n" and "events" of one
//         study never differ by 1..k-1;
//       * no status message or released text holds a patient id, a file
//         path, a file line, a cell value of the table or a true count the
//         coordinator did not already know (numbers the task itself carried
//         are allowed);
//       * a refused task releases no payload;
//       * model derivatives released at a coefficient vector under which one
//         patient carries more than 1/k of the weight sum (or all weights
//         saturate) are a leak (the test recomputes the weights from the
//         table);
//   - plus each attack's own checks (e.g. the age column cannot be rebuilt
//     from a threshold sweep; unapproved studies are refused naming the
//     approval).
//
// Attacks whose spec `fedrad-site approve` refuses (one_event_cox,
// steep_logistic, regex_nested, huge_output_suffix) show the approve-time
// checks; each has a variant (*_approved) made with s.ApprovedStudy(), for
// which a refused approval fails the attack, so that the task-time rule is
// what it meets.
//
// ADDING AN ATTACK: write a function `void MyAttack(AttackSetup& s)` that adds its
// studies with s.Study(name, text[, approval]) or s.ApprovedStudy(name,
// text), optionally sets s.csv (a variant of the table), adds its tasks with
// s.Task(kind, study, params), optionally pushes extra checks onto s.checks,
// and add one line {"my_attack", MyAttack} to kAttacks at the bottom. The
// generic checks above run on every attack.
//
// Environment: FEDRAD_ADVERSARIAL_SITE_BIN_DIR=<folder> attacks the
// fedrad-site in that folder instead of this build's; FEDRAD_KEEP_TEST_DIRS=1
// keeps each attack's temp tree (rogue script and JSON Lines, site log).
//
// `fedrad-site approve` must exist with the flags docs/site-operator.md gives:
// a usage error from it fails the attack (no attack runs unapproved because
// the command is missing).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <Eigen/Dense>

#include "core/pki.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "models/cox.h"
#include "models/data.h"
#include "models/curves.h"
#include "models/metrics.h"
#include "models/pooled_baseline.h"
#include "proto/node_audit.h"
#include "proto/payload.h"
#include "re2/re2.h"
#include "proto/round_signing.h"
#include "proto/spec_hash.h"
#include "proto/textproto.h"
#include "rounds/fit_replay.h"
#include "rounds/transcript.h"
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kSiteK = 10;
constexpr int kPatients = 60;
constexpr char kSite[] = "C2";
constexpr double kDefaultTaskTimeout = 15;

// ---------------------------------------------------------------------------
// The site's table: 60 seeded patients, made in code.

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> cells;  // rows
  std::map<std::string, std::vector<double>> num;  // numeric columns
  std::vector<std::string> ids;
  std::string Csv() const {
    std::string out;
    for (size_t c = 0; c < header.size(); ++c) out += (c ? "," : "") + header[c];
    out += "\n";
    for (const auto& row : cells) {
      for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + row[c];
      out += "\n";
    }
    return out;
  }
  const std::vector<double>& col(const std::string& name) const { return num.at(name); }
};

std::string Fmt(const char* f, double v) {
  char buf[64];
  snprintf(buf, sizeof(buf), f, v);
  return buf;
}

Table MakeTable() {
  std::mt19937_64 rng(20240611);
  auto uniform = [&](int lo, int hi) { return lo + static_cast<int>(rng() % (hi - lo + 1)); };
  auto normal = [&] {  // Irwin-Hall, deterministic across standard libraries
    double s = 0;
    for (int i = 0; i < 12; ++i) s += (rng() >> 11) * (1.0 / 9007199254740992.0);
    return s - 6;
  };
  Table t;
  t.header = {"patient_id", "age",  "size", "n_lesions", "chemo", "time", "status", "recur2y",
              "cause",      "f1",   "f2",   "f3",        "f4",    "f5",   "image",  "mask"};
  for (int i = 0; i < kPatients; ++i) {
    char id[16];
    snprintf(id, sizeof(id), "case-%03d", i);
    std::vector<std::string> row;
    row.push_back(id);
    t.ids.push_back(id);
    // Cells are never round numbers (no age 60.0, no time 730), so that a
    // number a site's rule names (a grid step, a cap) is never mistaken for
    // a cell in a message.
    auto not_round = [](int v, int m) { return v % m == 0 ? v + 1 : v; };
    row.push_back(Fmt("%.1f", not_round(uniform(350, 850), 10) / 10.0));  // age, one decimal
    row.push_back(Fmt("%.1f", not_round(uniform(50, 800), 10) / 10.0));   // size (mm)
    row.push_back(std::to_string(uniform(1, 6)));                         // n_lesions
    row.push_back(std::to_string(uniform(0, 1)));                         // chemo
    row.push_back(std::to_string(not_round(uniform(30, 2500), 5)));       // time (days)
    const int status = uniform(0, 1);
    row.push_back(std::to_string(status));
    row.push_back(std::to_string(uniform(0, 1)));            // recur2y
    row.push_back(std::to_string(status ? uniform(1, 2) : 0));  // cause of death
    for (int f = 0; f < 5; ++f) {
      long v = std::lround((normal() + f) * 1e4);
      if (v % 10 == 0) v += 1;
      row.push_back(Fmt("%.4f", v / 1e4));
    }
    row.push_back(std::string("images/") + id + ".nii.gz");  // absent files
    row.push_back(std::string("masks/") + id + ".nii.gz");
    t.cells.push_back(row);
  }
  for (size_t c = 1; c < t.header.size() - 2; ++c) {
    std::vector<double>& v = t.num[t.header[c]];
    for (const auto& row : t.cells) v.push_back(std::strtod(row[c].c_str(), nullptr));
  }
  return t;
}

const Table& TheTable() {
  static const Table* t = new Table(MakeTable());
  return *t;
}

std::vector<double> Sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}
std::vector<double> Distinct(std::vector<double> v) {
  v = Sorted(v);
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}
std::vector<double> Range(double from, double to, double step) {
  std::vector<double> out;
  for (int i = 0;; ++i) {
    double x = from + i * step;
    if (x > to + 1e-9) break;
    out.push_back(std::round(x * 1e6) / 1e6);
  }
  return out;
}
std::vector<double> Midpoints(const std::vector<double>& values) {
  std::vector<double> d = Distinct(values), out;
  for (size_t i = 0; i + 1 < d.size(); ++i) out.push_back((d[i] + d[i + 1]) / 2);
  return out;
}
double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// ---------------------------------------------------------------------------
// What an attack declares.

enum class Approval { kApprove, kNone, kWithdraw, kExpired };

struct StudyDef {
  std::string name;  // file stem and spec name
  std::string path;
  std::string text;
  Approval approval = Approval::kApprove;
  int k = kSiteK;  // effective k: max(site, study)
  // A variant that must pass `fedrad-site approve` (so that the task-time
  // rule, not the approve-time check, is what the attack meets): a refused
  // approval fails the attack. `approved` is what the command said.
  bool must_approve = false;
  bool approved = false;
};

// Task parameters, as the rogue sends them.
struct Params {
  json arrays = json::array();
  json strings = json::object();
  Params& A(const std::string& name, const std::vector<double>& values) {
    json v = json::array();
    for (double x : values) {
      if (std::isnan(x)) v.push_back("nan");
      else if (std::isinf(x)) v.push_back(x > 0 ? "inf" : "-inf");
      else v.push_back(x);
    }
    arrays.push_back({{"name", name}, {"values", v}});
    return *this;
  }
  Params& Scalar(const std::string& name, double value) {
    A(name, {value});
    arrays.back()["scalar"] = true;
    return *this;
  }
  Params& Matrix(const std::string& name, int rows, int cols, const std::vector<double>& values) {
    A(name, values);
    arrays.back()["shape"] = {rows, cols};
    return *this;
  }
  Params& S(const std::string& key, const std::string& value) {
    strings[key] = value;
    return *this;
  }
  // A list parameter (Payload.lists, proto/task_kinds.h).
  Params& L(const std::string& key, const std::vector<std::string>& values) {
    lists[key] = values;
    return *this;
  }
  // The strings and the lists (one item a line): the text the checks read.
  json Texts() const {
    json t = strings;
    for (auto& [key, value] : lists.items()) {
      std::string text;
      for (const auto& v : value) text += (text.empty() ? "" : "\n") + v.get<std::string>();
      t[key] = text;
    }
    return t;
  }
  json lists = json::object();
  json ToJson() const { return {{"arrays", arrays}, {"strings", strings}, {"lists", lists}}; }
};

struct Answer {
  std::string event;  // result | timeout | stream_ended
  std::string task_id, kind, study_id;
  int status_code = -1;
  std::string status_message;
  int64_t n_contributing = 0;
  int64_t elapsed_ms = 0;
  std::map<std::string, std::vector<double>> arrays;  // null -> NaN
  std::map<std::string, std::string> strings;
  std::string signed_round;  // the round of its signed contribution, if any
  bool ok() const { return event == "result" && status_code == 0; }
};

struct TaskDef {
  json task;        // as in the script
  const StudyDef* study = nullptr;
  Params params;
};

struct Outcome;

// The suite's PKI folder (set by SetUpTestSuite): certs/<CN>.crt and .key of
// the coordinator, the site under attack (C2) and two other sites (C1, C3)
// whose keys the verifiable-rounds attacks sign with.
std::string g_pki_dir;

struct AttackSetup {
  std::string dir;  // the attack's temp tree
  std::vector<std::unique_ptr<StudyDef>> studies;
  std::vector<TaskDef> tasks;
  std::vector<std::function<void(const Outcome&)>> checks;
  std::string policy_extra;  // inside policy { }
  std::string csv;           // the site's table; empty: TheTable()
  double overall_timeout = 150;

  const StudyDef& Study(const std::string& name, const std::string& body,
                        Approval approval = Approval::kApprove) {
    auto s = std::make_unique<StudyDef>();
    s->name = name;
    s->path = dir + "/studies/" + name + ".textproto";
    s->text = "name: \"" + name + "\"\n" + body;
    s->approval = approval;
    static const RE2 k_re("min_cell_count:\\s*([0-9]+)");
    int k = 0;
    if (RE2::PartialMatch(body, k_re, &k)) s->k = std::max(kSiteK, k);
    studies.push_back(std::move(s));
    return *studies.back();
  }
  // A study the site must approve (see StudyDef::must_approve).
  const StudyDef& ApprovedStudy(const std::string& name, const std::string& body) {
    const StudyDef& st = Study(name, body);
    studies.back()->must_approve = true;
    return st;
  }
  // study_id default: the study's name.
  TaskDef& Task(const std::string& kind, const StudyDef& study, Params params = {},
                const std::string& study_id = "", double timeout = kDefaultTaskTimeout) {
    TaskDef t;
    t.study = &study;
    t.params = params;
    t.task = {{"task_id", "t" + std::to_string(tasks.size() + 1) + "-" + kind},
              {"kind", kind},
              {"study_id", study_id.empty() ? study.name : study_id},
              {"study_file", study.path},
              {"timeout_seconds", timeout},
              {"params", params.ToJson()}};
    tasks.push_back(std::move(t));
    return tasks.back();
  }
};

struct Outcome {
  const AttackSetup* setup = nullptr;
  std::vector<Answer> answers;  // in order of arrival
  std::map<std::string, Answer> by_task;
  json hello;
  std::string site_log;
  std::string audit_log;  // the site's audit log (JSON Lines)
  const TaskDef* Def(const std::string& task_id) const {
    for (const auto& t : setup->tasks) {
      if (t.task["task_id"] == task_id) return &t;
    }
    return nullptr;
  }
  int KOf(const Answer& a) const {
    const TaskDef* d = Def(a.task_id);
    return d ? d->study->k : kSiteK;
  }
};

// ---------------------------------------------------------------------------
// Processes.

// The fedrad-site under attack: this build's, or the one in the folder named
// by FEDRAD_ADVERSARIAL_SITE_BIN_DIR (to run the suite against another
// branch's build).
std::string SiteBin() {
  const char* dir = std::getenv("FEDRAD_ADVERSARIAL_SITE_BIN_DIR");
  return std::string(dir != nullptr && *dir ? dir : BinDir().c_str()) + "/fedrad-site";
}

struct Proc {
  pid_t pid = -1;
  int exit_code = -1;  // once reaped
};

Proc Spawn(const std::vector<std::string>& argv, const std::string& log, const std::string& cwd = "") {
  Proc p;
  p.pid = fork();
  if (p.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return p;
}

// True once the process has exited (reaped; exit_code set).
bool Exited(Proc& p) {
  if (p.pid <= 0) return true;
  int status = 0;
  pid_t r = waitpid(p.pid, &status, WNOHANG);
  if (r == 0) return false;
  p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  p.pid = -1;
  return true;
}

bool WaitExit(Proc& p, double seconds) {
  return WaitFor([&] { return Exited(p); }, seconds);
}

// SIGTERM, then SIGKILL after `grace` seconds. False if SIGKILL was needed.
bool Stop(Proc& p, double grace) {
  if (Exited(p)) return true;
  kill(p.pid, SIGTERM);
  if (WaitExit(p, grace)) return true;
  kill(p.pid, SIGKILL);
  WaitExit(p, 10);
  return false;
}

int RunToEnd(const std::vector<std::string>& argv, const std::string& log, std::string* out,
             double seconds = 60, const std::string& cwd = "") {
  Proc p = Spawn(argv, log, cwd);
  if (!WaitExit(p, seconds)) {
    Stop(p, 1);
    *out = ReadAll(log);
    return -1;
  }
  *out = ReadAll(log);
  return p.exit_code;
}

// ---------------------------------------------------------------------------
// The temp tree before and after.

struct FileInfo {
  uintmax_t size = 0;
  std::string digest;  // content hash (small files) or size+mtime
};

std::map<std::string, FileInfo> Snapshot(const std::string& root) {
  std::map<std::string, FileInfo> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    FileInfo info;
    if (it->is_regular_file(ec)) {
      info.size = it->file_size(ec);
      info.digest = std::to_string(std::hash<std::string>{}(ReadAll(p.string())));
    } else if (it->is_directory(ec)) {
      info.digest = "dir";
    }
    out[p.string()] = info;
  }
  return out;
}

bool Under(const std::string& path, const std::string& folder) {
  return path == folder || path.rfind(folder + "/", 0) == 0;
}

// ---------------------------------------------------------------------------
// Checkers.

// Collects failures by category, printing at most a few per check so that a
// leak does not drown the log.
class Findings {
 public:
  void Add(const std::string& category, const std::string& what) {
    int& n = count_[category];
    if (++n <= 4) ADD_FAILURE() << category << ": " << what;
    else if (n == 5) ADD_FAILURE() << category << ": (further findings of this kind not shown)";
  }
  int total() const {
    int t = 0;
    for (const auto& [c, n] : count_) t += n;
    return t;
  }
  std::string Summary() const {
    std::string s;
    for (const auto& [c, n] : count_) s += c + "=" + std::to_string(n) + " ";
    return s.empty() ? "none" : s;
  }

 private:
  std::map<std::string, int> count_;
};

bool IsInteger(double v) { return std::isfinite(v) && std::fabs(v - std::round(v)) < 1e-6; }

std::string Join(const std::vector<double>& v, size_t max = 12) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; ++i) s += (i ? "," : "") + Fmt("%g", v[i]);
  if (v.size() > max) s += ",...";
  return s;
}

// A family of counts of the same quantity: every two distinct values must be
// >= k apart (so every cell between them is 0 or >= k patients).
void CheckGaps(const std::string& what, std::vector<double> values, int k, Findings* f) {
  std::vector<double> ints;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (!IsInteger(v)) return;  // not a count
    ints.push_back(std::round(v));
  }
  ints = Distinct(ints);
  for (size_t i = 0; i + 1 < ints.size(); ++i) {
    double d = ints[i + 1] - ints[i];
    if (d > 0 && d < k) {
      f->Add("LEAK cell < k", what + ": counts " + Fmt("%g", ints[i]) + " and " +
                                  Fmt("%g", ints[i + 1]) + " differ by " + Fmt("%g", d) +
                                  " (k=" + std::to_string(k) + ")");
      return;
    }
  }
}

bool NameIs(const std::string& name, const std::string& last) {
  return name == last || (name.size() > last.size() &&
                          name.compare(name.size() - last.size() - 1, last.size() + 1, "." + last) == 0);
}

// The numbers a message may hold: those the coordinator already knows (the
// task's own numbers, sizes of what it sent, the spec's numbers, k and the
// site's published caps).
std::set<double> KnownNumbers(const Outcome& run, const Answer& a) {
  std::set<double> known = {0, 1, 2, 3, 4096, 1000000, 2000, 128, 65536, 1024, 64};
  known.insert(kSiteK);
  known.insert(run.KOf(a));
  const TaskDef* d = run.Def(a.task_id);
  if (d == nullptr) return known;
  for (const auto& arr : d->params.arrays) {
    known.insert(static_cast<double>(arr["values"].size()));
    for (const auto& v : arr["values"]) {
      if (v.is_number()) known.insert(v.get<double>());
    }
  }
  const json texts = d->params.Texts();
  for (auto& [key, value] : texts.items()) {
    const std::string s = value.get<std::string>();
    known.insert(static_cast<double>(s.size()));
    std::stringstream ls(s);
    int lines = 0;
    for (std::string line; std::getline(ls, line);) ++lines;
    known.insert(lines);
  }
  static const RE2 number_re("(-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)");
  re2::StringPiece spec(d->study->text);
  for (std::string number; RE2::FindAndConsume(&spec, number_re, &number);) {
    known.insert(std::strtod(number.c_str(), nullptr));
  }
  return known;
}

// True counts of the table a message must not reveal (patients in a group).
std::set<double> TrueCounts() {
  const Table& t = TheTable();
  std::set<double> out = {static_cast<double>(kPatients)};
  for (const char* c : {"n_lesions", "chemo", "status", "recur2y", "cause"}) {
    std::map<double, int> by;
    for (double v : t.col(c)) ++by[v];
    for (auto& [v, n] : by) {
      out.insert(n);
      out.insert(kPatients - n);
    }
  }
  return out;
}

void CheckText(const Outcome& run, const Answer& a, const std::string& field, const std::string& text,
               const std::string& root, Findings* f) {
  if (text.empty()) return;
  const std::string where = a.task_id + " " + field + ": \"" + text.substr(0, 300) + "\"";
  const TaskDef* def = run.Def(a.task_id);
  const std::string sent = def ? def->study->text + def->params.Texts().dump() : "";
  for (const std::string& id : TheTable().ids) {
    if (text.find(id) != std::string::npos && sent.find(id) == std::string::npos) {
      f->Add("LEAK patient id in text", where);
      return;
    }
  }
  if (text.find(root + "/site") != std::string::npos || text.find("site.csv") != std::string::npos ||
      text.find("site.textproto") != std::string::npos || text.find("fedrad-adv-pki") != std::string::npos) {
    f->Add("LEAK path in text", where);
    return;
  }
  static const RE2 line_re("(?i)\\blines? [0-9]+");
  if (RE2::PartialMatch(text, line_re)) {
    f->Add("LEAK file line in text", where);
    return;
  }
  const std::set<double> known = KnownNumbers(run, a);
  static const std::set<double> counts = TrueCounts();
  std::set<double> cells;
  for (const auto& [name, values] : TheTable().num) {
    for (double v : values) {
      if (!IsInteger(v) || std::fabs(v) >= 10) cells.insert(v);
    }
  }
  // Numbers: maximal runs of [A-Za-z0-9.+-] that parse whole as a number
  // (so hex digests and names with digits are not numbers).
  size_t i = 0;
  while (i < text.size()) {
    auto is_tok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+'; };
    if (!is_tok(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && is_tok(text[j])) ++j;
    std::string tok = text.substr(i, j - i);
    i = j;
    while (!tok.empty() && (tok.back() == '.' || tok.back() == '-')) tok.pop_back();
    if (tok.empty() || tok.size() > 40) continue;
    char* end = nullptr;
    const double v = std::strtod(tok.c_str(), &end);
    if (end != tok.c_str() + tok.size() || !std::isfinite(v)) continue;
    if (known.count(v)) continue;
    if (a.ok() && v == kPatients) continue;  // n >= k is released with every answer; a refusal names no count
    const bool is_cell = cells.count(v) > 0;
    const bool is_count = IsInteger(v) && counts.count(v) > 0;
    if (is_cell || is_count) {
      f->Add(is_cell ? "LEAK cell value in text" : "LEAK true count in text", where + " holds " + tok);
      return;
    }
  }
}

// Model weights under the coefficients a derivatives task sent: one patient
// carrying more than 1/k of the weight sum, or every weight saturated, makes
// the released derivatives a function of fewer than k patients.
void CheckWeights(const Outcome& run, const Answer& a, Findings* f) {
  const TaskDef* d = run.Def(a.task_id);
  if (d == nullptr) return;
  std::vector<double> beta;
  std::vector<std::string> covs;
  for (const auto& arr : d->params.arrays) {
    if (arr["name"] == "beta") {
      for (const auto& v : arr["values"]) beta.push_back(v.is_number() ? v.get<double>() : NAN);
    }
  }
  if (d->params.Texts().contains("covariates")) {
    std::stringstream ss(d->params.Texts()["covariates"].get<std::string>());
    for (std::string line; std::getline(ss, line);) {
      if (!line.empty()) covs.push_back(line);
    }
  }
  for (double b : beta) {
    if (!std::isfinite(b)) {
      f->Add("BOUNDS non-finite beta accepted", a.task_id + ": derivatives released at beta=[" + Join(beta) + "]");
      return;
    }
  }
  const Table& t = TheTable();
  for (const auto& c : covs) {
    if (!t.num.count(c)) return;
  }
  const bool logistic = d->study->text.find("LOGISTIC") != std::string::npos;
  if (beta.size() != covs.size() + (logistic ? 1 : 0)) return;
  std::vector<double> w;
  for (int i = 0; i < kPatients; ++i) {
    double lp = logistic ? beta[0] : 0;
    for (size_t j = 0; j < covs.size(); ++j) lp += beta[j + (logistic ? 1 : 0)] * t.col(covs[j])[i];
    if (logistic) {
      const double p = Sigmoid(lp);
      w.push_back(p * (1 - p));
    } else {
      w.push_back(lp);  // log weights, normalised below
    }
  }
  if (!logistic) {
    const double mx = *std::max_element(w.begin(), w.end());
    for (double& x : w) x = std::exp(x - mx);
  }
  double sum = 0, mx = 0;
  for (double x : w) {
    sum += x;
    mx = std::max(mx, x);
  }
  const int k = run.KOf(a);
  if (!(sum > 1e-12) || mx / sum > 1.0 / k) {
    f->Add("LEAK weight concentration",
           a.task_id + ": derivatives released at beta=[" + Join(beta) +
               "] where one patient carries " + Fmt("%.3g", sum > 0 ? mx / sum : 1.0) +
               " of the weight sum (> 1/k)");
  }
}

void CheckReleases(const Outcome& run, const std::string& root, Findings* f) {
  // Families merged across the answers of one study.
  std::map<std::string, std::vector<double>> families;
  std::map<std::string, int> family_k;
  for (const Answer& a : run.answers) {
    if (a.event != "result") continue;
    const int k = run.KOf(a);
    CheckText(run, a, "status_message", a.status_message, root, f);
    for (const auto& [key, value] : a.strings) CheckText(run, a, "text '" + key + "'", value, root, f);
    if (!a.ok()) {
      if (!a.arrays.empty()) {
        f->Add("LEAK payload with a refusal", a.task_id + " (status " + std::to_string(a.status_code) +
                                                  ") carries arrays");
      }
      continue;
    }
    const TaskDef* d = run.Def(a.task_id);
    auto fam = [&](const std::string& name) {
      const std::string key = a.study_id + "|" + name;
      family_k[key] = std::max(family_k[key], k);
      return &families[key];
    };
    auto value_of = [&](const std::string& name, double fallback) {
      auto it = a.arrays.find(name);
      return it != a.arrays.end() && it->second.size() == 1 ? it->second[0] : fallback;
    };
    const double n_here = value_of("n", kPatients);
    std::string beta_key;
    if (d != nullptr) {
      for (const auto& arr : d->params.arrays) {
        if (arr["name"] == "beta") beta_key = arr["values"].dump();
      }
      if (d->params.Texts().contains("covariates")) {
        beta_key += "|" + d->params.Texts()["covariates"].get<std::string>();
      }
    }
    for (const auto& [name, values] : a.arrays) {
      const std::string where = a.task_id + " " + a.kind + " '" + name + "'";
      if (name.rfind("counts.", 0) == 0) {
        auto* v = fam(name);
        v->insert(v->end(), values.begin(), values.end());
        v->push_back(0);
        v->push_back(kPatients);
      } else if (name == "lp_counts") {
        auto* v = fam(name + "|" + beta_key);
        v->insert(v->end(), values.begin(), values.end());
        v->push_back(0);
        v->push_back(n_here);
      } else if (name == "grid_events") {
        // The rule (issue 11, as trusted research environments apply it to
        // Kaplan-Meier tables): a step only after at least k patients left
        // the risk set. The events among those leavers may be fewer than k;
        // the leavers are checked on the risk-set sums below.
        for (double x : values) {
          if (!(x >= 0) || !IsInteger(x)) {
            f->Add("LEAK cell", where + " holds a non-count " + Fmt("%g", x));
            break;
          }
        }
      } else if (name == "grid_risk_sum" && beta_key.rfind("[0", 0) == 0 &&
                 beta_key.find_first_not_of("[0.,]") == beta_key.find('|')) {
        std::vector<double> v = values;
        v.push_back(0);
        v.push_back(n_here);
        CheckGaps(where + " (beta = 0: risk-set counts)", v, k, f);
      } else if (NameIs(name, "n_at_risk")) {
        std::vector<double> v = values;
        v.push_back(0);
        CheckGaps(where + " (Kaplan-Meier steps)", v, k, f);
      } else if (name == "curve.roc.tpr" || name == "curve.roc.fpr") {
        const double total = value_of(name == "curve.roc.tpr" ? "curve.roc.n_pos" : "curve.roc.n_neg", 0);
        std::vector<double> v = {0, total};
        for (double x : values) v.push_back(std::round(x * total * 1e6) / 1e6);
        CheckGaps(where + " (ROC steps x " + Fmt("%g", total) + ")", v, k, f);
      } else if (NameIs(name, "n") || NameIs(name, "events") || NameIs(name, "n_pos") ||
                 NameIs(name, "n_neg") || NameIs(name, "count_one") || name == "n_ok" ||
                 name == "n_excluded" || name == "n_cases") {
        for (double x : values) {
          if (IsInteger(x) && x > 0.5 && x < k) {
            f->Add("LEAK group < k", where + " = " + Fmt("%g", x) + " (k=" + std::to_string(k) + ")");
            break;
          }
        }
        if (NameIs(name, "events") && values.size() == 1 && IsInteger(values[0])) {
          const double rest = n_here - values[0];
          if (rest > 0.5 && rest < k) {
            f->Add("LEAK group < k", where + ": n - events = " + Fmt("%g", rest) + " (k=" +
                                         std::to_string(k) + ")");
          }
        }
        if ((name == "n" || name == "events") && values.size() == 1) {
          // Per approved spec: two specs sent under one study id are two
          // studies to the site (each has its own approval and outcome).
          fam("scalar:" + name + "|spec " + (d != nullptr ? d->study->name : ""))
              ->push_back(values[0]);
        }
      }
    }
    if (a.kind == "models.derivatives" && a.arrays.count("gradient")) CheckWeights(run, a, f);
  }
  for (const auto& [key, values] : families) {
    std::string shown = key;
    std::replace(shown.begin(), shown.end(), '\n', ',');
    CheckGaps(shown + " (all answers of the study)", values, family_k[key], f);
  }
}

// ---------------------------------------------------------------------------
// The harness.

struct AttackDef {
  const char* name;
  void (*build)(AttackSetup&);
};
void PrintTo(const AttackDef& a, std::ostream* os) { *os << a.name; }

class Adversarial : public ::testing::TestWithParam<AttackDef> {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir("adv-pki");
    const std::string d = pki_->path();
    std::string out;
    ASSERT_EQ(RunToEnd({FedradBin(), "pki", "init", "--ca-dir", d + "/ca", "--cn", "adversarial study CA"},
                       d + "/init.log", &out),
              0)
        << out;
    ASSERT_EQ(RunToEnd({FedradBin(), "pki", "issue", "--ca-dir", d + "/ca", "--cn", "coordinator", "--role",
                        "coordinator", "--out-dir", d + "/certs"},
                       d + "/issue-c.log", &out),
              0)
        << out;
    ASSERT_EQ(RunToEnd({FedradBin(), "pki", "issue", "--ca-dir", d + "/ca", "--cn", kSite, "--role", "site",
                        "--out-dir", d + "/certs"},
                       d + "/issue-s.log", &out),
              0)
        << out;
    // Two other sites of the study CA (verifiable rounds: their signed
    // contributions, honest and forged).
    for (const char* other : {"C1", "C3"}) {
      ASSERT_EQ(RunToEnd({FedradBin(), "pki", "issue", "--ca-dir", d + "/ca", "--cn", other, "--role", "site",
                          "--out-dir", d + "/certs"},
                         d + "/issue-" + other + ".log", &out),
                0)
          << out;
    }
    g_pki_dir = d;
  }
  // Whether the site binary's SiteConfig knows `state_dir` (the gate
  // branch adds it): a config naming it must not fail to parse.
  static bool SiteKnowsStateDir() {
    static int known = -1;
    if (known < 0) {
      const std::string probe = Pki() + "/probe.textproto";
      WriteAll(probe, "coordinator_address: \"127.0.0.1:1\"\ndata_csv: \"" + Pki() +
                          "/absent.csv\"\nstate_dir: \"" + Pki() + "/probe-state\"\n");
      std::string out;
      RunToEnd({SiteBin(), "--config", probe, "--check"}, Pki() + "/probe.log", &out, 30);
      known = out.find("state_dir") == std::string::npos ? 1 : 0;
      std::cerr << "[adversarial] the site's config " << (known ? "has" : "has no") << " state_dir\n";
    }
    return known == 1;
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static std::string Pki() { return pki_->path(); }
  static TempDir* pki_;
};
TempDir* Adversarial::pki_ = nullptr;

std::string DateFromToday(int days) {
  std::time_t t = std::time(nullptr) + 86400 * days;
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

// `fedrad-site approve` and friends; a usage error (the command or a flag is
// not known) fails the test; any other failure is logged and returns false
// (the attack runs and the site must then refuse).
bool SiteAdmin(const std::vector<std::string>& args, const std::string& cwd, const std::string& log,
               bool* fallback) {
  std::vector<std::string> argv = {SiteBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  const int code = RunToEnd(argv, log, &out, 60, cwd);
  const bool usage = code == 2 && (out.find("usage") != std::string::npos ||
                                   out.find("unknown argument") != std::string::npos);
  if (usage) {
    *fallback = true;
    ADD_FAILURE() << "`fedrad-site " << args[0] << "` printed a usage error: " << out;
    return false;
  }
  if (code != 0) {
    std::cerr << "[adversarial] `fedrad-site " << args[0] << "` failed (exit " << code
              << "); the attack runs anyway (the site must then refuse): " << out << "\n";
  }
  return code == 0;
}

// Writes the script and starts the rogue coordinator; sets *budget (the
// seconds the script may take) and *port (where it listens, once it has
// written its port file). Fails (fatally) if it never does.
void StartRogue(const AttackSetup& setup, const std::string& root, const std::string& pki, Proc* rogue,
                int* port, double* budget) {
  json script = {{"overall_timeout_seconds", setup.overall_timeout},
                 {"connect_timeout_seconds", 30},
                 {"tasks", json::array()}};
  *budget = 10;
  for (const auto& t : setup.tasks) {
    script["tasks"].push_back(t.task);
    *budget += t.task["timeout_seconds"].get<double>();
  }
  WriteAll(root + "/rogue/script.json", script.dump());
  *rogue = Spawn({BinDir() + "/fedrad-rogue-coordinator", "--ca", pki + "/ca/ca.crt", "--cert",
                  pki + "/certs/coordinator.crt", "--key", pki + "/certs/coordinator.key", "--crl",
                  pki + "/ca/crl.pem", "--listen", "127.0.0.1:0", "--port-file", root + "/rogue/port",
                  "--script", root + "/rogue/script.json", "--out", root + "/rogue/results.jsonl"},
                 root + "/logs/rogue.log");
  ASSERT_TRUE(WaitFor([&] { return ReadAll(root + "/rogue/port").find('\n') != std::string::npos; }, 30))
      << ReadAll(root + "/logs/rogue.log");
  *port = std::atoi(ReadAll(root + "/rogue/port").c_str());
}

// Writes the site's config (state_dir only when this build's SiteConfig has
// it) under site_dir; returns its path.
std::string WriteSiteConfig(const AttackSetup& setup, const std::string& site_dir, const std::string& pki,
                            int port, bool has_state_dir) {
  const std::string config = site_dir + "/site.textproto";
  WriteAll(config, "coordinator_address: \"127.0.0.1:" + std::to_string(port) + "\"\n" +
                       "tls { ca_cert: \"" + pki + "/ca/ca.crt\" crl: \"" + pki + "/ca/crl.pem\" cert: \"" +
                       pki + "/certs/" + kSite + ".crt\" key: \"" + pki + "/certs/" + kSite + ".key\" }\n" +
                       "data_csv: \"" + site_dir + "/data/site.csv\"\n" + "id_column: \"patient_id\"\n" +
                       "policy { min_cell_count: " + std::to_string(kSiteK) + " " + setup.policy_extra +
                       " }\n" + "output_dir: \"" + site_dir + "/output\"\n" + "audit_log: \"" + site_dir +
                       "/audit/site.log\"\n" + (has_state_dir ? "state_dir: \"" + site_dir + "/state\"\n" : "") +
                       "heartbeat_seconds: 1\nreconnect_initial_seconds: 0.2\nreconnect_max_seconds: 1\n");
  return config;
}

// Lets time pass over an approval: every approvals.textproto under site_dir
// has the last day DateFromToday(1) moved to DateFromToday(-2).
void AgeApprovals(const std::string& site_dir) {
  bool moved = false;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(site_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() != "approvals.textproto") continue;
    std::string text = ReadAll(it->path().string());
    const std::string from = "\"" + DateFromToday(1) + "\"", to = "\"" + DateFromToday(-2) + "\"";
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + 1)) {
      text.replace(at, from.size(), to);
      moved = true;
    }
    WriteAll(it->path().string(), text);
  }
  std::cerr << "[adversarial] expired approval: " << (moved ? "last day moved to " + DateFromToday(-2)
                                                             : std::string("no approvals file to age"))
            << "\n";
}

// The operator approves (or not) each study, with the real command; sets
// each study's `approved`, and *fallback once the command is not known.
void ApproveStudies(AttackSetup& setup, const std::string& config, const std::string& root,
                    const char* attack_name, bool* fallback) {
  const std::string site_dir = root + "/site";
  for (const auto& s : setup.studies) {
    if (s->approval == Approval::kNone || *fallback) continue;
    std::vector<std::string> args = {"approve", "--config", config, s->path};
    if (s->approval == Approval::kExpired) {
      // A past date cannot be approved: approve until tomorrow, then let
      // time pass by moving the recorded last day into the past.
      args.push_back("--expires");
      args.push_back(DateFromToday(1));
    }
    args.push_back("--note");
    args.push_back(std::string("adversarial suite: ") + attack_name);
    s->approved = SiteAdmin(args, site_dir, root + "/logs/approve-" + s->name + ".log", fallback);
    if (s->must_approve && !s->approved) {
      ADD_FAILURE() << "SETUP: study " << s->name << " must be approved by `fedrad-site approve` (this "
                    << "variant exercises the task-time rule), but the command refused it: "
                    << ReadAll(root + "/logs/approve-" + s->name + ".log");
    }
    if (!s->approved) continue;
    if (s->approval == Approval::kWithdraw) {
      SiteAdmin({"withdraw", "--config", config, s->name}, site_dir, root + "/logs/withdraw-" + s->name + ".log",
                fallback);
    }
    if (s->approval == Approval::kExpired) AgeApprovals(site_dir);
  }
}

// One line of the rogue coordinator's output (a result, timeout or
// stream_ended event) as an Answer.
Answer AnswerFromLine(const json& j, const std::string& event) {
  Answer a;
  a.event = event;
  a.task_id = j.value("task_id", "");
  a.kind = j.value("kind", "");
  a.study_id = j.value("study_id", "");
  a.status_code = j.value("status_code", -1);
  a.status_message = j.value("status_message", "");
  a.n_contributing = j.value("n_contributing", int64_t{0});
  a.elapsed_ms = j.value("elapsed_ms", int64_t{0});
  a.signed_round = j.value("signed_round", "");
  if (j.contains("arrays")) {
    for (auto& [name, arr] : j["arrays"].items()) {
      std::vector<double>& v = a.arrays[name];
      for (const auto& x : arr["values"]) v.push_back(x.is_number() ? x.get<double>() : NAN);
    }
  }
  if (j.contains("strings")) {
    for (auto& [key, value] : j["strings"].items()) a.strings[key] = value.get<std::string>();
  }
  // Lists (Payload.lists) are checked as text, one item a line.
  if (j.contains("lists")) {
    for (auto& [key, value] : j["lists"].items()) {
      std::string text;
      for (const auto& v : value) text += (text.empty() ? "" : "\n") + v.get<std::string>();
      a.strings[key] = text;
    }
  }
  return a;
}

// Reads the rogue coordinator's JSON Lines into run: the hello, every
// answer in order, and the results by task id.
void ReadRogueResults(const std::string& path, Outcome* run) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    const std::string event = j.value("event", "");
    if (event == "hello") run->hello = j;
    if (event != "result" && event != "timeout" && event != "stream_ended") continue;
    Answer a = AnswerFromLine(j, event);
    run->answers.push_back(a);
    if (event == "result") run->by_task[a.task_id] = a;
  }
}

// Never crashes, never hangs: the site was alive at the end of the attack
// and stopped on SIGTERM, the rogue coordinator finished, every task was
// answered.
void CheckCrashesAndHangs(const AttackSetup& setup, const Outcome& run, bool site_alive, int site_exit,
                          bool site_stopped_cleanly, bool rogue_done, Findings* f) {
  if (!site_alive) {
    f->Add("CRASH", std::string("fedrad-site exited during the attack (exit ") + std::to_string(site_exit) +
                        (site_exit > 128 ? ", signal " + std::to_string(site_exit - 128) : "") + ")");
  }
  if (!site_stopped_cleanly) f->Add("HANG", "fedrad-site did not stop within 8 s of SIGTERM (killed)");
  if (!rogue_done) f->Add("HANG", "the rogue coordinator did not finish within its budget");
  for (const auto& t : setup.tasks) {
    const std::string id = t.task["task_id"];
    if (run.by_task.count(id)) continue;
    bool stream_ended = false, sent = false;
    for (const Answer& a : run.answers) {
      stream_ended = stream_ended || a.event == "stream_ended";
      sent = sent || a.task_id == id;
    }
    if (stream_ended && !sent) {
      f->Add("CRASH", id + " (" + t.task["kind"].get<std::string>() + ") was never sent: the site's stream had ended");
    } else if (stream_ended) {
      f->Add("CRASH", id + " (" + t.task["kind"].get<std::string>() + ") was not answered: the site's stream ended");
    } else {
      f->Add("HANG", id + " (" + t.task["kind"].get<std::string>() + ") was not answered within " +
                         Fmt("%g", t.task["timeout_seconds"].get<double>()) + " s");
    }
  }
}

// Writes nothing outside its folders; its data and config are unchanged;
// its audit log is still JSON Lines.
void CheckWrites(const std::map<std::string, FileInfo>& before, const std::map<std::string, FileInfo>& after,
                 const std::string& root, Findings* f) {
  const std::string site_dir = root + "/site";
  const std::vector<std::string> allowed = {site_dir + "/output", site_dir + "/state", site_dir + "/audit",
                                            root + "/logs", root + "/rogue"};
  for (const auto& [path, info] : after) {
    auto was = before.find(path);
    const bool changed = was == before.end() || was->second.digest != info.digest;
    if (!changed) continue;
    bool ok = false;
    for (const auto& a : allowed) ok = ok || Under(path, a);
    if (!ok) f->Add("WRITE outside the site's folders", path);
  }
  for (const auto& [path, info] : before) {
    if (!after.count(path)) f->Add("WRITE outside the site's folders", "removed " + path);
  }
  {
    std::ifstream audit(site_dir + "/audit/site.log");
    int line_no = 0;
    for (std::string line; std::getline(audit, line);) {
      ++line_no;
      if (json::parse(line, nullptr, false).is_discarded()) {
        f->Add("WRITE audit log overwritten", "audit line " + std::to_string(line_no) + " is not JSON");
        break;
      }
    }
  }
}

// One summary line on stderr (and the site log's tail if the test failed).
void PrintSummary(const char* attack_name, const AttackSetup& setup, const Outcome& run, const Findings& f,
                  bool fallback) {
  std::cerr << "[adversarial] " << attack_name << ": "
            << (::testing::Test::HasFailure() ? "FAILED" : "held") << "; " << run.by_task.size() << "/" << setup.tasks.size()
            << " answered, " << [&] {
                 int ok = 0;
                 for (const auto& [id, a] : run.by_task) ok += a.ok();
                 return ok;
               }() << " released; findings: "
            << f.Summary() << (fallback ? " (FALLBACK: no approval step)" : "") << "\n";
  if (::testing::Test::HasFailure()) {
    std::cerr << "[adversarial] site log (tail):\n"
              << run.site_log.substr(run.site_log.size() > 3000 ? run.site_log.size() - 3000 : 0) << "\n";
  }
}

TEST_P(Adversarial, SiteHoldsTheLine) {
  const char* attack_name = GetParam().name;
  void (*build)(AttackSetup&) = GetParam().build;
  TempDir tmp(std::string("adv-") + attack_name);
  const std::string root = tmp.path();
  const std::string site_dir = root + "/site";
  for (const char* sub : {"/site/data", "/studies", "/rogue", "/logs"}) fs::create_directories(root + sub);

  AttackSetup setup;
  setup.dir = root;
  build(setup);
  ASSERT_FALSE(setup.tasks.empty());
  for (const auto& s : setup.studies) WriteAll(s->path, s->text);
  WriteAll(site_dir + "/data/site.csv", setup.csv.empty() ? TheTable().Csv() : setup.csv);

  // The rogue coordinator.
  const std::string pki = Pki();
  Proc rogue;
  int port = 0;
  double budget = 0;
  ASSERT_NO_FATAL_FAILURE(StartRogue(setup, root, pki, &rogue, &port, &budget));

  const std::string config = WriteSiteConfig(setup, site_dir, pki, port, SiteKnowsStateDir());
  bool fallback = false;
  ApproveStudies(setup, config, root, attack_name, &fallback);

  const auto before = Snapshot(root);
  Proc site = Spawn({SiteBin(), "--config", config}, root + "/logs/site.log", site_dir);
  const bool rogue_done = WaitExit(rogue, budget + 20);
  if (!rogue_done) Stop(rogue, 2);
  const bool site_alive = !Exited(site);
  const int site_exit = site.exit_code;
  const bool site_stopped_cleanly = Stop(site, 8);
  const auto after = Snapshot(root);

  Outcome run;
  run.setup = &setup;
  run.site_log = ReadAll(root + "/logs/site.log");
  run.audit_log = ReadAll(site_dir + "/audit/site.log");
  Findings f;
  ReadRogueResults(root + "/rogue/results.jsonl", &run);

  // The harness itself worked: the site connected over mutual TLS.
  ASSERT_EQ(run.hello.value("site", ""), kSite)
      << "the site never connected to the rogue coordinator\nrogue: " << ReadAll(root + "/logs/rogue.log")
      << "\nsite: " << run.site_log.substr(0, 4000);
  EXPECT_EQ(run.hello.value("role", ""), "site");

  CheckCrashesAndHangs(setup, run, site_alive, site_exit, site_stopped_cleanly, rogue_done, &f);
  CheckWrites(before, after, root, &f);

  // Releases nothing finer than its rules.
  CheckReleases(run, root, &f);
  for (const auto& check : setup.checks) check(run);

  PrintSummary(attack_name, setup, run, f, fallback);
}

// ---------------------------------------------------------------------------
// Study specs.

const std::string kCohortBody =
    "cohort_summary {\n  enabled: true\n  columns: \"age\"\n  columns: \"size\"\n  columns: \"n_lesions\"\n"
    "  columns: \"chemo\"\n  time_events { name: \"os\" time_column: \"time\" event_column: \"status\" }\n}\n";

std::string CoxModel(const std::string& name, const std::vector<std::string>& covs,
                     const std::string& extra = "") {
  std::string s = "models {\n  name: \"" + name + "\"\n  type: COX\n  time_column: \"time\"\n  event_column: \"status\"\n";
  for (const auto& c : covs) s += "  covariates: \"" + c + "\"\n";
  return s + extra + "}\n";
}

std::string LogisticModel(const std::string& name, const std::vector<std::string>& covs) {
  std::string s = "models {\n  name: \"" + name + "\"\n  type: LOGISTIC\n  outcome_column: \"recur2y\"\n";
  for (const auto& c : covs) s += "  covariates: \"" + c + "\"\n";
  return s + "}\n";
}

// A list parameter from text: one item a line / between commas.
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line, '\n');) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}
std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// A list into a crafted payload (Payload.lists).
void PutList(fedrad::v1::Payload* p, const std::string& key, const std::vector<std::string>& v) {
  fedrad::v1::StringList& list = (*p->mutable_lists())[key];
  list.Clear();
  for (const auto& x : v) list.add_values(x);
}

// Helpers for the checks of one attack.
std::function<void(const Outcome&)> ExpectAllRefused(const std::string& why, const std::string& must_mention = "") {
  return [why, must_mention](const Outcome& run) {
    for (const auto& t : run.setup->tasks) {
      auto it = run.by_task.find(t.task["task_id"]);
      if (it == run.by_task.end()) continue;  // reported as a hang
      const Answer& a = it->second;
      if (a.status_code == 0) {
        ADD_FAILURE() << "LEAK not refused: " << a.task_id << " (" << a.kind << ") was answered; " << why;
        continue;
      }
      if (must_mention.empty()) continue;
      std::string lower = a.status_message;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      EXPECT_NE(lower.find(must_mention), std::string::npos)
          << a.task_id << ": the refusal should mention '" << must_mention << "' (" << why
          << "), got: " << a.status_message;
    }
  };
}

// ---------------------------------------------------------------------------
// The attacks.

// Threshold sweep at every integer age (and every size, every day of time).
void ThresholdSweep(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-sweep", kCohortBody);
  s.Task("cohort.counts", st, Params().A("thresholds.age", Range(30, 90, 1)));
  s.Task("cohort.counts", st, Params().A("thresholds.size", Range(0, 85, 1)));
  s.Task("cohort.counts", st, Params().A("thresholds.time", Range(0, 2600, 1)));
}

// How many patients' ages a coordinator recovers exactly from the released
// counts.age of one study, knowing ages have one decimal.
int RecoveredAges(const Outcome& run) {
  std::map<double, double> at;  // threshold -> count at or below
  for (const auto& t : run.setup->tasks) {
    auto it = run.by_task.find(t.task["task_id"]);
    if (it == run.by_task.end() || !it->second.ok() || !it->second.arrays.count("counts.age")) continue;
    std::vector<double> thresholds;
    if (it->second.arrays.count("grid.age")) {
      // The site released counts at points it chose itself: the attacker
      // reads them from the answer.
      thresholds = it->second.arrays.at("grid.age");
    } else {
      for (const auto& arr : t.params.arrays) {
        if (arr["name"] == "thresholds.age") {
          for (const auto& v : arr["values"]) thresholds.push_back(v.get<double>());
        }
      }
    }
    const auto& counts = it->second.arrays.at("counts.age");
    for (size_t i = 0; i < thresholds.size() && i < counts.size(); ++i) at[thresholds[i]] = counts[i];
  }
  at[-1e9] = 0;
  at[1e9] = kPatients;
  int recovered = 0;
  for (auto it = std::next(at.begin()); it != at.end(); ++it) {
    auto prev = std::prev(it);
    const double in_interval = it->second - prev->second;
    // Ages of one decimal in (prev, it]: exactly one -> those patients are known.
    const long grid = static_cast<long>(std::floor(it->first * 10 + 1e-9)) -
                      static_cast<long>(std::floor(prev->first * 10 + 1e-9));
    if (grid == 1 && in_interval > 0 && IsInteger(in_interval)) recovered += static_cast<int>(in_interval);
  }
  return recovered;
}

// Bisection's end state: a threshold between every two possible ages, sent
// over several tasks.
void ThresholdBisection(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-bisect", kCohortBody);
  std::vector<double> all = Range(34.95, 85.05, 0.1);
  for (size_t from = 0; from < all.size(); from += 120) {
    s.Task("cohort.counts", st,
           Params().A("thresholds.age", std::vector<double>(all.begin() + from,
                                                            all.begin() + std::min(all.size(), from + 120))));
  }
  s.checks.push_back([](const Outcome& run) {
    const int recovered = RecoveredAges(run);
    EXPECT_LT(recovered, kPatients / 10) << "LEAK reconstruction: the age of " << recovered << "/" << kPatients
                                         << " patients is recovered exactly from the released counts";
  });
}

// Differencing: thresholds one patient apart, in separate tasks.
void Differencing(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-diff", kCohortBody);
  const std::vector<double> ages = Distinct(TheTable().col("age"));
  const size_t mid = ages.size() / 2;
  for (size_t i = mid; i < mid + 3; ++i) {
    s.Task("cohort.counts", st, Params().A("thresholds.age", {(ages[i] + ages[i + 1]) / 2}));
  }
  // The same through moments: all columns, then all but one patient's worth.
  s.Task("cohort.moments", st, Params().S("columns", "age,size"));
}

// A study k just above n (approved): the refusal must not reveal n; error
// texts must not reveal cells, paths or lines.
void RefusalOracle(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-oracle", "min_cell_count: 61\n" + kCohortBody);
  s.Task("cohort.counts", st, Params().A("thresholds.age", {50.5, 65.5}));
  s.Task("cohort.moments", st, Params().S("columns", "age,size,chemo"));
  const StudyDef& st10 = s.Study("adv-oracle-errors", kCohortBody);
  s.Task("cohort.counts", st10, Params().A("thresholds.patient_id", {0.5}));
  s.Task("cohort.counts", st10, Params().A("thresholds.image", {0.5}));
  s.Task("cohort.moments", st10, Params().S("columns", "patient_id"));
  s.Task("cohort.moments", st10, Params().S("time_events", "x:time:cause"));  // 0/1/2: not an event column
}

// One patient as the only event: event_column = the id column with
// event_values = one case id; time_column = the status column; beta = 0.
void OneEventCox(AttackSetup& s) {
  const std::vector<std::string> covs = {"age", "size", "n_lesions", "chemo", "f1"};
  for (const char* who : {"case-017", "case-023"}) {
    std::string body = "models {\n  name: \"m\"\n  type: COX\n  time_column: \"status\"\n  event_column: "
                       "\"patient_id\"\n  event_values: \"" + std::string(who) + "\"\n";
    for (const auto& c : covs) body += "  covariates: \"" + c + "\"\n";
    body += "}\n";
    const StudyDef& st = s.Study(std::string("adv-one-event-") + std::string(who).substr(5), body);
    s.Task("models.prepare", st, Params().S("model", "m"));
    s.Task("models.derivatives", st,
           Params().S("model", "m").L("covariates", covs).A("beta", std::vector<double>(covs.size(), 0)));
  }
}

// Steep logistic: beta = 1e7 * (x1 - c) for c between consecutive x1 values,
// the outcome also named as a covariate.
void SteepLogistic(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-steep", LogisticModel("m", {"f1", "recur2y"}));
  s.Task("models.prepare", st, Params().S("model", "m"));
  const std::vector<double> cuts = Midpoints(TheTable().col("f1"));
  for (size_t i = 25; i < 31; ++i) {
    s.Task("models.derivatives", st,
           Params().S("model", "m").L("covariates", SplitLines("f1\nrecur2y")).A("beta", {-1e7 * cuts[i], 1e7, 0}));
  }
}

// models.baseline on a 1-day grid.
void BaselineOneDay(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-baseline", CoxModel("m", {"age", "size"}));
  s.Task("models.baseline", st,
         Params().S("model", "m").L("covariates", SplitLines("age\nsize")).A("beta", {0, 0}).A("grid", Range(1, 1825, 1)));
}

// Packed linear predictor: beta = [1e4, 1] on (age, time), thresholds between
// every two patients' values.
void PackedLp(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-packed", CoxModel("m", {"age", "size"}));
  const Table& t = TheTable();
  for (const char* second : {"time", "size"}) {
    std::vector<double> lp;
    for (int i = 0; i < kPatients; ++i) lp.push_back(1e4 * t.col("age")[i] + t.col(second)[i]);
    s.Task("models.lp_summary", st,
           Params().S("model", "m").L("covariates", SplitLines(std::string("age\n") + second)).A("beta", {1e4, 1}).A(
               "thresholds", Midpoints(lp)));
  }
}

// ROC at chosen thresholds: a "model" whose score is one covariate.
void RocThresholds(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-roc", LogisticModel("m", {"f1", "f2"}) +
                                              "validation { enabled: true bootstrap_replicates: -1 }\n");
  std::vector<double> thresholds;
  for (double c : Midpoints(TheTable().col("f1"))) thresholds.push_back(Sigmoid(c));
  s.Task("models.validate", st,
         Params()
             .S("model", "m")
             .L("covariates", SplitLines("f1\nf2"))
             .A("beta", {0, 1, 0})
             .Scalar("replicates", 0)
             .Scalar("seed", 1)
             .Scalar("threshold", 0.5)
             .A("roc_thresholds", thresholds));
}

// KM by risk group: cut-points moved across one covariate, 1-day grid.
void KmRiskGroups(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-km", CoxModel("m", {"age", "size"}) +
                                             "validation { enabled: true bootstrap_replicates: -1 }\n");
  const std::vector<double> cuts = Midpoints(TheTable().col("age"));
  for (size_t i : {0, 1, 5}) {
    s.Task("models.validate", st,
           Params()
               .S("model", "m")
               .L("covariates", SplitLines("age\nsize"))
               .A("beta", {1, 0})
               .Scalar("replicates", 0)
               .Scalar("seed", 1)
               .A("grid", {1825})
               .A("cumhaz", {0.5})
               .Scalar("t", 730)
               .Scalar("tau", 1825)
               .A("km_cuts", {cuts[i], cuts[i + 1]})
               .A("km_grid", Range(1, 1825, 1)));
  }
}

// The study's id column set to a clinical column; every case fails.
void IdColumn(AttackSetup& s) {
  const StudyDef& st = s.Study(
      "adv-idcol",
      "id_column: \"age\"\n" + kCohortBody +
          "features {\n  enabled: true\n  image_column: \"image\"\n  lesion_mask_column: \"mask\"\n"
          "  settings { discretisation { bin_width: 10 } families: \"stat\" }\n"
          "  regions { roi: \"largest_lesion\" prefix: \"lesion_\" }\n}\n");
  s.Task("features.extract", st, Params(), "", 30);
  s.Task("cohort.moments", st, Params().S("id_column", "age").S("columns", "size"));
}

// Path traversal through the study id (study.* kinds are accepted even by a
// site that accepts only cohort.*).
void PathTraversalStudyId(AttackSetup& s) {
  s.policy_extra = "accepted_task_kinds: \"cohort.*\"";
  const StudyDef& st = s.Study("adv-path", kCohortBody);
  s.Task("study.checkpoint", st, Params().Scalar("step", 0).S("step_name", "x"), s.dir + "/evil-abs");
  s.Task("study.checkpoint", st, Params().Scalar("step", 0).S("step_name", "x"), "../../evil-rel");
  s.Task("study.restore", st, Params().Scalar("step", -1), "../../../evil-restore");
  s.Task("cohort.counts", st, Params().A("thresholds.age", {60}), "../../evil-counts");
  s.Task("study.checkpoint", st, Params().Scalar("step", 0).S("step_name", "x"), "..");
}

// Path traversal through the harmonised table's file name (also the audit
// log as the target).
void PathTraversalOutputFile(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-outfile",
                               "harmonization {\n  enabled: true\n  features: \"^f[12]$\"\n  output_file: \"../../x.csv\"\n}\n");
  auto fit = [&](const std::string& file, const std::string& study_id) {
    s.Task("combat.fit", st,
           Params()
               .L("features", SplitCommas("f1,f2"))
               .S("covariates", "")
               .S("method", "parametric")
               .S("output_file", file)
               .A("grand_mean", {0, 1})
               .A("var_pooled", {1, 1})
               .Matrix("beta", 0, 2, {}),
           study_id);
  };
  fit("../../x.csv", "adv-outfile-1");
  fit("../../audit/site.log", "adv-outfile-2");
  fit("../../../../escaped.csv", "adv-outfile-3");
  fit(s.dir + "/abs.csv", "adv-outfile-4");
}

// A 100,000-deep nested column_regex.
void RegexNested(AttackSetup& s) {
  const std::string re = std::string(100000, '(') + "a" + std::string(100000, ')');
  const StudyDef& st = s.Study("adv-regex-deep", "cohort_summary {\n  enabled: true\n  column_regex: \"" + re + "\"\n}\n");
  s.Task("cohort.moments", st, Params().S("column_regex", re));
}

// ".*" x 100 + "Z": catastrophic backtracking.
void RegexBacktrack(AttackSetup& s) {
  std::string re;
  for (int i = 0; i < 100; ++i) re += ".*";
  re += "Z";
  const StudyDef& st = s.Study("adv-regex-slow", "cohort_summary {\n  enabled: true\n  column_regex: \"" + re + "\"\n}\n");
  s.Task("cohort.moments", st, Params().S("column_regex", re));
  s.Task("combat.check", st, Params().L("features", SplitCommas(re)).S("covariates", ""));
}

// A 200 kB output suffix.
void HugeSuffix(AttackSetup& s) {
  const std::string suffix(200000, 'x');
  const StudyDef& st = s.Study("adv-suffix", "harmonization {\n  enabled: true\n  features: \"^f[12]$\"\n  output_suffix: \"" +
                                                 suffix + "\"\n}\n");
  s.Task("combat.fit", st,
         Params()
             .L("features", SplitCommas("f1,f2"))
             .S("covariates", "")
             .S("method", "parametric")
             .S("output_suffix", suffix)
             .A("grand_mean", {0, 1})
             .A("var_pooled", {1, 1})
             .Matrix("beta", 0, 2, {}));
  // Later tasks over the table with 200 kB column names.
  s.Task("cohort.moments", st, Params().S("column_regex", "f.*"));
  s.Task("study.checkpoint", st, Params().Scalar("step", 0).S("step_name", "after combat"));
}

// bootstrap_replicates = 1e9 (in the spec and as the task's parameter).
void HugeReplicates(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-replicates", LogisticModel("m", {"f1", "f2"}) +
                                                     "validation { enabled: true bootstrap_replicates: 1000000000 }\n");
  s.Task("models.validate", st,
         Params()
             .S("model", "m")
             .L("covariates", SplitLines("f1\nf2"))
             .A("beta", {0, 0.1, 0.1})
             .Scalar("replicates", 1e9)
             .Scalar("seed", 1)
             .Scalar("threshold", 0.5));
}

// Huge and non-finite parameters.
void HugeAndNonFiniteParams(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-sizes", kCohortBody + CoxModel("m", {"age", "size"}));
  s.Task("cohort.counts", st, Params().A("thresholds.age", Range(0, 1100000 - 1, 1)), "", 30);
  s.Task("cohort.counts", st, Params().A("thresholds.age", {NAN, INFINITY, -INFINITY}));
  s.Task("models.derivatives", st, Params().S("model", "m").L("covariates", SplitLines("age\nsize")).A("beta", {NAN, INFINITY}));
  s.Task("models.baseline", st,
         Params().S("model", "m").L("covariates", SplitLines("age\nsize")).A("beta", {0, 0}).A("grid", {NAN, 5, 1, INFINITY}));
  s.Task("models.derivatives", st,
         Params().S("model", std::string(100000, 'm')).L("covariates", SplitLines(std::string(300000, 'c'))).A("beta", {0}));
}

// Calibration with one patient per bin.
void CalibrationBins(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-calibration", LogisticModel("m", {"f1", "f2"}) +
                                                      "validation { enabled: true bootstrap_replicates: -1 calibration_bins: 60 }\n");
  s.Task("models.validate", st,
         Params()
             .S("model", "m")
             .L("covariates", SplitLines("f1\nf2"))
             .A("beta", {0, 1, 0})
             .Scalar("replicates", 0)
             .Scalar("seed", 1)
             .Scalar("threshold", 0.5)
             .Scalar("calibration_bins", 60));
}

// The threshold sweep through the report's feature distributions.
void DistributionsSweep(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-distributions",
                               "harmonization {\n  enabled: true\n  features: \"^f[12]$\"\n}\n");
  s.Task("combat.distributions", st,
         Params().L("columns", {"f1"}).A("thresholds.f1", Midpoints(TheTable().col("f1"))));
  s.Task("combat.distributions", st, Params().L("columns", {"age"}).A("thresholds.age", Range(30, 90, 1)));
}

// The approval gate: an unapproved spec, a withdrawn and an expired approval.
void Unapproved(AttackSetup& s) {
  s.Study("adv-approved", kCohortBody);
  const StudyDef& other = s.Study("adv-not-approved", kCohortBody + "\n# a different spec\n", Approval::kNone);
  s.Task("cohort.moments", other, Params().S("columns", "age,size"));
  s.Task("cohort.counts", other, Params().A("thresholds.age", {50, 70}));
  s.checks.push_back(ExpectAllRefused("the site never approved this study", "approv"));
  s.checks.push_back([](const Outcome& run) {
    for (const auto& [id, a] : run.by_task) {
      if (a.status_code == 0) continue;
      EXPECT_NE(a.status_message.find("adv-not-approved"), std::string::npos)
          << id << ": the refusal should name the study: " << a.status_message;
    }
  });
}

void Withdrawn(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-withdrawn", kCohortBody, Approval::kWithdraw);
  s.Task("cohort.moments", st, Params().S("columns", "age,size"));
  s.checks.push_back(ExpectAllRefused("the operator withdrew the approval", "approv"));
}

void Expired(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-expired", kCohortBody, Approval::kExpired);
  s.Task("cohort.moments", st, Params().S("columns", "age,size"));
  s.checks.push_back(ExpectAllRefused("the approval expired", "approv"));
}

// Task kinds the approved spec does not need.
void KindNotNeeded(AttackSetup& s) {
  const StudyDef& st = s.Study("adv-cohort-only", kCohortBody);
  s.Task("combat.moments", st, Params().L("features", SplitCommas("f1,f2")).S("covariates", ""));
  s.Task("combat.fit", st,
         Params()
             .L("features", SplitCommas("f1,f2"))
             .S("covariates", "")
             .S("method", "parametric")
             .A("grand_mean", {0, 1})
             .A("var_pooled", {1, 1})
             .Matrix("beta", 0, 2, {}));
  s.Task("models.prepare", st, Params().S("model", "m"));
  s.Task("features.extract", st, Params());
  s.Task("debug.vector", st, Params().Scalar("length", 4));
  s.checks.push_back(ExpectAllRefused("the approved spec does not need these kinds"));
}

// Two specs sharing a study id and a model name: the prepared rows of the
// first must not answer for the second (its events are the truth of its own
// outcome, or it is refused).
void ModelCacheConfusion(AttackSetup& s) {
  const StudyDef& a = s.Study("adv-cache-a", CoxModel("m", {"age"}));
  std::string body_b = "models {\n  name: \"m\"\n  type: COX\n  time_column: \"time\"\n  event_column: \"chemo\"\n"
                       "  covariates: \"age\"\n}\n";
  const StudyDef& b = s.Study("adv-cache-b", body_b);
  s.Task("models.prepare", a, Params().S("model", "m").L("covariates", SplitLines("age")), "adv-cache");
  s.Task("models.prepare", b, Params().S("model", "m").L("covariates", SplitLines("age")), "adv-cache");
  s.checks.push_back([](const Outcome& run) {
    double chemo = 0;
    for (double v : TheTable().col("chemo")) chemo += v;
    for (const auto& [id, ans] : run.by_task) {
      const TaskDef* d = run.Def(id);
      if (!ans.ok() || d == nullptr || d->study->name != "adv-cache-b" || !ans.arrays.count("events")) continue;
      EXPECT_EQ(ans.arrays.at("events")[0], chemo)
          << "WRONG ROWS: " << id << " answered for spec adv-cache-b with another spec's prepared rows";
    }
  });
}

// ---------------------------------------------------------------------------
// Approved variants (issue 11: every attack runs INSIDE an approved study).
// one_event_cox, steep_logistic, regex_nested and huge_output_suffix above
// show the approve-time checks; the variants below pass `fedrad-site approve`
// (ApprovedStudy: a refused approval fails the attack), so the task-time
// rule is what they meet, through the real process.

std::string CellOf(const Table& t, int row, const std::string& column) {
  const size_t c = static_cast<size_t>(
      std::find(t.header.begin(), t.header.end(), column) - t.header.begin());
  return t.cells.at(static_cast<size_t>(row)).at(c);
}

// Rows whose age string no other patient shares.
std::vector<int> RowsWithUniqueAge() {
  const Table& t = TheTable();
  std::map<std::string, int> n;
  for (int r = 0; r < kPatients; ++r) ++n[CellOf(t, r, "age")];
  std::vector<int> out;
  for (int r = 0; r < kPatients; ++r) {
    if (n[CellOf(t, r, "age")] == 1) out.push_back(r);
  }
  return out;
}

// Every task of kind `kind` refused, naming `rule`; the attack's other tasks
// may answer (the generic checks then hold them to the k rules: e.g. a
// models.prepare that withholds an event count of 1).
std::function<void(const Outcome&)> ExpectKindRefusedNaming(const std::string& kind,
                                                            const std::string& rule) {
  return [kind, rule](const Outcome& run) {
    for (const auto& t : run.setup->tasks) {
      auto it = run.by_task.find(t.task["task_id"]);
      if (it == run.by_task.end() || it->second.kind != kind) continue;
      const Answer& a = it->second;
      if (a.status_code == 0) {
        ADD_FAILURE() << "LEAK not refused: " << a.task_id << " (" << a.kind << ") was answered";
      } else {
        EXPECT_NE(a.status_message.find(rule), std::string::npos)
            << a.task_id << ": expected the refusal to name " << rule << ", got: " << a.status_message;
      }
    }
  };
}

// Every task of the attack refused, and each refusal of `kind` names `rule`.
std::function<void(const Outcome&)> ExpectRefusedNaming(const std::string& kind, const std::string& rule) {
  return [kind, rule](const Outcome& run) {
    for (const auto& t : run.setup->tasks) {
      auto it = run.by_task.find(t.task["task_id"]);
      if (it == run.by_task.end()) continue;  // reported as a hang
      const Answer& a = it->second;
      if (a.status_code == 0) {
        ADD_FAILURE() << "LEAK not refused: " << a.task_id << " (" << a.kind << ") was answered";
        continue;
      }
      if (a.kind == kind) {
        EXPECT_NE(a.status_message.find(rule), std::string::npos)
            << a.task_id << ": expected the refusal to name " << rule << ", got: " << a.status_message;
      }
    }
  };
}

// 1. One patient the only event (or the only non-event) in an approved Cox
// spec: event_column = age (not the id column), event_values = one
// patient's exact age string (or every other age string). models.prepare and
// models.derivatives at beta = 0 must be refused (rule min-events): the
// released events (1) or n - events (1) would be one patient's outcome.
void OneEventApproved(AttackSetup& s) {
  const Table& t = TheTable();
  const std::vector<int> unique = RowsWithUniqueAge();
  if (unique.size() < 3) {
    ADD_FAILURE() << "SETUP: fewer than 3 patients with a unique age";
    return;
  }
  const std::vector<std::string> covs = {"size", "n_lesions", "chemo", "f1"};
  auto spec = [&](const std::vector<std::string>& event_values) {
    std::string body = "models {\n  name: \"m\"\n  type: COX\n  time_column: \"time\"\n  event_column: \"age\"\n";
    for (const auto& v : event_values) body += "  event_values: \"" + v + "\"\n";
    for (const auto& c : covs) body += "  covariates: \"" + c + "\"\n";
    return body + "}\n";
  };
  std::vector<std::pair<std::string, std::vector<std::string>>> variants;
  for (int r : {unique[0], unique[1]}) variants.push_back({t.ids[r].substr(5), {CellOf(t, r, "age")}});
  std::set<std::string> others;
  for (int r = 0; r < kPatients; ++r) {
    if (r != unique[2]) others.insert(CellOf(t, r, "age"));
  }
  variants.push_back({"all-but-" + t.ids[unique[2]].substr(5), {others.begin(), others.end()}});
  for (const auto& [tag, values] : variants) {
    const StudyDef& st = s.ApprovedStudy("adv-one-event-ok-" + tag, spec(values));
    s.Task("models.prepare", st, Params().S("model", "m"));
    s.Task("models.prepare", st, Params().S("model", "m").L("covariates", SplitLines("size\nf1")));
    s.Task("models.derivatives", st,
           Params().S("model", "m").L("covariates", covs).A("beta", std::vector<double>(covs.size(), 0)));
  }
  // models.prepare may answer: it withholds the event count (1 or n - 1);
  // the generic checks flag an events or n - events of 1..k-1.
  s.checks.push_back(ExpectKindRefusedNaming("models.derivatives", "min-events"));
  // The other model kinds on the same approved one-event spec (not part of
  // ExpectRefusedNaming: they may answer if they release nothing that counts
  // the single event).
  const StudyDef& st = s.ApprovedStudy("adv-one-event-ok-kinds",
                                       spec({CellOf(t, unique[0], "age")}) +
                                           "validation { enabled: true bootstrap_replicates: -1 }\n");
  const Params base = Params().S("model", "m").L("covariates", covs).A("beta", std::vector<double>(covs.size(), 0));
  s.Task("models.baseline", st, base);
  s.Task("models.lp_summary", st, base);
  s.Task("models.validate", st, Params(base).Scalar("replicates", 0).A("grid", {1825}).A("cumhaz", {0.5}));
  s.checks.push_back([](const Outcome& run) {
    for (const auto& [id, a] : run.by_task) {
      const TaskDef* d = run.Def(id);
      if (!a.ok() || d == nullptr || d->study->name != "adv-one-event-ok-kinds") continue;
      auto it = a.arrays.find("grid_events");
      if (it != a.arrays.end()) {
        double sum = 0;
        for (double x : it->second) sum += std::isfinite(x) ? x : 0;
        EXPECT_FALSE(sum > 0.5 && sum < kSiteK)
            << "LEAK group < k: " << id << " grid_events sum to " << sum << " (the spec's only event)";
      }
    }
  });
}

// The coefficients of a derivatives task, or empty.
std::vector<double> BetaOf(const TaskDef& d) {
  std::vector<double> beta;
  for (const auto& arr : d.params.arrays) {
    if (arr["name"] != "beta") continue;
    for (const auto& v : arr["values"]) beta.push_back(v.is_number() ? v.get<double>() : NAN);
  }
  return beta;
}

// The attacker's reconstruction for steep_logistic_approved: logistic on f1
// at beta = (-s c, s); between two cuts c_a < c_b exactly one patient j
// flips from p = 1 to p = 0 when s is steep, so Δgradient = (1, x_j) * 1 and
// x_j = Δgradient[1] / Δgradient[0]. Returns how many distinct f1 values of
// the table are recovered this way (to 1e-6) from the released gradients.
int RecoveredF1FromGradients(const Outcome& run) {
  struct Point {
    double cut;
    std::vector<double> g;
  };
  std::map<double, std::vector<Point>> by_slope;
  for (const Answer& a : run.answers) {
    if (!a.ok() || a.kind != "models.derivatives" || !a.arrays.count("gradient")) continue;
    const TaskDef* d = run.Def(a.task_id);
    if (d == nullptr) continue;
    const std::vector<double> beta = BetaOf(*d);
    const std::vector<double>& g = a.arrays.at("gradient");
    if (beta.size() != 2 || g.size() != 2 || !(beta[1] != 0)) continue;
    by_slope[beta[1]].push_back({-beta[0] / beta[1], g});
  }
  const std::vector<double> f1 = Distinct(TheTable().col("f1"));
  std::set<double> recovered;
  for (auto& [slope, points] : by_slope) {
    std::sort(points.begin(), points.end(), [](const Point& x, const Point& y) { return x.cut < y.cut; });
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      const double d0 = points[i + 1].g[0] - points[i].g[0];
      const double d1 = points[i + 1].g[1] - points[i].g[1];
      if (!(std::fabs(d0) >= 0.5)) continue;
      const double x = d1 / d0;
      for (double v : f1) {
        if (std::fabs(v - x) < 1e-6) recovered.insert(v);
      }
    }
  }
  return static_cast<int>(recovered.size());
}

// 2. Steep logistic in an approved spec (recur2y on f1; the outcome is not a
// covariate): beta = (-s c, s) for cuts c between consecutive f1 values and
// slopes s = 1e7, 1e3 and 8 (the last within the linear-predictor bound of
// 30 on this table). Every answer must be refused or pass the weight checker
// (CheckWeights, run on every derivatives answer), and f1 must not be
// rebuilt from gradient differences.
void SteepLogisticApproved(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy("adv-steep-ok", LogisticModel("m", {"f1"}));
  s.Task("models.prepare", st, Params().S("model", "m"));
  const std::vector<double> cuts = Midpoints(TheTable().col("f1"));
  for (double slope : {1e7, 1e3, 8.0}) {
    for (size_t i = 25; i < 31; ++i) {
      s.Task("models.derivatives", st,
             Params().S("model", "m").L("covariates", SplitLines("f1")).A("beta", {-slope * cuts[i], slope}));
    }
  }
  s.checks.push_back([](const Outcome& run) {
    const int recovered = RecoveredF1FromGradients(run);
    EXPECT_EQ(recovered, 0) << "LEAK reconstruction: " << recovered
                            << " patients' f1 rebuilt exactly from gradient differences";
  });
}

// 3. Patterns within the 1024-byte cap that blow up a backtracking engine or
// nest deeply, approved, in cohort_summary.column_regex,
// harmonization.features and a model's covariate_regex (and as task
// params): the site must answer each task promptly and stay alive.
constexpr int64_t kPromptMs = 5000;

std::function<void(const Outcome&)> ExpectPrompt(int64_t limit_ms) {
  return [limit_ms](const Outcome& run) {
    for (const Answer& a : run.answers) {
      if (a.event != "result") continue;
      EXPECT_LT(a.elapsed_ms, limit_ms) << "HANG slow: " << a.task_id << " (" << a.kind << ") took "
                                        << a.elapsed_ms << " ms";
    }
  };
}

void RegexApproved(AttackSetup& s) {
  std::string dotstar;
  for (int i = 0; i < 100; ++i) dotstar += ".*";
  const std::vector<std::pair<std::string, std::string>> patterns = {
      {"nested", std::string(400, '(') + "f1" + std::string(400, ')')},  // 804 bytes
      {"starstar", "(f*)*1"},
      {"starstar-miss", "(a*)*b"},
      {"dotstar", dotstar + "Z"},  // 201 bytes
      {"alternation", "^(f|f1|1|[a-z]|[a-z0-9]*)*(f|1)*$"},
  };
  for (const auto& [tag, re] : patterns) {
    ASSERT_LE(re.size(), 1024u);
    const StudyDef& st = s.ApprovedStudy(
        "adv-regex-ok-" + tag,
        "cohort_summary {\n  enabled: true\n  column_regex: \"" + re + "\"\n}\n" +
            "harmonization {\n  enabled: true\n  features: \"" + re + "\"\n}\n" +
            "models {\n  name: \"m\"\n  type: COX\n  time_column: \"time\"\n  event_column: \"status\"\n"
            "  covariate_regex: \"" + re + "\"\n}\n");
    s.Task("cohort.moments", st, Params());
    s.Task("cohort.moments", st, Params().S("column_regex", re));
    s.Task("combat.check", st, Params().L("features", SplitCommas(re)).S("covariates", ""));
    s.Task("combat.moments", st, Params().L("features", SplitCommas("f1")).S("covariates", ""));
    s.Task("models.prepare", st, Params().S("model", "m"));
    s.Task("models.derivatives", st, Params().S("model", "m").L("covariates", SplitLines("f1")).A("beta", {0}));
  }
  s.checks.push_back(ExpectPrompt(kPromptMs));
}

// 4. A 128-byte output_suffix (the spec's name cap) that the site approves,
// a 64-byte one (the task-time cap) and a 128-byte one climbing out of the
// folder: combat.fit must not crash and nothing is written outside the
// output folder (the generic snapshot check).
void SuffixApproved(AttackSetup& s) {
  std::string s128, s64;
  for (int i = 0; s128.size() < 128; ++i) s128 += "..x-_Z9"[i % 7];
  for (int i = 0; s64.size() < 64; ++i) s64 += "_.a-B7"[i % 6];
  std::string climb = "/../../../../escaped-";
  climb += std::string(128 - climb.size(), 'e');
  auto fit = [&](const StudyDef& st, const std::string& suffix) {
    s.Task("combat.fit", st,
           Params()
               .L("features", SplitCommas("f1,f2"))
               .S("covariates", "")
               .S("method", "parametric")
               .S("output_suffix", suffix)
               .A("grand_mean", {0, 1})
               .A("var_pooled", {1, 1})
               .Matrix("beta", 0, 2, {}));
  };
  auto spec = [](const std::string& suffix) {
    return "harmonization {\n  enabled: true\n  features: \"^f[12]$\"\n  output_suffix: \"" + suffix + "\"\n}\n";
  };
  // A 128-byte suffix (the name cap) is more than combat.fit accepts (64):
  // approve refuses it, so that no approved study fails at harmonisation; the
  // site refuses its tasks as unapproved.
  const StudyDef& a = s.Study("adv-suffix-128", spec(s128));
  fit(a, s128);
  s.Task("combat.distributions", a, Params().L("columns", {"f1" + s128}));
  s.Task("study.checkpoint", a, Params().Scalar("step", 0).S("step_name", "after combat"));
  const StudyDef& b = s.ApprovedStudy("adv-suffix-ok-64", spec(s64));
  fit(b, s64);
  s.Task("combat.distributions", b, Params().L("columns", {"f1" + s64}));
  s.Task("study.checkpoint", b, Params().Scalar("step", 0).S("step_name", "after combat"));
  const StudyDef& c = s.Study("adv-suffix-climb", spec(climb));  // approve may refuse it
  fit(c, climb);
  s.checks.push_back([](const Outcome& run) {
    for (const auto& [id, a] : run.by_task) {
      const TaskDef* d = run.Def(id);
      if (d != nullptr && d->study->name == "adv-suffix-climb" && a.ok()) {
        ADD_FAILURE() << "PATH: combat.fit accepted an output_suffix with '/' and '..': " << id;
      }
    }
  });
}

// Sizes of a released quantity, merged over the answers of one study and
// one key: two differing by 1..k-1 let the coordinator difference them.
void CheckSizesAcross(const Outcome& run, const std::function<bool(const std::string&)>& is_size,
                      const std::function<std::string(const Answer&, const std::string&)>& key_of,
                      Findings* f) {
  std::map<std::string, std::vector<double>> sizes;
  std::map<std::string, int> ks;
  for (const Answer& a : run.answers) {
    if (!a.ok()) continue;
    for (const auto& [name, values] : a.arrays) {
      if (!is_size(name) || values.size() != 1) continue;
      const std::string key = a.study_id + "|" + key_of(a, name);
      sizes[key].push_back(values[0]);
      ks[key] = std::max(ks[key], run.KOf(a));
    }
  }
  for (const auto& [key, v] : sizes) CheckGaps(key + " (across answers)", v, ks[key], f);
}

void CheckKmGroupsAcross(const Outcome& run, Findings* f) {
  static const RE2 group_n("curve\\.km\\.[a-z]+\\.n");
  CheckSizesAcross(
      run, [](const std::string& name) { return RE2::FullMatch(name, group_n); },
      [](const Answer&, const std::string& name) { return name; }, f);
}

// n and events of a model's answers, per study and outcome (every model of
// the attack's specs has the study's outcome).
void CheckModelCountsAcross(const Outcome& run, Findings* f) {
  CheckSizesAcross(
      run, [](const std::string& name) { return name == "n" || name == "events"; },
      [](const Answer& a, const std::string& name) { return a.kind.substr(0, 7) + "|" + name; }, f);
}

// 5a. Differencing across models (the release ledger): two models of one
// approved spec with the same outcome whose covariates differ by f2, which is
// missing for exactly one patient (a table variant with one empty cell).
// models.prepare (and derivatives at 0) of the second must be refused (rule
// no-differencing), or the two n / events must not differ by 1..k-1.
constexpr int kMissingF2Row = 31;

void ModelDifferencing(AttackSetup& s) {
  Table t = TheTable();
  const size_t f2 = static_cast<size_t>(std::find(t.header.begin(), t.header.end(), "f2") - t.header.begin());
  t.cells[kMissingF2Row][f2] = "";
  s.csv = t.Csv();
  const StudyDef& cox =
      s.ApprovedStudy("adv-model-diff-cox", CoxModel("m1", {"age", "size"}) + CoxModel("m2", {"age", "size", "f2"}));
  s.Task("models.prepare", cox, Params().S("model", "m1"));
  s.Task("models.prepare", cox, Params().S("model", "m2"));
  s.Task("models.derivatives", cox, Params().S("model", "m1").L("covariates", SplitLines("age\nsize")).A("beta", {0, 0}));
  s.Task("models.derivatives", cox,
         Params().S("model", "m2").L("covariates", SplitLines("age\nsize\nf2")).A("beta", {0, 0, 0}));
  const StudyDef& logit =
      s.ApprovedStudy("adv-model-diff-logit", LogisticModel("l1", {"f1"}) + LogisticModel("l2", {"f1", "f2"}));
  s.Task("models.prepare", logit, Params().S("model", "l1"));
  s.Task("models.prepare", logit, Params().S("model", "l2"));
  s.checks.push_back([](const Outcome& run) {
    Findings f;
    CheckModelCountsAcross(run, &f);
    int released_m2 = 0;
    for (const auto& [id, a] : run.by_task) {
      const TaskDef* d = run.Def(id);
      if (a.ok() && d != nullptr && (d->params.strings.value("model", "") == "m2" ||
                                     d->params.strings.value("model", "") == "l2")) {
        ++released_m2;
        if (a.arrays.count("n") && a.arrays.at("n")[0] == kPatients) {
          ADD_FAILURE() << "WRONG ROWS: " << id << " counts the patient whose f2 is missing";
        }
      }
    }
    std::cerr << "[adversarial] model_differencing: " << released_m2
              << " answer(s) about the models with f2 released\n";
  });
}

// 5b. Kaplan-Meier risk groups of one frozen model (approved spec), the
// cut-points moved by one patient between two models.validate calls: the
// second must not release a group whose size (or event count) differs from
// the first's by 1..k-1 (the ledger's models.<m>.risk_group quantity).
// Cases (event by t) and controls (time beyond t) of the table.
std::pair<int, int> CasesAndControls(double t) {
  const Table& tab = TheTable();
  int cases = 0, controls = 0;
  for (int i = 0; i < kPatients; ++i) {
    cases += tab.col("status")[i] == 1 && tab.col("time")[i] <= t;
    controls += tab.col("time")[i] > t;
  }
  return {cases, controls};
}

// A horizon t (days, a multiple of 30) with at least 15 cases and 15
// controls, so that the time-dependent ROC of models.validate is released
// and the attack meets the risk-group rule alone (roc_cases_below_k covers
// the ROC's counts).
double HorizonWithCases() {
  for (double t = 360; t <= 1800; t += 30) {
    const auto [cases, controls] = CasesAndControls(t);
    if (cases >= 15 && controls >= 15) return t;
  }
  ADD_FAILURE() << "SETUP: no horizon with 15 cases and 15 controls";
  return 730;
}

void KmMovedByOne(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy(
      "adv-km-move", CoxModel("m", {"age", "size"}) + "validation { enabled: true bootstrap_replicates: -1 t: " +
                         Fmt("%g", HorizonWithCases()) + " }\n");
  const double b = 0.05;  // lp = 0.05 age: spread ~1.3, within every bound
  const std::vector<double> age = Sorted(TheTable().col("age"));
  auto strict = [&](int rank) { return rank > 0 && rank < kPatients && age[rank - 1] < age[rank]; };
  auto first_run = [&](int from) {  // ranks r, r+1, r+2 all with strict gaps
    for (int r = from; r + 2 < kPatients; ++r) {
      if (strict(r) && strict(r + 1) && strict(r + 2)) return r;
    }
    return -1;
  };
  const int low = first_run(20), high = first_run(40);
  if (low < 0 || high < 0) {
    ADD_FAILURE() << "SETUP: no ranks with distinct ages";
    return;
  }
  auto cut = [&](int rank) { return b * (age[rank - 1] + age[rank]) / 2; };
  auto validate = [&](int lo, int hi) {
    s.Task("models.validate", st,
           Params()
               .S("model", "m")
               .L("covariates", SplitLines("age\nsize"))
               .A("beta", {b, 0})
               .Scalar("replicates", 0)
               .Scalar("seed", 1)
               .A("grid", {1825})
               .A("cumhaz", {0.5})
               .A("km_cuts", {cut(lo), cut(hi)}));
  };
  validate(low, high);
  validate(low + 1, high);      // low group + 1 patient, intermediate - 1
  validate(low + 1, high + 1);  // intermediate + 1, high - 1
  validate(low + 2, high + 2);
  s.checks.push_back([](const Outcome& run) {
    Findings f;
    CheckKmGroupsAcross(run, &f);
    int groups = 0;
    for (const auto& [id, a] : run.by_task) {
      for (const auto& [name, v] : a.arrays) groups += a.ok() && name.rfind("curve.km.", 0) == 0 && NameIs(name, "n");
    }
    std::cerr << "[adversarial] km_cut_moved_by_one: " << groups << " risk group(s) released\n";
  });
}

// The time-dependent ROC of models.validate at the default horizon (730
// days), where this table has 1..k-1 cases (events by t): the ROC is
// suppressed, and its case and control counts must not be released either
// (a count of 1..k-1 patients; the generic "n_pos"/"n_neg" check).
void RocCasesBelowK(AttackSetup& s) {
  const auto [cases, controls] = CasesAndControls(730);
  if (!(cases > 0 && cases < kSiteK)) {
    ADD_FAILURE() << "SETUP: the table has " << cases << " cases by day 730; the attack needs 1..k-1";
    return;
  }
  const StudyDef& st = s.ApprovedStudy("adv-roc-cases", CoxModel("m", {"age", "size"}) +
                                                           "validation { enabled: true bootstrap_replicates: -1 }\n");
  s.Task("models.validate", st,
         Params()
             .S("model", "m")
             .L("covariates", SplitLines("age\nsize"))
             .A("beta", {0.05, 0})
             .Scalar("replicates", 0)
             .Scalar("seed", 1)
             .A("grid", {1825})
             .A("cumhaz", {0.5}));
}

// Exclusion counts: a model whose covariate is missing for one patient, and
// a logistic model whose outcome column is not 0/1 (n_lesions, 1..6): the
// released n_excluded and the "excluded" reasons must not count 1..k-1
// patients (the generic n_excluded check and the text check of true counts).
void ExcludedCounts(AttackSetup& s) {
  Table t = TheTable();
  const size_t f2 = static_cast<size_t>(std::find(t.header.begin(), t.header.end(), "f2") - t.header.begin());
  t.cells[kMissingF2Row][f2] = "";
  s.csv = t.Csv();
  const StudyDef& cox = s.ApprovedStudy("adv-excluded-cox", CoxModel("m", {"age", "f2"}));
  s.Task("models.prepare", cox, Params().S("model", "m"));
  std::string body = "models {\n  name: \"l\"\n  type: LOGISTIC\n  outcome_column: \"n_lesions\"\n"
                     "  covariates: \"f1\"\n}\n";
  const StudyDef& logit = s.ApprovedStudy("adv-excluded-logit", body);
  s.Task("models.prepare", logit, Params().S("model", "l"));
  s.Task("models.derivatives", logit, Params().S("model", "l").L("covariates", SplitLines("f1")).A("beta", {0, 0}));
  s.checks.push_back([](const Outcome& run) {
    for (const auto& [id, a] : run.by_task) {
      auto it = a.strings.find("excluded");
      if (!a.ok() || it == a.strings.end()) continue;
      static const RE2 count_re("=([0-9]+)");
      re2::StringPiece excluded(it->second);
      for (std::string digits; RE2::FindAndConsume(&excluded, count_re, &digits);) {
        const int c = std::stoi(digits);
        EXPECT_FALSE(c > 0 && c < kSiteK) << "LEAK group < k: " << id << " 'excluded' = \"" << it->second << "\"";
      }
    }
  });
}

// 5c. Oversized identifiers: a 129-byte study_id, a 10 kB task_id, a params
// map of 10,000 keys: refused; the site then still answers a plain task.
void OversizedFields(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy("adv-oversized", kCohortBody);
  s.Task("cohort.moments", st, Params().S("columns", "age,size"), std::string(129, 's'));
  TaskDef& long_id = s.Task("cohort.moments", st, Params().S("columns", "age,size"));
  long_id.task["task_id"] = "t2-" + std::string(10 * 1024, 't');
  Params many;
  for (int i = 0; i < 10000; ++i) many.S("key" + std::to_string(i), "v");
  s.Task("cohort.moments", st, many);
  s.Task("cohort.moments", st, Params().S("columns", "age,size"));
  s.checks.push_back([](const Outcome& run) {
    const auto& tasks = run.setup->tasks;
    for (size_t i = 0; i < tasks.size(); ++i) {
      auto it = run.by_task.find(tasks[i].task["task_id"]);
      if (it == run.by_task.end()) continue;  // reported as a hang
      if (i + 1 < tasks.size()) {
        EXPECT_NE(it->second.status_code, 0) << "BOUNDS: oversized task " << i + 1 << " was answered";
      } else {
        EXPECT_EQ(it->second.status_code, 0)
            << "the site no longer serves a plain task after the oversized ones: " << it->second.status_message;
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Verifiable rounds (issue 12). The study lists two sites, C1 and the site
// under attack C2; a Cox model is fitted over both. The rogue forwards, in
// Task.transcript, signed contributions: C1's (made here with C1's real key,
// on a copy of the table) and C2's own (its earlier answers, "transcript_from").
// The site must evaluate only the step the approved spec's Newton-Raphson
// takes from the verified transcript, and score only the frozen model the
// transcript produces; anything else is refused (rule verified-step),
// audited at the site, and nothing is released. Each attack has honest
// controls that must be answered, so a site refusing everything fails too.

struct SiteKey {
  std::unique_ptr<pki::PrivateKey> key;
  std::string cert_pem;
};

const SiteKey& KeyOf(const std::string& cn) {
  static std::map<std::string, SiteKey>* keys = new std::map<std::string, SiteKey>();
  auto it = keys->find(cn);
  if (it != keys->end()) return it->second;
  SiteKey k;
  auto loaded = pki::PrivateKey::Load(g_pki_dir + "/certs/" + cn + ".key");
  EXPECT_OK(loaded);
  if (loaded.ok()) k.key = std::move(*loaded);
  k.cert_pem = ReadAll(g_pki_dir + "/certs/" + cn + ".crt");
  return (*keys)[cn] = std::move(k);
}

// `m` signed with the key and certificate of `signer` (whatever m.site says).
v1::SignedMessage SignAs(const std::string& signer, const v1::RoundMessage& m) {
  const SiteKey& k = KeyOf(signer);
  if (k.key == nullptr) return {};
  absl::StatusOr<v1::SignedMessage> s = rounds::Sign(m, *k.key, k.cert_pem);
  EXPECT_OK(s);
  return s.ok() ? *s : v1::SignedMessage();
}

std::string SpecHashOf(const StudyDef& st) {
  v1::Study study;
  absl::Status parsed = ParseTextProto(st.text, st.name, &study);
  EXPECT_OK(parsed);
  return StudySpecHash(study);
}

v1::Model ModelOf(const StudyDef& st, const std::string& name) {
  v1::Study study;
  EXPECT_OK(ParseTextProto(st.text, st.name, &study));
  for (const auto& m : study.models()) {
    if (m.name() == name) return m;
  }
  ADD_FAILURE() << "no model " << name;
  return {};
}

v1::RoundMessage Message(const StudyDef& st, const std::string& site, const std::string& round,
                         const std::string& kind, v1::Contribution c) {
  v1::RoundMessage m;
  m.set_study_id(st.name);
  m.set_spec_sha256(SpecHashOf(st));
  m.set_site(site);
  m.set_round_id(round);
  m.set_kind(kind);
  *m.mutable_contribution() = std::move(c);
  return m;
}

// The table's rows for a Cox model on `covs` (every row is eligible).
struct CoxRows {
  Eigen::MatrixXd x;
  std::vector<double> time;
  std::vector<int> status;
};
CoxRows TableCoxRows(const std::vector<std::string>& covs) {
  const Table& t = TheTable();
  CoxRows r;
  r.x.resize(kPatients, static_cast<Eigen::Index>(covs.size()));
  for (int i = 0; i < kPatients; ++i) {
    for (size_t j = 0; j < covs.size(); ++j) r.x(i, static_cast<Eigen::Index>(j)) = t.col(covs[j])[i];
    r.time.push_back(t.col("time")[i]);
    r.status.push_back(static_cast<int>(t.col("status")[i]));
  }
  return r;
}

v1::Payload PayloadOf(const std::map<std::string, std::vector<double>>& arrays) {
  v1::Payload p;
  for (const auto& [name, v] : arrays) AddVector(&p, name, v);
  return p;
}

std::vector<double> Flat(const Eigen::MatrixXd& m) {
  std::vector<double> out;
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) out.push_back(m(i, j));
  }
  return out;
}

// A site's models.prepare contribution on the table (what C2 itself releases).
v1::RoundMessage PrepareMessage(const StudyDef& st, const std::string& site, const std::string& model,
                                const std::vector<std::string>& covs) {
  const CoxRows r = TableCoxRows(covs);
  const models::CrossProducts cp = models::ComputeCrossProducts(r.x);
  double events = 0;
  for (int s : r.status) events += s;
  v1::Payload inputs;
  PutList(&inputs, "covariates", covs);
  auto c = rounds::MakeContribution(
      PayloadOf({{"n", {static_cast<double>(cp.n)}}, {"events", {events}},
                 {"sum_x", std::vector<double>(cp.sum.data(), cp.sum.data() + cp.sum.size())},
                 {"sum_xx", Flat(cp.sum_outer)}}),
      {"n", "events", "sum_x", "sum_xx"}, inputs);
  EXPECT_OK(c);
  return Message(st, site, rounds::PrepareRound(model), "models.prepare", *c);
}

// A site's models.derivatives contribution at `beta` (evaluation k of the
// development fit over `fit_sites`).
v1::RoundMessage EvalMessage(const StudyDef& st, const std::string& site, const std::string& model,
                             const std::vector<std::string>& covs, const Eigen::VectorXd& beta, int k,
                             const std::vector<std::string>& fit_sites) {
  const CoxRows r = TableCoxRows(covs);
  auto stratum = models::CoxStratum::Create(r.time, r.status, r.x);
  EXPECT_OK(stratum);
  const models::Derivatives d = models::CoxDerivatives(*stratum, beta, models::Ties::kBreslow);
  v1::Payload inputs;
  AddVector(&inputs, "beta", std::vector<double>(beta.data(), beta.data() + beta.size()));
  PutList(&inputs, "covariates", covs);
  (*inputs.mutable_strings())["fit"] = "dev";
  PutList(&inputs, "fit_sites", fit_sites);
  auto c = rounds::MakeContribution(
      PayloadOf({{"n", {static_cast<double>(d.n)}}, {"events", {static_cast<double>(d.events)}},
                 {"loglik", {d.loglik}},
                 {"gradient", std::vector<double>(d.gradient.data(), d.gradient.data() + d.gradient.size())},
                 {"information", Flat(d.information)}}),
      {"n", "events", "loglik", "gradient", "information"}, inputs);
  EXPECT_OK(c);
  return Message(st, site, rounds::EvalRound(model, "dev", k), "models.derivatives", *c);
}

// Writes `messages` as a Transcript file for the rogue; returns its path.
std::string TranscriptFile(AttackSetup& s, const std::string& name,
                           const std::vector<v1::SignedMessage>& messages) {
  v1::Transcript t;
  for (const auto& m : messages) *t.add_messages() = m;
  const std::string path = s.dir + "/rogue/" + name + ".transcript";
  fs::create_directories(s.dir + "/rogue");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << t.SerializeAsString();
  return path;
}

TaskDef& WithTranscript(TaskDef& t, const std::string& file, const std::vector<std::string>& from = {}) {
  t.task["transcript_file"] = file;
  t.task["transcript_from"] = from;
  return t;
}

std::string TaskId(const TaskDef& t) { return t.task["task_id"].get<std::string>(); }

// Each of `refused` refused naming `rule`, releasing nothing, and audited
// at the site naming the rule; each of `answered` answered with a signed
// contribution to `rounds[i]`.
std::function<void(const Outcome&)> ExpectRule(const std::string& rule,
                                               std::vector<std::string> refused,
                                               std::vector<std::string> answered,
                                               std::vector<std::string> rounds) {
  return [rule, refused, answered, rounds](const Outcome& run) {
    for (const std::string& id : refused) {
      auto it = run.by_task.find(id);
      ASSERT_NE(it, run.by_task.end()) << id << " unanswered";
      const Answer& a = it->second;
      EXPECT_NE(a.status_code, 0) << "LEAK not refused: " << id << " (" << a.kind << ") was answered";
      EXPECT_NE(a.status_message.find(rule), std::string::npos)
          << id << ": expected rule " << rule << ", got: " << a.status_message;
      EXPECT_TRUE(a.arrays.empty() && a.signed_round.empty()) << "LEAK: refused " << id << " released data";
      bool audited = false;
      std::istringstream lines(run.audit_log);
      for (std::string line; std::getline(lines, line);) {
        audited = audited || (line.find("\"task\":\"" + id + "\"") != std::string::npos &&
                              line.find(rule) != std::string::npos &&
                              line.find("\"direction\":\"decision\"") != std::string::npos);
      }
      EXPECT_TRUE(audited) << id << ": no audit decision at the site naming " << rule;
    }
    for (size_t i = 0; i < answered.size(); ++i) {
      auto it = run.by_task.find(answered[i]);
      ASSERT_NE(it, run.by_task.end()) << answered[i] << " unanswered";
      EXPECT_TRUE(it->second.ok()) << "honest control " << answered[i] << " refused: "
                                   << it->second.status_message;
      if (i < rounds.size()) {
        EXPECT_EQ(it->second.signed_round, rounds[i]) << answered[i];
      }
    }
  };
}

std::function<void(const Outcome&)> ExpectVerified(std::vector<std::string> refused,
                                                   std::vector<std::string> answered,
                                                   std::vector<std::string> rounds) {
  return ExpectRule("verified-step", std::move(refused), std::move(answered), std::move(rounds));
}

const std::string kVerifySites = "sites: \"C1\"\nsites: \"C2\"\n";
const std::vector<std::string> kVerifyCovs = {"age", "size"};
const std::vector<std::string> kFitSites = {"C1", "C2"};

Params EvalParams(const Eigen::VectorXd& beta) {
  return Params()
      .S("model", "m")
      .L("covariates", kVerifyCovs)
      .S("fit", "dev")
      .L("fit_sites", kFitSites)
      .A("beta", std::vector<double>(beta.data(), beta.data() + beta.size()));
}

// The step after evaluation 0, as the site will recompute it: the replay of
// the fit on C1's and (the table's own) C2's contributions.
Eigen::VectorXd HonestStep1(const StudyDef& st) {
  rounds::VerifiedTranscript t;
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(2);
  for (const char* site : {"C1", "C2"}) {
    EXPECT_OK(t.Add(PrepareMessage(st, site, "m", kVerifyCovs), "test"));
    EXPECT_OK(t.Add(EvalMessage(st, site, "m", kVerifyCovs, zero, 0, kFitSites), "test"));
  }
  auto r = rounds::ReplayFit(ModelOf(st, "m"), "dev", kFitSites, t);
  EXPECT_OK(r);
  if (!r.ok() || r->complete || r->next.index != 1) {
    ADD_FAILURE() << "SETUP: the replay does not ask for evaluation 1";
    return zero;
  }
  return r->next.beta;
}

// 1. A beta other than the verified Newton step.
void VerifiedStep(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy("adv-verify-step", kVerifySites + CoxModel("m", kVerifyCovs));
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(2);
  const v1::SignedMessage c1_prep = SignAs("C1", PrepareMessage(st, "C1", "m", kVerifyCovs));
  const v1::SignedMessage c1_eval0 = SignAs("C1", EvalMessage(st, "C1", "m", kVerifyCovs, zero, 0, kFitSites));
  const std::string t1 = TaskId(s.Task("models.prepare", st, Params().S("model", "m")));
  const std::string t2 = TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(zero)),
                                               TranscriptFile(s, "prep", {c1_prep}), {t1}));
  const Eigen::VectorXd step = HonestStep1(st);
  Eigen::VectorXd crafted = step;
  crafted[0] += 0.01;  // a mild beta (age spans ~50 years): only the verification refuses it
  const std::string after0 = TranscriptFile(s, "after0", {c1_prep, c1_eval0});
  const std::string t3 =
      TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(crafted)), after0, {t1, t2}));
  Eigen::VectorXd nudged = step;
  nudged[1] *= 1 + 1e-9;  // beyond floating-point reordering
  const std::string t4 =
      TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(nudged)), after0, {t1, t2}));
  const std::string t5 =
      TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(step)), after0, {t1, t2}));
  // Evaluation 0 again once the transcript covers it: no such step.
  const std::string t6 =
      TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(zero)), after0, {t1, t2}));
  s.checks.push_back(ExpectVerified({t3, t4, t6}, {t1, t2, t5},
                                    {"models/m/prepare", "models/m/fit/dev/eval/0",
                                     "models/m/fit/dev/eval/1"}));
}

// 2. Forged, altered, misattributed, foreign and replayed contributions.
void ForgedContributions(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy("adv-verify-forged", kVerifySites + CoxModel("m", kVerifyCovs));
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(2);
  const v1::RoundMessage prep = PrepareMessage(st, "C1", "m", kVerifyCovs);
  const v1::SignedMessage c1_prep = SignAs("C1", prep);
  const std::string t1 = TaskId(s.Task("models.prepare", st, Params().S("model", "m")));
  auto eval0_with = [&](const std::string& name, const std::vector<v1::SignedMessage>& msgs) {
    return TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(zero)),
                                 TranscriptFile(s, name, msgs), {t1}));
  };
  std::vector<std::string> refused;
  // A bad signature.
  v1::SignedMessage forged = c1_prep;
  std::string sig = forged.signature();
  sig[sig.size() / 2] = sig[sig.size() / 2] == 'A' ? 'B' : 'A';
  forged.set_signature(sig);
  refused.push_back(eval0_with("forged", {forged}));
  // The body changed (n + 1), the signature kept.
  v1::SignedMessage altered = c1_prep;
  v1::RoundMessage changed = prep;
  changed.mutable_contribution()->set_summed(0, changed.contribution().summed(0) + 1);
  altered.set_body(DeterministicBytes(changed));
  refused.push_back(eval0_with("altered", {altered}));
  // C3's certificate claiming to be C1.
  refused.push_back(eval0_with("claimed", {SignAs("C3", prep)}));
  // C3 as itself: a site the approved spec does not list.
  v1::RoundMessage c3 = PrepareMessage(st, "C3", "m", kVerifyCovs);
  refused.push_back(eval0_with("outsider", {SignAs("C3", c3)}));
  // C1's contribution to another study, replayed.
  v1::RoundMessage other_study = prep;
  other_study.set_study_id("adv-verify-earlier");
  refused.push_back(eval0_with("other-study", {SignAs("C1", other_study)}));
  // The honest evaluation 0 (control), then evaluation 1 (control).
  const std::string t_ok0 = eval0_with("honest", {c1_prep});
  const v1::SignedMessage c1_eval0 = SignAs("C1", EvalMessage(st, "C1", "m", kVerifyCovs, zero, 0, kFitSites));
  const Eigen::VectorXd step = HonestStep1(st);
  const std::string t_ok1 = TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(step)),
                                                  TranscriptFile(s, "after0", {c1_prep, c1_eval0}),
                                                  {t1, t_ok0}));
  // Evaluation 2 with C1's contribution to evaluation 0 replayed as its part
  // of evaluation 1 (C1 never answered evaluation 1).
  refused.push_back(TaskId(WithTranscript(s.Task("models.derivatives", st, EvalParams(step)),
                                          TranscriptFile(s, "replayed", {c1_prep, c1_eval0, c1_eval0}),
                                          {t1, t_ok0, t_ok1})));
  s.checks.push_back(ExpectVerified(refused, {t_ok0, t_ok1},
                                    {"models/m/fit/dev/eval/0", "models/m/fit/dev/eval/1"}));
}

// 3. A frozen model the transcript does not produce: a logistic model that
// the spec develops on C1 alone (its signed models.fit) and validates on C2.
void FrozenModel(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy(
      "adv-verify-frozen",
      kVerifySites + LogisticModel("l", {"f1", "f2"}) +
          "validation {\n  enabled: true\n  scheme: DEVELOP_VALIDATE\n  develop_on: \"C1\"\n"
          "  validate_on: \"C2\"\n  bootstrap_replicates: -1\n}\n");
  const std::vector<double> beta = {-0.2, 0.3, -0.1};
  v1::Payload plain;
  AddVector(&plain, "beta", beta);
  PutList(&plain, "covariates", {"f1", "f2"});
  v1::Contribution c;
  *c.mutable_plain() = plain;
  const v1::RoundMessage fit = Message(st, "C1", rounds::SiteFitRound("l"), "models.fit", c);
  const std::string signed_fit = TranscriptFile(s, "fit", {SignAs("C1", fit)});
  auto validate = [&](const std::vector<double>& b, const std::string& transcript) {
    Params p = Params().S("model", "l").L("covariates", SplitLines("f1\nf2")).S("fit", "dev").L("fit_sites", SplitLines("C1")).A("beta", b);
    return TaskId(WithTranscript(s.Task("models.validate", st, p), transcript));
  };
  std::vector<std::string> refused;
  // First without the signed fit (a site keeps the messages of the tasks it
  // answered, so this must come before any task that verified it).
  refused.push_back(validate(beta, TranscriptFile(s, "none", {})));
  refused.push_back(validate({-0.2, 0.3 + 0.5, -0.1}, signed_fit));  // another beta
  refused.push_back(validate({-0.2, 30.0, -0.1}, signed_fit));       // a steep one
  refused.push_back(validate(beta, TranscriptFile(s, "by-c3", {SignAs("C3", fit)})));
  v1::RoundMessage moved = fit;
  AddVector(moved.mutable_contribution()->mutable_plain(), "beta", {-0.2, 0.8, -0.1});
  refused.push_back(validate({-0.2, 0.8, -0.1}, TranscriptFile(s, "altered", {[&] {
                               v1::SignedMessage m = SignAs("C1", fit);
                               m.set_body(DeterministicBytes(moved));
                               return m;
                             }()})));
  const std::string ok = validate(beta, signed_fit);
  // Once verified and kept, the same fit needs no transcript; another beta
  // is still refused.
  const std::string ok_kept = validate(beta, TranscriptFile(s, "none-after", {}));
  refused.push_back(validate({-0.2, 0.31, -0.1}, TranscriptFile(s, "none-after2", {})));
  s.checks.push_back(ExpectVerified(refused, {ok, ok_kept}, {}));
}


// 4. The frozen Cox model's baseline hazard and risk-group cut-points: a
// validation site scores only the H0 and cuts that the development site's
// signed models.baseline and models.lp_summary produce (the coordinator's own
// functions recompute them).
void FrozenBaselineAndCuts(AttackSetup& s) {
  const StudyDef& st = s.ApprovedStudy(
      "adv-verify-h0",
      kVerifySites + CoxModel("c", kVerifyCovs) +
          "validation {\n  enabled: true\n  scheme: DEVELOP_VALIDATE\n  develop_on: \"C1\"\n"
          "  validate_on: \"C2\"\n  bootstrap_replicates: -1\n}\n");
  const std::vector<double> beta = {0.01, 0.02};
  auto signed_plain = [&](const std::string& round, const std::string& kind, const v1::Payload& plain) {
    v1::Contribution c;
    *c.mutable_plain() = plain;
    return SignAs("C1", Message(st, "C1", round, kind, c));
  };
  v1::Payload fit;
  AddVector(&fit, "beta", beta);
  PutList(&fit, "covariates", kVerifyCovs);
  // C1's baseline sums and its linear predictor's counts (made as a site makes them).
  models::SiteBaseline b{"C1", {200, 400, 800, 1200, 1825}, {12, 10, 9, 8, 6}, {300, 240, 170, 110, 60}};
  v1::Payload base;
  AddScalar(&base, "n", 60);
  AddVector(&base, "grid", b.grid);
  AddVector(&base, "grid_events", b.events);
  AddVector(&base, "grid_risk_sum", b.risk);
  const CoxRows rows = TableCoxRows(kVerifyCovs);
  std::vector<double> lp;
  for (int i = 0; i < kPatients; ++i) lp.push_back(beta[0] * rows.x(i, 0) + beta[1] * rows.x(i, 1));
  const models::LatticeCounts lc = models::CountsOnLattice(lp, models::NiceStepAtMost(0.05), kSiteK, 4096);
  v1::Payload counts;
  AddScalar(&counts, "n", kPatients);
  AddVector(&counts, "grid", lc.grid);
  AddVector(&counts, "counts", lc.counts);
  const std::string transcript = TranscriptFile(
      s, "h0", {signed_plain(rounds::SiteFitRound("c"), "models.fit", fit),
                signed_plain(rounds::BaselineRound("c", "dev"), "models.baseline", base),
                signed_plain(rounds::LpSummaryRound("c", "dev"), "models.lp_summary", counts)});
  auto h0 = models::PoolBaseline({b}, models::kDefaultHorizonDays, models::kDefaultTruncationDays);
  std::vector<models::SiteCounts> parts = {{lc.grid, lc.counts, static_cast<double>(kPatients)}};
  auto cuts = models::TertileCuts(parts);
  if (!h0.ok() || !cuts.ok()) {
    ADD_FAILURE() << "SETUP: H0 or the cuts cannot be computed";
    return;
  }
  auto validate = [&](const std::vector<double>& cumhaz, const std::vector<double>& km_cuts) {
    Params p = Params()
                   .S("model", "c")
                   .L("covariates", kVerifyCovs)
                   .S("fit", "dev")
                   .L("fit_sites", SplitLines("C1"))
                   .A("beta", beta)
                   .A("grid", h0->grid)
                   .A("cumhaz", cumhaz)
                   .A("km_cuts", km_cuts);
    return TaskId(WithTranscript(s.Task("models.validate", st, p), transcript));
  };
  const std::string ok = validate(h0->cumhaz, *cuts);
  std::vector<double> steeper = h0->cumhaz;
  for (double& h : steeper) h *= 1.5;
  std::vector<double> moved = *cuts;
  moved[0] = (moved[0] + moved[1]) / 2;  // a cut between two patients
  s.checks.push_back(ExpectVerified({validate(steeper, *cuts), validate(h0->cumhaz, moved)}, {ok}, {}));
}

// 5. A secure study's pooled sums asked for in the clear: the coordinator
// leaves out the secure-round params of an evaluation the site would
// otherwise verify and answer (the step is honest, the transcript valid).
void SecureDowngrade(AttackSetup& s) {
  const std::vector<std::string> fit_sites = {"C1", "C2", "C3"};
  const StudyDef& st = s.ApprovedStudy(
      "adv-secure-downgrade",
      kVerifySites + "sites: \"C3\"\nsecure_aggregation: true\n" + CoxModel("m", kVerifyCovs));
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(2);
  const std::string t1 = TaskId(s.Task("models.prepare", st, Params().S("model", "m")));
  const std::string prepared =
      TranscriptFile(s, "prep", {SignAs("C1", PrepareMessage(st, "C1", "m", kVerifyCovs)),
                                 SignAs("C3", PrepareMessage(st, "C3", "m", kVerifyCovs))});
  const std::string t2 = TaskId(WithTranscript(
      s.Task("models.derivatives", st, EvalParams(zero).L("fit_sites", fit_sites)), prepared,
      {t1}));
  // models.prepare is per site by design (the standardisation's sums): it
  // is answered in the clear.
  s.checks.push_back(ExpectRule("secagg-required", {t2}, {t1}, {"models/m/prepare"}));
}

const AttackDef kAttacks[] = {
    {"threshold_sweep", ThresholdSweep},
    {"threshold_bisection", ThresholdBisection},
    {"differencing", Differencing},
    {"refusal_oracle", RefusalOracle},
    {"one_event_cox", OneEventCox},
    {"steep_logistic", SteepLogistic},
    {"baseline_one_day_grid", BaselineOneDay},
    {"packed_linear_predictor", PackedLp},
    {"roc_chosen_thresholds", RocThresholds},
    {"km_risk_groups", KmRiskGroups},
    {"id_column", IdColumn},
    {"path_traversal_study_id", PathTraversalStudyId},
    {"path_traversal_output_file", PathTraversalOutputFile},
    {"regex_nested", RegexNested},
    {"regex_backtracking", RegexBacktrack},
    {"huge_output_suffix", HugeSuffix},
    {"huge_bootstrap_replicates", HugeReplicates},
    {"huge_and_nonfinite_params", HugeAndNonFiniteParams},
    {"calibration_bins", CalibrationBins},
    {"distributions_sweep", DistributionsSweep},
    {"unapproved_study", Unapproved},
    {"withdrawn_approval", Withdrawn},
    {"expired_approval", Expired},
    {"kind_not_needed", KindNotNeeded},
    {"model_cache_confusion", ModelCacheConfusion},
    {"one_event_approved", OneEventApproved},
    {"steep_logistic_approved", SteepLogisticApproved},
    {"regex_approved", RegexApproved},
    {"suffix_approved", SuffixApproved},
    {"model_differencing", ModelDifferencing},
    {"km_cut_moved_by_one", KmMovedByOne},
    {"roc_cases_below_k", RocCasesBelowK},
    {"excluded_counts", ExcludedCounts},
    {"oversized_fields", OversizedFields},
    {"verified_step", VerifiedStep},
    {"forged_contributions", ForgedContributions},
    {"frozen_model", FrozenModel},
    {"frozen_baseline_and_cuts", FrozenBaselineAndCuts},
    {"secure_downgrade", SecureDowngrade},
};

INSTANTIATE_TEST_SUITE_P(Attacks, Adversarial, ::testing::ValuesIn(kAttacks),
                         [](const ::testing::TestParamInfo<AttackDef>& info) {
                           return std::string(info.param.name);
                         });


// ---------------------------------------------------------------------------
// The new attacks' checkers can fail (a test that cannot fail is a defect):
// crafted answers that leak, computed from the table as a site without the
// rule would release them, must be flagged; honest ones must not. (The
// must-approve check of the harness is seen failing by giving
// ApprovedStudy() a spec the site refuses, e.g. one_event_cox's.)

Answer Crafted(const TaskDef& t, std::map<std::string, std::vector<double>> arrays, int64_t elapsed_ms = 1) {
  Answer a;
  a.event = "result";
  a.task_id = t.task["task_id"];
  a.kind = t.task["kind"];
  a.study_id = t.task["study_id"];
  a.status_code = 0;
  a.elapsed_ms = elapsed_ms;
  a.arrays = std::move(arrays);
  return a;
}

Outcome CraftedRun(const AttackSetup& setup, const std::vector<Answer>& answers) {
  Outcome run;
  run.setup = &setup;
  run.answers = answers;
  for (const Answer& a : answers) run.by_task[a.task_id] = a;
  return run;
}

TEST(AdversarialCheckers, FlagCraftedLeaks) {
  const Table& t = TheTable();
  {  // steep logistic: the exact gradients at beta = (-1e7 c, 1e7)
    AttackSetup steep;
    steep.dir = "/nonexistent";
    SteepLogisticApproved(steep);
    std::vector<Answer> answers;
    for (const TaskDef& d : steep.tasks) {
      const std::vector<double> beta = BetaOf(d);
      if (beta.size() != 2 || beta[1] != 1e7) continue;
      double g0 = 0, g1 = 0;
      for (int i = 0; i < kPatients; ++i) {
        const double x = t.col("f1")[i];
        const double r = t.col("recur2y")[i] - Sigmoid(beta[0] + beta[1] * x);
        g0 += r;
        g1 += r * x;
      }
      answers.push_back(Crafted(d, {{"gradient", {g0, g1}}}));
    }
    ASSERT_EQ(answers.size(), 6u);
    const Outcome run = CraftedRun(steep, answers);
    EXPECT_GE(RecoveredF1FromGradients(run), 5);
    Findings f;
    EXPECT_NONFATAL_FAILURE(CheckWeights(run, run.answers[0], &f), "LEAK weight concentration");
    // Honest: one gradient per slope, nothing to difference.
    EXPECT_EQ(RecoveredF1FromGradients(CraftedRun(steep, {answers[0]})), 0);
  }
  {  // KM risk groups one patient apart
    AttackSetup km;
    km.dir = "/nonexistent";
    KmMovedByOne(km);
    ASSERT_GE(km.tasks.size(), 2u);
    Findings f;
    EXPECT_NONFATAL_FAILURE(
        CheckKmGroupsAcross(CraftedRun(km, {Crafted(km.tasks[0], {{"curve.km.low.n", {20}}}),
                                            Crafted(km.tasks[1], {{"curve.km.low.n", {21}}})}),
                            &f),
        "LEAK cell < k");
    CheckKmGroupsAcross(CraftedRun(km, {Crafted(km.tasks[0], {{"curve.km.low.n", {20}}}),
                                        Crafted(km.tasks[1], {{"curve.km.low.n", {20}}})}),
                        &f);
    EXPECT_EQ(f.total(), 1);
  }
  {  // two models' n one patient apart
    AttackSetup diff;
    diff.dir = "/nonexistent";
    ModelDifferencing(diff);
    Findings f;
    EXPECT_NONFATAL_FAILURE(
        CheckModelCountsAcross(CraftedRun(diff, {Crafted(diff.tasks[0], {{"n", {60}}, {"events", {31}}}),
                                                 Crafted(diff.tasks[1], {{"n", {59}}, {"events", {31}}})}),
                               &f),
        "LEAK cell < k");
  }
  {  // an exclusion reason counting one patient
    AttackSetup ex;
    ex.dir = "/nonexistent";
    ExcludedCounts(ex);
    Answer a = Crafted(ex.tasks[0], {{"n", {59}}});
    a.strings["excluded"] = "missing f2=1";
    const Outcome run = CraftedRun(ex, {a});
    EXPECT_NONFATAL_FAILURE(ex.checks[0](run), "LEAK group < k");
    a.strings["excluded"] = "missing f2=12";
    ex.checks[0](CraftedRun(ex, {a}));  // >= k: no finding
  }
  {  // a refusal expected, an answer given; a slow answer
    AttackSetup one;
    one.dir = "/nonexistent";
    OneEventApproved(one);
    ASSERT_FALSE(one.tasks.empty());
    const Outcome run = CraftedRun(one, {Crafted(one.tasks[0], {{"events", {1}}}, 20000)});
    EXPECT_NONFATAL_FAILURE(ExpectRefusedNaming("models.derivatives", "min-events")(run), "LEAK not refused");
    EXPECT_NONFATAL_FAILURE(ExpectPrompt(kPromptMs)(run), "HANG slow");
  }
}
}  // namespace
}  // namespace fedrad::testing
