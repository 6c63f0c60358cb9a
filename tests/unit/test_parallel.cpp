// wick's thread pool (src/core/thread_pool.cpp): every index is visited once,
// nested and concurrent regions, exceptions from workers, use after fork().
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "wick/core/parallel.h"

using namespace wick;

namespace {

struct ThreadsGuard {
  int saved = get_num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

// Counts how often each index of [0, n) is visited, across `threads`.
std::vector<int> visits(int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  detail::parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
  });
  std::vector<int> out;
  for (auto& h : hits) out.push_back(h.load());
  return out;
}

}  // namespace

TEST(Parallel, EveryIndexOnceForAnyThreadCount) {
  ThreadsGuard guard;
  for (int threads : {1, 2, 3, 7}) {
    set_num_threads(threads);
    for (int64_t n : {1, 2, 5, 100, 1001}) {
      for (int64_t grain : {1, 7, 1000}) {
        EXPECT_EQ(visits(n, grain), std::vector<int>(size_t(n), 1))
            << threads << " threads, n " << n << ", grain " << grain;
      }
    }
  }
}

TEST(Parallel, UsesSeveralThreadsAndNestedRegionsRunInline) {
  ThreadsGuard guard;
  set_num_threads(3);
  std::vector<std::thread::id> ids(3);
  std::atomic<int> nested_inline{0};
  detail::parallel_for(0, 3, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      ids[size_t(i)] = std::this_thread::get_id();
      EXPECT_TRUE(detail::in_parallel_region());
      // A nested region runs on this thread, whole.
      detail::parallel_for(0, 10, 1, [&](int64_t nb, int64_t ne) {
        if (nb == 0 && ne == 10 && std::this_thread::get_id() == ids[size_t(i)]) nested_inline++;
      });
    }
  });
  EXPECT_FALSE(detail::in_parallel_region());
  EXPECT_EQ(nested_inline.load(), 3);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_EQ(ids[0], std::this_thread::get_id());  // the caller takes part 0
}

TEST(Parallel, AnExceptionInAWorkerReachesTheCaller) {
  ThreadsGuard guard;
  set_num_threads(2);
  for (int64_t thrower : {0, 1}) {
    EXPECT_THROW(detail::parallel_for(0, 2, 1,
                                      [&](int64_t b, int64_t e) {
                                        for (int64_t i = b; i < e; ++i)
                                          if (i == thrower) throw std::runtime_error("part");
                                      }),
                 std::runtime_error);
  }
  // The pool still works afterwards.
  EXPECT_EQ(visits(50, 1), std::vector<int>(50, 1));
}

TEST(Parallel, ConcurrentCallersEachGetTheirWholeRange) {
  ThreadsGuard guard;
  set_num_threads(2);
  std::atomic<bool> ok{true};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round)
        if (visits(64, 1) != std::vector<int>(64, 1)) ok = false;
    });
  for (auto& t : callers) t.join();
  EXPECT_TRUE(ok.load());
}

TEST(Parallel, WorksInAForkedChild) {
  ThreadsGuard guard;
  set_num_threads(2);
  visits(10, 1);  // the parent's workers exist
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool good = visits(1000, 1) == std::vector<int>(1000, 1);
    _exit(good ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}
