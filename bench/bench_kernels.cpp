// Kernel benchmarks: sgemm 1024^3 (through wick::matmul and through
// cblas_sgemm directly) and conv2d forward / forward+backward for the seed
// network's two convolutions at batch 4 and 64.
//
//   bench_kernels [--threads N] [Google Benchmark flags]
//
// bench/compare_pytorch.py runs this with --benchmark_format=json and times the
// same work in PyTorch in the same run. Names are "<case>/<variant>"; sgemm
// cases report a "FLOPS" counter (floating-point operations per second).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "wick/autograd/grad_mode.h"
#include "wick/core/parallel.h"
#include "wick/core/random.h"
#include "wick/nn/functional.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

namespace {

namespace F = wick::nn::functional;

constexpr int64_t kGemmN = 1024;

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] =
      benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

void sgemm_wick(benchmark::State& state) {
  wick::Tensor a = wick::randn({kGemmN, kGemmN}), b = wick::randn({kGemmN, kGemmN});
  wick::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(wick::matmul(a, b));
  set_flops(state, 2.0 * kGemmN * kGemmN * kGemmN);
}

void sgemm_cblas(benchmark::State& state) {
  wick::Tensor a = wick::randn({kGemmN, kGemmN}), b = wick::randn({kGemmN, kGemmN});
  wick::Tensor c = wick::empty({kGemmN, kGemmN});
  const int n = int(kGemmN);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n,
                b.data<float>(), n, 0.0f, c.data<float>(), n);
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * kGemmN * kGemmN * kGemmN);
}

/// One of the seed network's convolutions (LeNet-style, no padding).
struct ConvCase {
  const char* name;
  int64_t in_channels, size, out_channels, kernel;
  bool input_requires_grad;  // conv1 reads the images; conv2 a hidden layer
};

const ConvCase kConvs[] = {{"conv1", 3, 32, 6, 5, false}, {"conv2", 6, 14, 16, 5, true}};

void conv_forward(benchmark::State& state, ConvCase c, int64_t batch) {
  wick::Tensor x = wick::randn({batch, c.in_channels, c.size, c.size});
  wick::Tensor w = wick::randn({c.out_channels, c.in_channels, c.kernel, c.kernel});
  wick::Tensor b = wick::randn({c.out_channels});
  wick::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(F::conv2d(x, w, b));
}

void conv_forward_backward(benchmark::State& state, ConvCase c, int64_t batch) {
  wick::Tensor x = wick::randn({batch, c.in_channels, c.size, c.size});
  wick::Tensor w = wick::randn({c.out_channels, c.in_channels, c.kernel, c.kernel});
  wick::Tensor b = wick::randn({c.out_channels});
  if (c.input_requires_grad) x.requires_grad_();
  w.requires_grad_();
  b.requires_grad_();
  const int64_t out = c.size - c.kernel + 1;
  wick::Tensor g = wick::randn({batch, c.out_channels, out, out});
  for (auto _ : state) {
    for (const wick::Tensor& t : {x, w, b}) t.set_grad(wick::Tensor());
    F::conv2d(x, w, b).backward(g);
  }
}

/// Takes "--threads N" or "--threads=N" out of argv; returns N or 0.
int take_threads_flag(int& argc, char** argv) {
  int threads = 0, out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  if (int threads = take_threads_flag(argc, argv); threads > 0) wick::set_num_threads(threads);
  // cblas_sgemm is called directly here, so OpenBLAS gets the same bound.
  openblas_set_num_threads(wick::get_num_threads());
  benchmark::AddCustomContext("wick_threads", std::to_string(wick::get_num_threads()));

  // Wall-clock time: the kernels run on several threads.
  std::vector<benchmark::internal::Benchmark*> all = {
      benchmark::RegisterBenchmark("sgemm_1024/wick_matmul", sgemm_wick),
      benchmark::RegisterBenchmark("sgemm_1024/cblas_sgemm", sgemm_cblas)};
  for (const ConvCase& c : kConvs) {
    for (int64_t batch : {4, 64}) {
      std::string base = std::string(c.name) + "_b" + std::to_string(batch);
      all.push_back(
          benchmark::RegisterBenchmark((base + "/forward").c_str(), conv_forward, c, batch));
      all.push_back(benchmark::RegisterBenchmark((base + "/forward_backward").c_str(),
                                                 conv_forward_backward, c, batch));
    }
  }
  for (auto* b : all) b->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
