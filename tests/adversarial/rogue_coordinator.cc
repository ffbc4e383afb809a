// fedrad-rogue-coordinator: a malicious coordinator for the adversarial suite
// (tests/adversarial/adversarial_test.cc). It holds a VALID coordinator
// certificate from the study CA and speaks the real wire protocol
// (fedrad.v1.Federation over mutual TLS, proto/fedrad.proto): it accepts one
// site's Connect stream, answers the Hello with a Welcome, sends a scripted
// list of Tasks one after the other (each with the approved study spec it
// names, or any spec the script likes), and writes every TaskResult it gets
// as JSON Lines. Then it exits by itself: it never waits longer than each
// task's timeout nor than the script's overall timeout.
//
//   fedrad-rogue-coordinator --ca ca.crt --cert coordinator.crt --key coordinator.key
//       [--crl crl.pem] --listen 127.0.0.1:0 --port-file port --script script.json
//       --out results.jsonl
//   (one command line)
//
// The script (JSON):
//   {"overall_timeout_seconds": 120,        // whole run, default 120
//    "connect_timeout_seconds": 30,         // wait for the site, default 30
//    "tasks": [
//      {"task_id": "t1",                    // default "t<index>"
//       "kind": "cohort.counts",
//       "study_id": "adv-sweep",            // Task.study_id (any string: "../../x" too)
//       "study_file": "/abs/study.textproto",  // Task.study, parsed from this textproto
//       "timeout_seconds": 15,              // default 15
//       "params": {"arrays": [{"name": "thresholds.age", "values": [30, 31.5, "nan"],
//                              "shape": [3]}],      // shape default [n]; "scalar": true -> []
//                  "strings": {"model": "cox"},
//                  "lists": {"covariates": ["age", "size"]}},  // Payload.lists
//       "transcript_file": "/abs/t.bin",    // a serialized fedrad.v1.Transcript: Task.transcript
//       "transcript_from": ["t1", "t2"]}]}  // then the signed messages (TaskResult.signed)
//                                           // of these earlier tasks' answers, in order
// Array values are numbers or the strings "nan", "inf", "-inf".
//
// The output (JSON Lines), in order:
//   {"event":"hello","site":CN,"role":OU,"protocol_version":..,"min_cell_count":..,
//    "accepted_task_kinds":[..]}
//   {"event":"result","task_id":..,"kind":..,"study_id":..,"status_code":..,
//    "status_message":..,"n_contributing":..,"elapsed_ms":..,
//    "arrays":{name:{"shape":[..],"values":[..]}},"strings":{..},"lists":{name:[..]}}
//    (NaN -> null)
//   {"event":"timeout","task_id":..,"kind":..}          no answer within the timeout
//   {"event":"stream_ended","task_id":..,"kind":..}     the site closed the stream
//   {"event":"end","sent":..,"answered":..,"timed_out":..,"reason":..}
// Exit code: 0 every task answered; 3 some were not; 4 no site connected;
// 2 usage or script error.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "proto/fedrad.grpc.pb.h"
#include "proto/study.pb.h"
#include "proto/textproto.h"
#include "proto/transport.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct ScriptTask {
  fedrad::v1::Task task;
  double timeout_seconds = 15;
  // Signed messages of earlier answers to append to Task.transcript.
  std::vector<std::string> transcript_from;
};

struct Script {
  double overall_timeout_seconds = 120;
  double connect_timeout_seconds = 30;
  std::vector<ScriptTask> tasks;
};

double ParseValue(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw std::runtime_error("array value is not a number, \"nan\", \"inf\" or \"-inf\": " + v.dump());
}

bool LoadScript(const std::string& path, Script* script, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  try {
    json j = json::parse(in);
    script->overall_timeout_seconds = j.value("overall_timeout_seconds", 120.0);
    script->connect_timeout_seconds = j.value("connect_timeout_seconds", 30.0);
    std::map<std::string, fedrad::v1::Study> studies;  // by file
    int index = 0;
    for (const json& t : j.at("tasks")) {
      ScriptTask st;
      ++index;
      st.task.set_task_id(t.value("task_id", "t" + std::to_string(index)));
      st.task.set_kind(t.value("kind", ""));
      st.task.set_study_id(t.value("study_id", ""));
      st.timeout_seconds = t.value("timeout_seconds", 15.0);
      const std::string study_file = t.value("study_file", "");
      if (!study_file.empty()) {
        if (studies.count(study_file) == 0) {
          fedrad::v1::Study study;
          absl::Status s = fedrad::ReadTextProto(study_file, &study);
          if (!s.ok()) {
            *error = std::string(s.message());
            return false;
          }
          studies[study_file] = study;
        }
        *st.task.mutable_study() = studies[study_file];
      }
      const std::string transcript_file = t.value("transcript_file", "");
      if (!transcript_file.empty()) {
        std::ifstream tf(transcript_file, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(tf)), std::istreambuf_iterator<char>());
        if (!tf || !st.task.mutable_transcript()->ParseFromString(bytes)) {
          *error = "cannot read the transcript " + transcript_file;
          return false;
        }
      }
      if (t.contains("transcript_from")) {
        for (const json& id : t["transcript_from"]) st.transcript_from.push_back(id.get<std::string>());
      }
      if (t.contains("params")) {
        const json& p = t["params"];
        if (p.contains("arrays")) {
          for (const json& a : p["arrays"]) {
            fedrad::v1::Array* array = st.task.mutable_params()->add_arrays();
            array->set_name(a.at("name").get<std::string>());
            for (const json& v : a.at("values")) array->add_values(ParseValue(v));
            if (a.contains("shape")) {
              for (const json& d : a["shape"]) array->add_shape(d.get<int64_t>());
            } else if (!a.value("scalar", false)) {
              array->add_shape(array->values_size());
            }
          }
        }
        if (p.contains("strings")) {
          for (auto& [key, value] : p["strings"].items()) {
            (*st.task.mutable_params()->mutable_strings())[key] = value.get<std::string>();
          }
        }
        if (p.contains("lists")) {
          for (auto& [key, value] : p["lists"].items()) {
            fedrad::v1::StringList& list = (*st.task.mutable_params()->mutable_lists())[key];
            for (const json& v : value) list.add_values(v.get<std::string>());
          }
        }
      }
      script->tasks.push_back(std::move(st));
    }
  } catch (const std::exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
  return true;
}

json ArrayJson(const fedrad::v1::Array& a) {
  json shape = json::array(), values = json::array();
  for (int64_t d : a.shape()) shape.push_back(d);
  for (double v : a.values()) {
    if (std::isfinite(v)) {
      values.push_back(v);
    } else {
      values.push_back(nullptr);
    }
  }
  return json{{"shape", shape}, {"values", values}};
}

// Output lines, flushed one by one (a test may read them while we run).
class Output {
 public:
  explicit Output(const std::string& path) : out_(path, std::ios::trunc) {}
  bool ok() const { return static_cast<bool>(out_); }
  void Write(const json& line) {
    std::lock_guard<std::mutex> lock(mu_);
    out_ << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
};

class RogueService final : public fedrad::v1::Federation::Service {
 public:
  using Stream =
      grpc::ServerReaderWriter<fedrad::v1::CoordinatorMessage, fedrad::v1::SiteMessage>;

  RogueService(const Script& script, Output* output, Clock::time_point deadline)
      : script_(script), output_(output), deadline_(deadline) {}

  grpc::Status Connect(grpc::ServerContext* context, Stream* stream) override {
    if (taken_.exchange(true)) {
      // One site session per run: a reconnecting site is turned away.
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "rogue: session already used");
    }
    grpc::Status early;
    if (!Handshake(*context, stream, &early)) return early;
    connected_ = true;

    // A reader thread: results and heartbeats into a queue.
    Inbox inbox;
    std::thread reader([&] { ReadResults(stream, inbox); });
    const std::string reason = RunScript(stream, inbox);
    context->TryCancel();
    reader.join();
    Finish(reason);
    return grpc::Status::OK;
  }

  bool WaitDone(Clock::time_point until, double connect_timeout_seconds) {
    std::unique_lock<std::mutex> lock(done_mu_);
    const auto connect_by =
        Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(connect_timeout_seconds * 1000));
    while (!done_) {
      auto limit = connected_ ? until : std::min(until, connect_by);
      if (done_cv_.wait_until(lock, limit) == std::cv_status::timeout) break;
    }
    return done_;
  }

  bool connected() const { return connected_; }
  int sent() const { return sent_; }
  int answered() const { return answered_; }
  int timed_out() const { return timed_out_; }
  std::string reason() {
    std::lock_guard<std::mutex> lock(done_mu_);
    return reason_;
  }

 private:
  // Results read from the site by the reader thread, guarded by mu.
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<fedrad::v1::TaskResult> results;
    bool ended = false;
  };
  // How the wait for one task's answer ended.
  enum class Answer { kGot, kStreamEnded, kTimeout };

  // Reads the site's Hello, writes the hello line and sends the Welcome.
  // Returns true to go on; false with *early the status to end the call with
  // (Finish already called).
  bool Handshake(const grpc::ServerContext& context, Stream* stream, grpc::Status* early) {
    auto who = fedrad::transport::GetPeerIdentity(context, false);
    json hello_line = {{"event", "hello"}};
    if (who.ok()) {
      hello_line["site"] = who->common_name;
      hello_line["role"] = who->role;
    }
    fedrad::v1::SiteMessage first;
    if (!stream->Read(&first) || !first.has_hello()) {
      hello_line["error"] = "no hello";
      output_->Write(hello_line);
      Finish("no hello");
      *early = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no hello");
      return false;
    }
    hello_line["protocol_version"] = first.hello().protocol_version();
    hello_line["min_cell_count"] = first.hello().min_cell_count();
    hello_line["accepted_task_kinds"] = std::vector<std::string>(
        first.hello().accepted_task_kinds().begin(), first.hello().accepted_task_kinds().end());
    output_->Write(hello_line);
    fedrad::v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_protocol_version(fedrad::transport::kProtocolVersion);
    welcome.mutable_welcome()->set_coordinator_id("coordinator");
    welcome.mutable_welcome()->set_site_id(who.ok() ? who->common_name : "");
    if (!stream->Write(welcome)) {
      Finish("welcome not delivered");
      *early = grpc::Status::OK;
      return false;
    }
    return true;
  }

  // The reader thread's body: every TaskResult into the inbox until the
  // stream ends (heartbeats are dropped).
  static void ReadResults(Stream* stream, Inbox& inbox) {
    fedrad::v1::SiteMessage msg;
    while (stream->Read(&msg)) {
      if (!msg.has_result()) continue;
      std::lock_guard<std::mutex> lock(inbox.mu);
      inbox.results.push_back(msg.result());
      inbox.cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(inbox.mu);
    inbox.ended = true;
    inbox.cv.notify_all();
  }

  // Sends the script's tasks one after the other, each waited for up to its
  // timeout; returns why the run ended.
  std::string RunScript(Stream* stream, Inbox& inbox) {
    std::string reason = "script done";
    // The signed messages of the answers so far, by task id.
    std::map<std::string, fedrad::v1::SignedMessage> signed_by_task;
    for (const ScriptTask& st : script_.tasks) {
      Clock::time_point sent_at, task_deadline;
      const bool delivered = SendTask(stream, st, signed_by_task, &sent_at, &task_deadline);
      if (!delivered) {
        output_->Write({{"event", "stream_ended"}, {"task_id", st.task.task_id()},
                        {"kind", st.task.kind()}});
        reason = "stream ended";
        break;
      }
      const Answer answer = AwaitAnswer(inbox, st, sent_at, task_deadline, signed_by_task);
      if (answer == Answer::kGot) {
        ++answered_;
        continue;
      }
      if (answer == Answer::kStreamEnded) {
        output_->Write({{"event", "stream_ended"}, {"task_id", st.task.task_id()},
                        {"kind", st.task.kind()}});
        reason = "stream ended";
        break;
      }
      ++timed_out_;
      output_->Write({{"event", "timeout"}, {"task_id", st.task.task_id()},
                      {"kind", st.task.kind()}, {"timeout_seconds", st.timeout_seconds}});
      if (Clock::now() >= deadline_) {
        reason = "overall timeout";
        break;
      }
    }
    return reason;
  }

  // Writes one task (with the transcript it names) and counts it as sent;
  // sets when it was sent and when its wait ends. Returns whether the
  // stream took it.
  bool SendTask(Stream* stream, const ScriptTask& st,
                const std::map<std::string, fedrad::v1::SignedMessage>& signed_by_task,
                Clock::time_point* sent_at, Clock::time_point* task_deadline) {
    fedrad::v1::CoordinatorMessage out;
    *out.mutable_task() = st.task;
    for (const std::string& id : st.transcript_from) {
      auto it = signed_by_task.find(id);
      if (it != signed_by_task.end()) *out.mutable_task()->mutable_transcript()->add_messages() = it->second;
    }
    *sent_at = Clock::now();
    *task_deadline =
        *sent_at + std::chrono::milliseconds(static_cast<int64_t>(st.timeout_seconds * 1000));
    if (*task_deadline > deadline_) *task_deadline = deadline_;
    out.mutable_task()->set_deadline_unix_millis(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count() +
        static_cast<int64_t>(st.timeout_seconds * 1000));
    bool delivered;
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      delivered = stream->Write(out);
    }
    ++sent_;
    return delivered;
  }

  // Waits until task st's answer arrives, the stream ends or task_deadline
  // passes; every result that arrives meanwhile (of earlier, timed-out tasks
  // too) is written and its signed message kept.
  Answer AwaitAnswer(Inbox& inbox, const ScriptTask& st, Clock::time_point sent_at,
                     Clock::time_point task_deadline,
                     std::map<std::string, fedrad::v1::SignedMessage>& signed_by_task) {
    std::unique_lock<std::mutex> lock(inbox.mu);
    bool got = false;
    while (!got) {
      // Results of other (earlier, timed-out) tasks are written too.
      while (!inbox.results.empty()) {
        fedrad::v1::TaskResult r = std::move(inbox.results.front());
        inbox.results.pop_front();
        WriteResult(r, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                            sent_at)
                           .count());
        if (r.has_signed_()) signed_by_task[r.task_id()] = r.signed_();
        if (r.task_id() == st.task.task_id()) got = true;
      }
      if (got) break;
      if (inbox.ended) break;
      if (inbox.cv.wait_until(lock, task_deadline) == std::cv_status::timeout &&
          inbox.results.empty()) {
        break;
      }
    }
    if (got) return Answer::kGot;
    if (inbox.ended) return Answer::kStreamEnded;
    return Answer::kTimeout;
  }

  void WriteResult(const fedrad::v1::TaskResult& r, int64_t elapsed_ms) {
    json arrays = json::object();
    for (const auto& a : r.payload().arrays()) arrays[a.name()] = ArrayJson(a);
    json strings = json::object();
    for (const auto& [k, v] : r.payload().strings()) strings[k] = v;
    json lists = json::object();
    for (const auto& [k, v] : r.payload().lists()) {
      lists[k] = std::vector<std::string>(v.values().begin(), v.values().end());
    }
    json line = {{"event", "result"},
                 {"task_id", r.task_id()},
                 {"kind", r.kind()},
                 {"study_id", r.study_id()},
                 {"status_code", r.status_code()},
                 {"status_message", r.status_message()},
                 {"n_contributing", r.n_contributing()},
                 {"elapsed_ms", elapsed_ms},
                 {"arrays", arrays},
                 {"strings", strings},
                 {"lists", lists}};
    // A signed contribution (verifiable rounds): its round id, unverified.
    fedrad::v1::RoundMessage m;
    if (r.has_signed_() && m.ParseFromString(r.signed_().body())) line["signed_round"] = m.round_id();
    output_->Write(line);
  }

  void Finish(const std::string& reason) {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_ = true;
    reason_ = reason;
    done_cv_.notify_all();
  }

  const Script& script_;
  Output* output_;
  const Clock::time_point deadline_;
  std::atomic<bool> taken_{false};
  std::atomic<bool> connected_{false};
  std::atomic<int> sent_{0}, answered_{0}, timed_out_{0};
  std::mutex write_mu_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::string reason_ = "no site connected";
};

int Usage() {
  std::cerr << "usage: fedrad-rogue-coordinator --ca CA.crt --cert C.crt --key C.key [--crl CRL.pem]\n"
               "         --listen HOST:PORT --port-file FILE --script SCRIPT.json --out OUT.jsonl\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return Usage();
    flags[a.substr(2)] = argv[++i];
  }
  for (const char* required : {"ca", "cert", "key", "listen", "port-file", "script", "out"}) {
    if (flags[required].empty()) return Usage();
  }
  Script script;
  std::string error;
  if (!LoadScript(flags["script"], &script, &error)) {
    std::cerr << "rogue: " << error << "\n";
    return 2;
  }
  Output output(flags["out"]);
  if (!output.ok()) {
    std::cerr << "rogue: cannot write " << flags["out"] << "\n";
    return 2;
  }
  fedrad::transport::TlsFiles tls;
  tls.ca_cert = flags["ca"];
  tls.cert = flags["cert"];
  tls.key = flags["key"];
  tls.crl = flags["crl"];
  tls.node_name = "rogue-coordinator";
  auto creds = fedrad::transport::MakeServerCredentials(tls);
  if (!creds.ok()) {
    std::cerr << "rogue: " << creds.status().message() << "\n";
    return 2;
  }
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(script.overall_timeout_seconds * 1000));
  RogueService service(script, &output, deadline);
  grpc::ServerBuilder builder;
  fedrad::transport::ConfigureServerBuilder(&builder);
  int port = 0;
  builder.AddListeningPort(flags["listen"], *creds, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "rogue: cannot listen on " << flags["listen"] << "\n";
    return 2;
  }
  {
    std::ofstream(flags["port-file"] + ".tmp") << port << "\n";
    std::rename((flags["port-file"] + ".tmp").c_str(), flags["port-file"].c_str());
  }
  std::cerr << "rogue: listening on port " << port << " with " << script.tasks.size() << " task(s)\n";
  const bool done = service.WaitDone(deadline, script.connect_timeout_seconds);
  const std::string reason = done ? service.reason()
                                  : (service.connected() ? "overall timeout" : "no site connected");
  output.Write({{"event", "end"},
                {"sent", service.sent()},
                {"answered", service.answered()},
                {"timed_out", service.timed_out()},
                {"reason", reason}});
  std::cerr << "rogue: " << reason << "; " << service.answered() << "/" << script.tasks.size()
            << " answered\n";
  const int code = !service.connected() ? 4
                   : service.answered() == static_cast<int>(script.tasks.size()) ? 0
                                                                                 : 3;
  // Never hang on the way out (a handler may still be blocked on a stuck site).
  std::thread([&] { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); }).detach();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::cout.flush();
  std::cerr.flush();
  _exit(code);
}
