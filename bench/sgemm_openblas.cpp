// sgemm through OpenBLAS called directly (cblas_sgemm), the reference the
// "sgemm 1024^3" row of bench/compare_pytorch.py holds wick::matmul to.
//
//   sgemm_openblas [--n N] [--reps R]
//
// Prints one JSON object: the median seconds of R calls (after one warm-up
// call) and GFLOP/s. OpenBLAS takes its thread count from OPENBLAS_NUM_THREADS.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int n = 1024, reps = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--n")
      n = std::atoi(argv[i + 1]);
    else if (a == "--reps")
      reps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--n N] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  if (n < 1 || reps < 1) {
    std::fprintf(stderr, "sgemm_openblas: --n and --reps must be at least 1\n");
    return 2;
  }
  const size_t nn = size_t(n) * size_t(n);
  std::vector<float> a(nn), b(nn), c(nn);
  // Any values do; these avoid denormals and zeros.
  for (size_t i = 0; i < nn; ++i) {
    a[i] = float(i % 17) * 0.125f - 1.0f;
    b[i] = float(i % 13) * 0.25f - 1.5f;
  }
  auto call = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
  };
  call();
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  double t = times[times.size() / 2];
  std::printf(
      "{\"benchmark\":\"sgemm-openblas\",\"n\":%d,\"reps\":%d,\"seconds\":%.9f,"
      "\"gflops\":%.3f,\"threads\":%d,\"c0\":%g}\n",
      n, reps, t, 2.0 * n * n * n / t / 1e9, openblas_get_num_threads(), double(c[0]));
  return 0;
}
