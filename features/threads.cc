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

}  // namespace fedrad::features
