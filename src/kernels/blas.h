// Internal: the BLAS entry points wick uses, with OpenBLAS's thread count kept
// in step with wick::set_num_threads.
#pragma once

#include <cblas.h>

namespace wick::kernels {

/// Call before every BLAS call: applies get_num_threads() to OpenBLAS when it
/// changed since the last call.
void sync_blas_threads();

/// Makes OpenBLAS single-threaded for its lifetime, for callers that run
/// BLAS from several threads of their own (inside detail::parallel_for).
/// OpenBLAS does not know it is called from wick's worker threads: every small
/// GEMM would wake all its own threads and the callers would fight over the
/// cores. The destructor restores the thread
/// count set by set_num_threads.
class SerialBlasScope {
 public:
  SerialBlasScope();
  ~SerialBlasScope();
  SerialBlasScope(const SerialBlasScope&) = delete;
  SerialBlasScope& operator=(const SerialBlasScope&) = delete;
};

/// Row-major C = alpha * op(A) op(B) + beta * C for float and double. GEMMs
/// of fewer than 2^23 multiply-adds run on the calling thread only; larger
/// ones use set_num_threads' count (1 inside a SerialBlasScope).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

}  // namespace wick::kernels
