#include "kernels/blas.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wick/core/error.h"
#include "wick/core/parallel.h"

namespace wick::kernels {

namespace {

// OpenBLAS is opened on the first GEMM rather than linked. The pthreads
// build Debian ships starts its worker threads when the library is loaded, and
// each spins in sched_yield for about 0.1 s before sleeping: every process
// linking it loses a core at start-up, even one that only reads a checkpoint.
// Opened lazily, programs that never multiply matrices never start them.
struct Blas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;  // absent in a reference BLAS
};

Blas open_blas() {
  std::string tried;
  const char* override_path = std::getenv("WICK_BLAS_LIBRARY");
  const char* names[] = {override_path, "libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
  for (const char* name : names) {
    if (!name || !*name) continue;
    void* h = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      tried += std::string(tried.empty() ? "" : ", ") + name;
      continue;
    }
    Blas b;
    b.sgemm = reinterpret_cast<decltype(b.sgemm)>(::dlsym(h, "cblas_sgemm"));
    b.dgemm = reinterpret_cast<decltype(b.dgemm)>(::dlsym(h, "cblas_dgemm"));
    b.set_num_threads = reinterpret_cast<void (*)(int)>(::dlsym(h, "openblas_set_num_threads"));
    if (b.sgemm && b.dgemm) return b;
    tried += std::string(tried.empty() ? "" : ", ") + name + " (no cblas_sgemm)";
    ::dlclose(h);
  }
  throw Error("wick needs a CBLAS library for matrix products and found none (tried " + tried +
              "); install Debian's libopenblas0 or set WICK_BLAS_LIBRARY to one");
}

const Blas& blas() {
  static const Blas b = open_blas();
  return b;
}

std::atomic<int> applied{0};        // the thread count OpenBLAS was last given
std::atomic<int> serial_scopes{0};  // live SerialBlasScope objects

void set_blas_threads(int n) {
  if (applied.load(std::memory_order_relaxed) == n) return;
  if (blas().set_num_threads) blas().set_num_threads(n);
  applied.store(n);
}

}  // namespace

void sync_blas_threads() {
  if (serial_scopes.load(std::memory_order_relaxed) > 0) return;
  set_blas_threads(get_num_threads());
}

namespace {

/// Below this many multiply-adds a GEMM runs on the calling thread alone.
/// OpenBLAS splits GEMMs from 2^18 multiply-adds up; waking its threads, and
/// their spinning afterwards next to wick's own threads, costs more
/// than the tens of microseconds such a GEMM takes (the fully connected layers
/// of small networks).
constexpr double kSerialGemmWork = double(1 << 23);

/// Applies the thread count a GEMM of m * n * k multiply-adds should use.
void prepare_gemm(int64_t m, int64_t n, int64_t k) {
  if (serial_scopes.load(std::memory_order_relaxed) > 0) return;
  if (double(m) * double(n) * double(k) >= kSerialGemmWork) return sync_blas_threads();
  set_blas_threads(1);
}

}  // namespace

SerialBlasScope::SerialBlasScope() {
  serial_scopes.fetch_add(1);
  set_blas_threads(1);
}

SerialBlasScope::~SerialBlasScope() {
  serial_scopes.fetch_sub(1);
  sync_blas_threads();
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  prepare_gemm(m, n, k);
  blas().sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
               int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  prepare_gemm(m, n, k);
  blas().dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
               int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace wick::kernels
