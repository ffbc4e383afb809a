// The one lock around FFTW's planner for all of fedrad's features code.
//
//   fftw_plan plan;
//   {
//     std::lock_guard<std::mutex> lock(FftwPlannerMutex());
//     plan = fftw_plan_dft_2d(...);
//   }
//   fftw_execute_dft(plan, in, out);   // thread safe without the lock
//
// FFTW's planner (plan creation and destruction) is not thread safe, while
// executing a plan is; every caller in the process must take the same lock
// (morphology's Moran's I, the Gabor filter, the Fourier-domain filters).
#ifndef FEDRAD_FEATURES_FILTERS_FFTW_LOCK_H_
#define FEDRAD_FEATURES_FILTERS_FFTW_LOCK_H_

#include <mutex>

namespace fedrad::features::filters {

std::mutex& FftwPlannerMutex();

}  // namespace fedrad::features::filters

#endif  // FEDRAD_FEATURES_FILTERS_FFTW_LOCK_H_
