// The libtorch peer of `wick bench model`: a torchvision model as a
// TorchScript file (bench/compare_pytorch.py traces it with torch.jit.trace,
// once in eval mode and once in train mode, since a trace fixes BatchNorm's
// and Dropout's mode), run from libtorch's C++ API (Debian's libtorch-dev,
// 1.13) on the same random batch shapes, timed the same way: inference is
// forward under NoGradGuard; a training step is zero_grad, forward,
// cross_entropy, backward and SGD(lr 0.01, momentum 0.9).step() over the
// module's parameters.
//
//   libtorch_model --eval EVAL.pt [--train TRAIN.pt] [--batch N] [--size S]
//                  [--threads T] [--steps K] [--warmup W]
//
// Prints one JSON object with the keys `wick bench model` prints.
#include <torch/script.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

torch::Tensor forward(torch::jit::Module& m, const torch::Tensor& x) {
  return m.forward(std::vector<torch::jit::IValue>{x}).toTensor();
}

}  // namespace

int main(int argc, char** argv) {
  std::string eval_path, train_path;
  int64_t batch = 1, size = 224, steps = 10, warmup = 2;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--eval")
      eval_path = v;
    else if (a == "--train")
      train_path = v;
    else if (a == "--batch")
      batch = std::atoll(v);
    else if (a == "--size")
      size = std::atoll(v);
    else if (a == "--threads")
      threads = std::atoi(v);
    else if (a == "--steps")
      steps = std::atoll(v);
    else if (a == "--warmup")
      warmup = std::atoll(v);
    else {
      std::fprintf(stderr, "libtorch_model: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (eval_path.empty() || batch < 1 || size < 1 || steps < 1 || warmup < 0 || threads < 0) {
    std::fprintf(stderr,
                 "usage: %s --eval EVAL.pt [--train TRAIN.pt] [--batch N] [--size S] "
                 "[--threads T] [--steps K] [--warmup W]\n",
                 argv[0]);
    return 2;
  }
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  torch::Tensor images = torch::randn({batch, 3, size, size});
  torch::Tensor labels = torch::randint(0, 1000, {batch}, torch::kLong);

  std::string json = "{\"benchmark\":\"libtorch-model\",\"batch\":" + std::to_string(batch) +
                     ",\"size\":" + std::to_string(size) +
                     ",\"threads\":" + std::to_string(torch::get_num_threads());
  char buf[256];
  {
    torch::jit::Module net = torch::jit::load(eval_path);
    net.eval();
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < warmup; ++i) forward(net, images);
    auto t0 = Clock::now();
    torch::Tensor out;
    for (int64_t i = 0; i < steps; ++i) out = forward(net, images);
    const double infer_s = seconds_since(t0) / double(steps);
    std::snprintf(buf, sizeof buf,
                  ",\"infer_us\":%.3f,\"infer_images_per_s\":%.3f,\"output_sum\":%.9g",
                  infer_s * 1e6, double(batch) / infer_s, out.sum().item<double>());
    json += buf;
  }
  if (!train_path.empty()) {
    torch::jit::Module net = torch::jit::load(train_path);
    net.train();
    std::vector<torch::Tensor> params;
    for (const torch::Tensor& p : net.parameters()) params.push_back(p);
    torch::optim::SGD opt(params, torch::optim::SGDOptions(0.01).momentum(0.9));
    auto train_step = [&] {
      opt.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(forward(net, images), labels);
      loss.backward();
      opt.step();
      return loss;
    };
    for (int64_t i = 0; i < warmup; ++i) train_step();
    auto t0 = Clock::now();
    torch::Tensor loss;
    for (int64_t i = 0; i < steps; ++i) loss = train_step();
    const double train_s = seconds_since(t0) / double(steps);
    std::snprintf(buf, sizeof buf,
                  ",\"train_step_us\":%.3f,\"images_per_s\":%.3f,\"last_loss\":%.9g", train_s * 1e6,
                  double(batch) / train_s, loss.item<double>());
    json += buf;
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}
