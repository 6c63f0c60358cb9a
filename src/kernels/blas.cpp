#include "kernels/blas.h"

#include <atomic>
#include <cstdint>

#include "wick/core/parallel.h"

extern "C" void openblas_set_num_threads(int);

namespace wick::kernels {

void sync_blas_threads() {
  static std::atomic<int> applied{0};
  int want = get_num_threads();
  if (applied.load(std::memory_order_relaxed) != want) {
    openblas_set_num_threads(want);
    applied.store(want);
  }
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sync_blas_threads();
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  sync_blas_threads();
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace wick::kernels
