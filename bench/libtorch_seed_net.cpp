// The peer of `wick bench seed-net` in libtorch's C++ frontend (Debian's
// libtorch-dev, 1.13): the same Net, data shapes, training step (zero_grad,
// forward, cross_entropy, backward, SGD(lr 0.01, momentum 0.9).step()) and
// inference (forward in eval mode under NoGradGuard), timed the same way.
//
//   libtorch_seed_net [--batch N] [--threads T] [--steps K] [--warmup W]
//
// Prints one JSON object with the keys `wick bench seed-net` prints.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

struct NetImpl : torch::nn::Module {
  torch::nn::Conv2d conv1 = register_module("conv1", torch::nn::Conv2d(3, 6, 5));
  torch::nn::MaxPool2d pool =
      register_module("pool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
  torch::nn::Conv2d conv2 = register_module("conv2", torch::nn::Conv2d(6, 16, 5));
  torch::nn::Linear fc1 = register_module("fc1", torch::nn::Linear(16 * 5 * 5, 120));
  torch::nn::Linear fc2 = register_module("fc2", torch::nn::Linear(120, 84));
  torch::nn::Linear fc3 = register_module("fc3", torch::nn::Linear(84, 10));

  torch::Tensor forward(torch::Tensor x) {
    x = pool(torch::relu(conv1(x)));
    x = pool(torch::relu(conv2(x)));
    x = x.view({-1, 16 * 5 * 5});
    x = torch::relu(fc1(x));
    x = torch::relu(fc2(x));
    return fc3(x);
  }
};
TORCH_MODULE(Net);

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 4, steps = 100, warmup = 10;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int64_t v = std::atoll(argv[i + 1]);
    if (a == "--batch")
      batch = v;
    else if (a == "--threads")
      threads = int(v);
    else if (a == "--steps")
      steps = v;
    else if (a == "--warmup")
      warmup = v;
    else {
      std::fprintf(stderr, "usage: %s [--batch N] [--threads T] [--steps K] [--warmup W]\n",
                   argv[0]);
      return 2;
    }
  }
  if (batch < 1 || steps < 1 || threads < 0) {
    std::fprintf(stderr, "libtorch_seed_net: --batch and --steps must be at least 1\n");
    return 2;
  }
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  Net net;
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::Tensor images = torch::randn({batch, 3, 32, 32});
  torch::Tensor labels = torch::randint(0, 10, {batch}, torch::kLong);

  auto train_step = [&] {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(images), labels);
    loss.backward();
    opt.step();
    return loss;
  };
  net->train();
  for (int64_t i = 0; i < warmup; ++i) train_step();
  auto t0 = Clock::now();
  torch::Tensor loss;
  for (int64_t i = 0; i < steps; ++i) loss = train_step();
  double train_s = seconds_since(t0) / double(steps);

  net->eval();
  double infer_s = 0, checksum = 0;
  {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < warmup; ++i) net->forward(images);
    t0 = Clock::now();
    torch::Tensor out;
    for (int64_t i = 0; i < steps; ++i) out = net->forward(images);
    infer_s = seconds_since(t0) / double(steps);
    checksum = out.sum().item<double>();
  }
  std::printf(
      "{\"benchmark\":\"libtorch-seed-net\",\"batch\":%lld,\"threads\":%d,\"steps\":%lld,"
      "\"warmup\":%lld,\"train_step_us\":%.3f,\"infer_us\":%.3f,\"images_per_s\":%.3f,"
      "\"infer_images_per_s\":%.3f,\"last_loss\":%.9g,\"output_sum\":%.9g}\n",
      static_cast<long long>(batch), torch::get_num_threads(), static_cast<long long>(steps),
      static_cast<long long>(warmup), train_s * 1e6, infer_s * 1e6, double(batch) / train_s,
      double(batch) / infer_s, loss.item<double>(), checksum);
  return 0;
}
