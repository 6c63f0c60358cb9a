#include "core/parallel.h"

#include <atomic>
#include <cstdlib>
#include <thread>

namespace wick {

namespace {
int initial_threads() {
  for (const char* var : {"WICK_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(hw) : 1;
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

void set_num_threads(int n) {
  g_threads.store(n < 1 ? 1 : n);
}
int get_num_threads() {
  return g_threads.load(std::memory_order_relaxed);
}

}  // namespace wick
