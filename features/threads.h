// The thread budget of an extraction (issue 15): how many threads the work
// of the calling thread may use at once (families of a region, filters).
// `fedrad extract --threads N` sets N for one case; a cohort of W workers
// gives each worker N / W, so cases, families and filters together never
// use more than N threads.
//
//   ScopedThreadBudget budget(2);     // this thread and what it starts
//   RunTasks(tasks);                   // up to ThreadBudget() at a time
//
// The budget is per thread (thread_local); threads started by RunTasks or
// ParallelFor have a budget of 1, so nothing nests.
#ifndef FEDRAD_FEATURES_THREADS_H_
#define FEDRAD_FEATURES_THREADS_H_

#include <functional>
#include <vector>

namespace fedrad::features {

// The calling thread's budget (default: the hardware's thread count).
int ThreadBudget();

class ScopedThreadBudget {
 public:
  explicit ScopedThreadBudget(int threads);
  ~ScopedThreadBudget();
  ScopedThreadBudget(const ScopedThreadBudget&) = delete;
  ScopedThreadBudget& operator=(const ScopedThreadBudget&) = delete;

 private:
  int previous_;
};

// Runs every task, on up to ThreadBudget() threads (the caller's included);
// returns when all are done. Tasks must not throw.
void RunTasks(const std::vector<std::function<void()>>& tasks);

// Splits [0, n) into NumChunks(n) contiguous chunks and runs fn(k, begin,
// end) for chunk k = 0.. on RunTasks; a pass over a volume split this way
// gives the same result as one pass when the per-chunk results are combined
// exactly (counts, min/max, flags), whatever the thread count.
int NumChunks(size_t n);
void ForEachChunk(size_t n, const std::function<void(int, size_t, size_t)>& fn);

}  // namespace fedrad::features

#endif  // FEDRAD_FEATURES_THREADS_H_
