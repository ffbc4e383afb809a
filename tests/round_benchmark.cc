// One federated round over real site processes on loopback with mutual TLS:
// the coordinator (in this process) sends "debug.vector" to every site, each
// site answers with 10,000 doubles, the coordinator sums them. Measured with
// 4 and 16 site processes, beside a bare gRPC unary echo of the same payload
// over the same TLS (the floor any round pays per site).
//
//   build/bench/fedrad_round_benchmark
//
// Counters: round_ms (mean latency of a round), pingpong_ms (the echo's,
// measured in the same run), ratio = round_ms / pingpong_ms.
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "coordinator/coordinator.h"
#include "core/log.h"
#include "core/pki.h"
#include "proto/payload.h"
#include "proto/textproto.h"
#include "proto/transport.h"
#include "bench_echo.grpc.pb.h"  // generated into the build root
#include "tests/sandbox_testutil.h"

namespace fedrad::testing {
namespace {

constexpr int kLength = 10000;

class EchoService : public bench::Echo::Service {
  grpc::Status Ping(grpc::ServerContext*, const v1::Payload* in, v1::Payload* out) override {
    *out = *in;
    return grpc::Status::OK;
  }
};

// A throw-away PKI shared by every fixture in the run.
struct Pki {
  TempDir dir{"bench"};
  std::string ca() const { return dir.path() + "/ca"; }
  std::string cert(const std::string& n) const { return dir.path() + "/certs/" + n + ".crt"; }
  std::string key(const std::string& n) const { return dir.path() + "/certs/" + n + ".key"; }
  Pki() {
    pki::InitCa(ca(), {}).IgnoreError();
    pki::IssueIdentity(ca(), "coordinator", pki::Role::kCoordinator, dir.path() + "/certs").IgnoreError();
    pki::IssueIdentity(ca(), "client", pki::Role::kSite, dir.path() + "/certs").IgnoreError();
  }
  transport::TlsFiles Files(const std::string& n) const {
    return {ca() + "/ca.crt", cert(n), key(n), ca() + "/crl.pem", false, n};
  }
};

std::unique_ptr<Pki>& PkiSlot() {
  static auto* pki = new std::unique_ptr<Pki>();
  return *pki;
}

Pki& SharedPki() {
  if (!PkiSlot()) PkiSlot() = std::make_unique<Pki>();
  return *PkiSlot();
}

// A coordinator in this process and `n` fedrad-site processes.
struct Federation {
  std::unique_ptr<coordinator::Coordinator> coordinator;
  std::vector<Process> sites;
  std::unique_ptr<coordinator::StudyContext> ctx;
  std::string dir;

  explicit Federation(int n) {
    Pki& pki = SharedPki();
    dir = pki.dir.path() + "/fed" + std::to_string(n);
    std::filesystem::create_directories(dir);
    v1::CoordinatorConfig cc;
    cc.set_listen_address("127.0.0.1:0");
    auto* tls = cc.mutable_tls();
    tls->set_ca_cert(pki.ca() + "/ca.crt");
    tls->set_crl(pki.ca() + "/crl.pem");
    tls->set_cert(pki.cert("coordinator"));
    tls->set_key(pki.key("coordinator"));
    cc.set_data_dir(dir + "/data");
    cc.set_audit_log(dir + "/audit/coordinator.log");
    coordinator = std::move(coordinator::Coordinator::Create(cc)).value();
    coordinator->Start().IgnoreError();
    // The study the benchmark's rounds belong to; every site approves it
    // (the debug rounds make debug.* tasks part of what it needs).
    v1::Study study;
    study.set_name("bench");
    study.mutable_quorum()->set_task_timeout_seconds(60);
    study.mutable_debug()->set_vector_rounds(1);
    study.mutable_debug()->set_vector_length(1);
    study.mutable_debug()->set_sleep_rounds(1);
    const std::string study_path = dir + "/study.textproto";
    WriteAll(study_path, ToTextProto(study));
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) {
      std::string name = "B" + std::to_string(i);
      names.push_back(name);
      pki::IssueIdentity(pki.ca(), name, pki::Role::kSite, pki.dir.path() + "/certs").IgnoreError();
      std::string csv = dir + "/" + name + ".csv";
      WriteCohortCsv(csv, name, 20, i);
      v1::SiteConfig sc;
      sc.set_coordinator_address("127.0.0.1:" + std::to_string(coordinator->port()));
      sc.mutable_tls()->set_ca_cert(pki.ca() + "/ca.crt");
      sc.mutable_tls()->set_crl(pki.ca() + "/crl.pem");
      sc.mutable_tls()->set_cert(pki.cert(name));
      sc.mutable_tls()->set_key(pki.key(name));
      sc.set_data_csv(csv);
      sc.mutable_policy()->set_enable_debug_tasks(true);
      sc.set_output_dir(dir + "/sites/" + name);
      sc.set_audit_log(dir + "/audit/" + name + ".log");
      sc.set_state_dir(dir + "/state/" + name);
      std::string config = dir + "/" + name + ".textproto";
      WriteAll(config, ToTextProto(sc));
      if (!ApproveStudy(config, study_path, dir + "/" + name + ".approve.log")) {
        FEDRAD_LOG(ERROR) << "site " << name << " did not approve the study; see " << dir;
      }
      sites.push_back(Start({BinDir() + "/fedrad-site", "--config", config}, dir + "/" + name + ".log"));
    }
    if (!coordinator->WaitForSites(names, 60)) {
      FEDRAD_LOG(ERROR) << "sites did not connect; see " << dir;
    }
    ctx = coordinator->NewStudyContext("bench-" + std::to_string(n), study, names);
  }
  ~Federation() {
    ctx.reset();
    for (auto& p : sites) Terminate(p);
    coordinator->Shutdown();
  }
};

// Federations live across the benchmark's repetitions; StopFederations()
// (end of main) stops every site process.
std::map<int, std::unique_ptr<Federation>>& Federations() {
  static auto* feds = new std::map<int, std::unique_ptr<Federation>>();
  return *feds;
}

Federation& SharedFederation(int n) {
  auto& f = Federations()[n];
  if (!f) f = std::make_unique<Federation>(n);
  return *f;
}

// Stops every site process and removes the temporary PKI and folders.
void StopFederations() {
  Federations().clear();
  PkiSlot().reset();
}

// The echo server and a client stub over the same mutual TLS.
struct Echo {
  EchoService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<bench::Echo::Stub> stub;
  v1::Payload payload;
  Echo() {
    Pki& pki = SharedPki();
    grpc::ServerBuilder builder;
    transport::ConfigureServerBuilder(&builder);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *transport::MakeServerCredentials(pki.Files("coordinator")), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    auto creds = *transport::MakeChannelCredentials(pki.Files("client"), "coordinator");
    stub = bench::Echo::NewStub(transport::MakeChannel("127.0.0.1:" + std::to_string(port), creds));
    std::vector<double> v(kLength);
    for (int i = 0; i < kLength; ++i) v[i] = i;
    AddVector(&payload, "vector", v);
  }
  bool Ping() {
    grpc::ClientContext context;
    transport::SetDeadline(&context, 30);
    v1::Payload reply;
    return stub->Ping(&context, payload, &reply).ok() && reply.arrays(0).values_size() == kLength;
  }
};

Echo& SharedEcho() {
  static Echo* echo = new Echo();
  return *echo;
}

// Mean echo latency in ms over `n` calls (after a warm-up).
double MeasurePingPongMs(int n = 200) {
  Echo& echo = SharedEcho();
  for (int i = 0; i < 10; ++i) echo.Ping();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) echo.Ping();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / n;
}

void BM_PingPong(benchmark::State& state) {
  Echo& echo = SharedEcho();
  for (auto _ : state) {
    if (!echo.Ping()) state.SkipWithError("echo failed");
  }
}

void BM_FederatedRound(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Federation& fed = SharedFederation(n);
  v1::Payload params;
  AddScalar(&params, "length", kLength);
  double total_ms = 0;
  int64_t rounds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto results = fed.ctx->Broadcast("debug.vector", params);
    if (!results.ok() || static_cast<int>(results->size()) != n) {
      state.SkipWithError(results.ok() ? "missing answers" : std::string(results.status().message()).c_str());
      break;
    }
    std::vector<double> sum(kLength, 0.0);
    for (const auto& [site, r] : *results) {
      const auto& values = r.payload().arrays(0).values();
      for (int i = 0; i < kLength; ++i) sum[i] += values[i];
    }
    benchmark::DoNotOptimize(sum.data());
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++rounds;
  }
  double round_ms = rounds > 0 ? total_ms / rounds : 0;
  double ping_ms = MeasurePingPongMs();
  state.counters["sites"] = n;
  state.counters["round_ms"] = round_ms;
  state.counters["pingpong_ms"] = ping_ms;
  state.counters["ratio"] = ping_ms > 0 ? round_ms / ping_ms : 0;
}

BENCHMARK(BM_PingPong)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_FederatedRound)->Arg(4)->Arg(16)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

}  // namespace
}  // namespace fedrad::testing

int main(int argc, char** argv) {
  fedrad::SetMinLogLevel(fedrad::LogLevel::kWarning);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fedrad::testing::StopFederations();
  return 0;
}
