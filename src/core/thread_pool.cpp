#include "core/thread_pool.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

namespace detail {

namespace {

thread_local bool t_in_region = false;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Waiting threads spin this long before they sleep in the kernel. A training
// step of a small network starts parallel regions tens of microseconds apart
// (its small layers in between run on one thread), and waking a sleeping
// thread takes tens of microseconds, so the spin covers the gaps within a step
// (50 us did not: the seed net's batch-64 step was 10% slower at 2 threads).
// Unlike OpenMP's default (spinning for milliseconds after every region),
// idle threads soon stop taking a core from other work: on a 2-core machine,
// from the process's own I/O or from other processes.
constexpr auto kSpin = std::chrono::microseconds(200);

/// Waits until `a` no longer holds `old` and returns its new value.
template <class T>
T wait_change(const std::atomic<T>& a, T old) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() - start > kSpin) break;
  }
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
  }
}

/// The pool: worker t (1-based) runs part t of each parallel region it is
/// needed for. One region at a time; a second thread asking meanwhile runs
/// its region alone (parallel_run's contract).
class Pool {
 public:
  void run(int threads, void (*body)(void*, int, int), void* ctx) {
    std::unique_lock<std::mutex> lock(dispatch_, std::try_to_lock);
    if (!lock.owns_lock() || !start_workers(threads - 1)) return run_alone(body, ctx);
    body_ = body;
    ctx_ = ctx;
    pending_.store(threads - 1, std::memory_order_relaxed);
    // Generation and thread count in one word, so a worker never pairs one
    // region's count with another's generation.
    const uint64_t job =
        ((job_.load(std::memory_order_relaxed) >> 16) + 1) << 16 | uint64_t(threads);
    job_.store(job, std::memory_order_release);
    job_.notify_all();
    run_part(body, ctx, 0, threads);
    for (int left = pending_.load(std::memory_order_acquire); left != 0;)
      left = wait_change(pending_, left);
    rethrow();
  }

 private:
  // Starts workers up to `n`; false if the system refuses a thread.
  bool start_workers(int n) {
    try {
      while (started_ < n) {
        const int index = started_ + 1;
        // The worker starts from the current job: it must not mistake the
        // region being published for one it has already seen.
        const uint64_t seen = job_.load(std::memory_order_relaxed);
        std::thread([this, index, seen] { work(index, seen); }).detach();  // as long as the process
        ++started_;
      }
    } catch (const std::system_error&) {
      return false;
    }
    return true;
  }

  void work(int index, uint64_t seen) {
    for (;;) {
      seen = wait_change(job_, seen);
      if (index >= int(seen & 0xffff)) continue;  // not needed this time
      run_part(body_, ctx_, index, int(seen & 0xffff));
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  static void run_alone(void (*body)(void*, int, int), void* ctx) {
    struct Region {
      Region() { t_in_region = true; }
      ~Region() { t_in_region = false; }
    } region;
    body(ctx, 0, 1);
  }

  void run_part(void (*body)(void*, int, int), void* ctx, int t, int threads) {
    t_in_region = true;
    try {
      body(ctx, t, threads);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    t_in_region = false;
  }

  void rethrow() {
    std::exception_ptr e;
    {
      std::lock_guard<std::mutex> g(error_mutex_);
      std::swap(e, error_);
    }
    if (e) std::rethrow_exception(e);
  }

  std::mutex dispatch_;
  int started_ = 0;  // workers running (they never stop)
  std::atomic<uint64_t> job_{0};
  std::atomic<int> pending_{0};
  void (*body_)(void*, int, int) = nullptr;
  void* ctx_ = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// The pool is never destroyed: its threads may be waiting in it when static
// destructors run. A child process after fork() has none of the parent's
// workers, so it starts a pool of its own.
// (The parent's pools stay reachable from `g_retired`, so leak checkers do not
// report them.)
std::atomic<Pool*> g_pool{nullptr};
Pool* g_retired[64];
int g_retired_count = 0;

void start_over_after_fork() {
  if (g_retired_count < 64) g_retired[g_retired_count++] = g_pool.load();
  g_pool.store(new Pool, std::memory_order_release);
}

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  static std::once_flag once;
  std::call_once(once, [] {
    g_pool.store(new Pool, std::memory_order_release);
    pthread_atfork(nullptr, nullptr, start_over_after_fork);
  });
  return *g_pool.load(std::memory_order_acquire);
}

}  // namespace

void parallel_run(int threads, void (*body)(void*, int, int), void* ctx) {
  threads = std::min(threads, 1024);  // the job word holds the count in 16 bits
  if (threads <= 1 || t_in_region) {
    body(ctx, 0, 1);
    return;
  }
  pool().run(threads, body, ctx);
}

bool in_parallel_region() {
  return t_in_region;
}

}  // namespace detail
}  // namespace wick
