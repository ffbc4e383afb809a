#include "features/filters/fftw_lock.h"

namespace fedrad::features::filters {

std::mutex& FftwPlannerMutex() {
  static std::mutex* mu = new std::mutex();  // never destroyed: used until exit
  return *mu;
}

}  // namespace fedrad::features::filters
