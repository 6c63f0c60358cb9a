#include "kernels/blas.h"

#include <atomic>
#include <cstdint>

#include "wick/core/parallel.h"

extern "C" void openblas_set_num_threads(int);

namespace wick::kernels {

namespace {
std::atomic<int> applied{0};        // the thread count OpenBLAS was last given
std::atomic<int> serial_scopes{0};  // live SerialBlasScope objects
}  // namespace

void sync_blas_threads() {
  if (serial_scopes.load(std::memory_order_relaxed) > 0) return;
  int want = get_num_threads();
  if (applied.load(std::memory_order_relaxed) != want) {
    openblas_set_num_threads(want);
    applied.store(want);
  }
}

namespace {

/// Below this many multiply-adds a GEMM runs on the calling thread alone.
/// OpenBLAS splits GEMMs from 2^18 multiply-adds up; waking its threads, and
/// their spinning afterwards next to wick's own OpenMP threads, costs more
/// than the tens of microseconds such a GEMM takes (the fully connected layers
/// of small networks).
constexpr double kSerialGemmWork = double(1 << 23);

/// Applies the thread count a GEMM of m * n * k multiply-adds should use.
void prepare_gemm(int64_t m, int64_t n, int64_t k) {
  if (serial_scopes.load(std::memory_order_relaxed) > 0) return;
  if (double(m) * double(n) * double(k) >= kSerialGemmWork) return sync_blas_threads();
  if (applied.load(std::memory_order_relaxed) != 1) {
    openblas_set_num_threads(1);
    applied.store(1);
  }
}

}  // namespace

SerialBlasScope::SerialBlasScope() {
  serial_scopes.fetch_add(1);
  openblas_set_num_threads(1);
  applied.store(1);
}

SerialBlasScope::~SerialBlasScope() {
  serial_scopes.fetch_sub(1);
  sync_blas_threads();
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  prepare_gemm(m, n, k);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m),
              int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  prepare_gemm(m, n, k);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m),
              int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace wick::kernels
