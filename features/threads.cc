#include "features/threads.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

namespace fedrad::features {
namespace {

int HardwareThreads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

thread_local int budget = 0;  // 0 = not set: the hardware's count

}  // namespace

int ThreadBudget() { return budget > 0 ? budget : HardwareThreads(); }

ScopedThreadBudget::ScopedThreadBudget(int threads) : previous_(budget) {
  budget = std::max(1, threads);
}

ScopedThreadBudget::~ScopedThreadBudget() { budget = previous_; }

void RunTasks(const std::vector<std::function<void()>>& tasks) {
  const int n = static_cast<int>(tasks.size());
  const int threads = std::min(ThreadBudget(), n);
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < n; i = next++) tasks[i]();
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    try {
      pool.emplace_back([&] {
        budget = 1;
        work();
      });
    } catch (const std::system_error&) {
      break;  // no thread available: the others (or the caller) do the rest
    }
  }
  work();
  for (auto& t : pool) t.join();
}

int NumChunks(size_t n) {
  constexpr size_t kMinChunk = size_t{1} << 19;  // below this a thread costs more than it saves
  const size_t most = std::max<size_t>(1, n / kMinChunk);
  return static_cast<int>(std::min<size_t>(static_cast<size_t>(ThreadBudget()), most));
}

void ForEachChunk(size_t n, const std::function<void(int, size_t, size_t)>& fn) {
  const int chunks = NumChunks(n);
  if (chunks == 1) {
    fn(0, 0, n);
    return;
  }
  std::vector<std::function<void()>> tasks;
  const size_t step = (n + chunks - 1) / chunks;
  for (int k = 0; k < chunks; ++k) {
    const size_t b = std::min(n, k * step), e = std::min(n, b + step);
    tasks.push_back([&fn, k, b, e] { fn(k, b, e); });
  }
  RunTasks(tasks);
}

}  // namespace fedrad::features
