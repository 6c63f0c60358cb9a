// fashion_mnist: trains the recipe's network on Fashion-MNIST, with
// checkpoints that PyTorch can pick up and hand back.
//
//   build/bin/fashion_mnist                          # 2 epochs, into ./fashion_mnist_out/
//   build/bin/fashion_mnist --epochs 4 --resume fashion_mnist_out/checkpoint.pt
//   build/bin/fashion_mnist --help
//
// The network is the one of PyTorch's recipe "What is a state_dict" adapted to
// 1x28x28 images (conv1 takes one channel and pads by 2, so conv2 still sees
// 14x14 and fc1 still 16*5*5 inputs). It trains with SGD + momentum and
// cross-entropy on batches normalised with Fashion-MNIST's mean and std:
//
// - a progress bar per epoch on stderr (loss, images/s, ETA); plain lines when
//   stderr is not a terminal;
// - test accuracy after each epoch (batched, model.eval(), no autograd);
// - after each epoch the general checkpoint of PyTorch's recipe "Saving and
//   loading a general checkpoint", {"epoch", "model_state_dict",
//   "optimizer_state_dict", "loss"}, written crash-safely to
//   OUT/checkpoint.pt. "epoch" counts finished epochs and "loss" is the
//   epoch's mean training loss;
// - `--resume PATH` continues from such a checkpoint (wick's or PyTorch's, see
//   examples/python/continue_in_pytorch.py) exactly as an uninterrupted run
//   with the same seed would: the initial weights depend only on --seed and the
//   order of epoch e only on (--seed, e). --epochs is the total to reach;
// - at the end, the checkpoint is loaded from disk into a fresh model, which
//   must report the same test accuracy;
// - the loss of every step in OUT/loss.csv (step, epoch, loss) and plotted in
//   OUT/loss.svg. A resumed run keeps the rows of the epochs before it.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/evaluate.h"
#include "common/progress.h"
#include "wick/data/dataloader.h"
#include "wick/data/dataset.h"
#include "wick/data/mnist.h"
#include "wick/data/transforms.h"
#include "wick/wick.h"

using namespace wick;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The recipe's network for 1x28x28 images.
struct Net : nn::Module {
  nn::Conv2d& conv1 = register_module("conv1", nn::Conv2d(1, 6, 5, {.padding = 2}));
  nn::MaxPool2d& pool = register_module("pool", nn::MaxPool2d(2, 2));
  nn::Conv2d& conv2 = register_module("conv2", nn::Conv2d(6, 16, 5));
  nn::Linear& fc1 = register_module("fc1", nn::Linear(16 * 5 * 5, 120));
  nn::Linear& fc2 = register_module("fc2", nn::Linear(120, 84));
  nn::Linear& fc3 = register_module("fc3", nn::Linear(84, 10));

  Tensor forward(const Tensor& input) override {
    Tensor x = pool(relu(conv1(input)));
    x = pool(relu(conv2(x)));
    x = x.view({-1, 16 * 5 * 5});
    x = relu(fc1(x));
    x = relu(fc2(x));
    return fc3(x);
  }
};

struct Options {
  int64_t epochs = 2;
  int64_t batch_size = 64;
  double lr = 0.01;
  double momentum = 0.9;
  int threads = 0;
  uint64_t seed = 0;
  std::string data = data::kFashionMNISTRoot;
  std::string out = "fashion_mnist_out";
  std::string resume;
  int64_t limit = 0;
};

// Fashion-MNIST's pixel mean and standard deviation (of x / 255, training
// set); continue_in_pytorch.py normalises with the same numbers.
const std::vector<double> kMean = {0.2860}, kStd = {0.3530};

struct LossRow {
  int64_t step, epoch;
  double loss;
};

// The rows of an earlier run's loss.csv up to `last_epoch`; none if absent.
static std::vector<LossRow> read_losses(const fs::path& path, int64_t last_epoch) {
  std::vector<LossRow> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    LossRow r{};
    if (std::sscanf(line.c_str(), "%lld,%lld,%lf", (long long*)&r.step, (long long*)&r.epoch,
                    &r.loss) == 3 &&
        r.epoch <= last_epoch)
      rows.push_back(r);
  }
  return rows;
}

// Writes `text` to `path` under a temporary name and renames it into place,
// so a crash never leaves a half-written file.
static void write_file(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    WICK_CHECK(out.good(), "fashion_mnist: cannot write ", tmp.string());
  }
  fs::rename(tmp, path);
}

static std::string losses_csv(const std::vector<LossRow>& rows) {
  std::ostringstream csv;
  csv << "step,epoch,loss\n";
  char line[64];
  for (const LossRow& r : rows) {
    std::snprintf(line, sizeof line, "%lld,%lld,%.9g\n", (long long)r.step, (long long)r.epoch,
                  r.loss);
    csv << line;
  }
  return csv.str();
}

// The loss curve as a small SVG: every step in light grey, a moving average of
// 50 steps in blue, dashed lines between epochs.
static std::string losses_svg(const std::vector<LossRow>& rows) {
  constexpr double W = 720, H = 360, left = 50, right = 20, top = 20, bottom = 40;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (rows.empty()) return svg.str() + "</svg>\n";
  double x0 = double(rows.front().step),
         x1 = double(std::max(rows.back().step, rows.front().step + 1));
  double y1 = 0;
  for (const LossRow& r : rows) y1 = std::max(y1, std::isfinite(r.loss) ? r.loss : 0);
  y1 = std::ceil(std::max(y1, 0.1) * 2) / 2;  // round up to 0.5
  auto X = [&](double s) { return left + (s - x0) / (x1 - x0) * (W - left - right); };
  auto Y = [&](double l) { return H - bottom - std::clamp(l / y1, 0.0, 1.0) * (H - top - bottom); };
  svg.precision(5);
  for (int i = 0; i <= 5; ++i) {
    double v = y1 * i / 5;
    svg << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << Y(v) << "\" y2=\""
        << Y(v) << "\" stroke=\"#eee\"/><text x=\"" << left - 6 << "\" y=\"" << Y(v) + 4
        << "\" text-anchor=\"end\">" << v << "</text>\n";
  }
  for (size_t i = 1; i < rows.size(); ++i)
    if (rows[i].epoch != rows[i - 1].epoch)
      svg << "<line x1=\"" << X(double(rows[i].step)) << "\" x2=\"" << X(double(rows[i].step))
          << "\" y1=\"" << top << "\" y2=\"" << H - bottom
          << "\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n";
  auto polyline = [&](const std::vector<double>& ys, const char* style) {
    svg << "<polyline fill=\"none\" " << style << " points=\"";
    for (size_t i = 0; i < rows.size(); ++i)
      svg << X(double(rows[i].step)) << "," << Y(ys[i]) << " ";
    svg << "\"/>\n";
  };
  std::vector<double> raw, smooth;
  double window_sum = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    raw.push_back(rows[i].loss);
    window_sum += rows[i].loss - (i >= 50 ? rows[i - 50].loss : 0);
    smooth.push_back(window_sum / double(std::min<size_t>(i + 1, 50)));
  }
  polyline(raw, "stroke=\"#ccc\" stroke-width=\"1\"");
  polyline(smooth, "stroke=\"#1f77b4\" stroke-width=\"2\"");
  svg << "<text x=\"" << (left + W - right) / 2 << "\" y=\"" << H - 8
      << "\" text-anchor=\"middle\">step (training loss; blue: mean of 50 steps)</text>\n"
      << "<text x=\"" << left << "\" y=\"" << H - bottom + 16 << "\">" << rows.front().step
      << "</text><text x=\"" << W - right << "\" y=\"" << H - bottom + 16
      << "\" text-anchor=\"end\">" << rows.back().step << "</text>\n</svg>\n";
  return svg.str();
}

static int run(const Options& o) {
  auto run_start = Clock::now();
  if (o.threads > 0) set_num_threads(o.threads);
  fs::create_directories(o.out);
  const fs::path checkpoint_path = fs::path(o.out) / "checkpoint.pt";

  data::FashionMNIST train_all(o.data, /*train=*/true), test_set(o.data, /*train=*/false);
  int64_t n_train = o.limit > 0 ? std::min(o.limit, train_all.size()) : train_all.size();
  data::TensorDataset train_set(train_all.inputs().narrow(0, 0, n_train),
                                train_all.targets().narrow(0, 0, n_train));
  namespace T = data::transforms;
  data::Transform prepare = T::compose({T::to_float(), T::normalize(kMean, kStd)});
  data::DataLoader train_loader(
      train_set,
      {.batch_size = o.batch_size, .shuffle = true, .seed = o.seed, .transform = prepare});
  data::DataLoader test_loader(test_set, {.batch_size = 1000, .transform = prepare});

  manual_seed(o.seed);  // the initial weights depend on the seed only
  Net model;
  optim::SGD optimizer(model.parameters(), {.lr = o.lr, .momentum = o.momentum});
  std::printf("Fashion-MNIST: %lld training images%s, %lld test images; %d threads\n",
              (long long)n_train, n_train < train_all.size() ? " (--limit)" : "",
              (long long)test_set.size(), get_num_threads());

  int64_t start_epoch = 0;
  double accuracy = NAN;
  std::vector<LossRow> rows;
  if (!o.resume.empty()) {
    Value ckpt = wick::load(o.resume);
    model.load_state_dict(ckpt["model_state_dict"]);
    // As in PyTorch, the optimizer's state_dict brings its hyper-parameters:
    // the checkpoint's lr and momentum replace --lr and --momentum.
    optimizer.load_state_dict(ckpt["optimizer_state_dict"]);
    start_epoch = ckpt["epoch"].as_int();
    accuracy = examples::evaluate(model, test_loader);
    std::printf("resumed from %s: epoch %lld, loss %.4f, test accuracy %.2f%%\n", o.resume.c_str(),
                (long long)start_epoch, ckpt["loss"].to_double(), accuracy);
    rows = read_losses(fs::path(o.out) / "loss.csv", start_epoch);
    if (start_epoch >= o.epochs)
      std::printf("nothing to train: the checkpoint is at epoch %lld and --epochs is %lld\n",
                  (long long)start_epoch, (long long)o.epochs);
  }

  const int64_t steps_per_epoch = train_loader.size();
  double train_seconds = 0;
  int64_t images_trained = 0;
  for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
    auto epoch_start = Clock::now();
    train_loader.set_epoch(epoch);
    examples::Progress progress(epoch, o.epochs, n_train);
    double loss_sum = 0;
    int64_t step = 0, seen = 0;
    for (data::Batch& batch : train_loader) {
      optimizer.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model(batch.input), batch.target);
      loss.backward();
      optimizer.step();
      double value = loss.item<float>();
      loss_sum += value;
      seen += batch.input.size(0);
      ++step;
      rows.push_back({epoch * steps_per_epoch + step, epoch + 1, value});
      progress.update(seen, loss_sum / double(step), step == steps_per_epoch);
    }
    double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    train_seconds += seconds;
    images_trained += seen;
    double mean_loss = loss_sum / double(std::max<int64_t>(step, 1));

    accuracy = examples::evaluate(model, test_loader);
    std::printf("epoch %lld: train loss %.4f, test accuracy %.2f%%, %.1f s (%.0f images/s)\n",
                (long long)epoch + 1, mean_loss, accuracy, seconds, double(seen) / seconds);
    std::fflush(stdout);

    Dict ckpt;
    ckpt.set("epoch", epoch + 1);
    ckpt.set("model_state_dict", model.state_dict());
    ckpt.set("optimizer_state_dict", optimizer.state_dict());
    ckpt.set("loss", mean_loss);
    wick::save(ckpt, checkpoint_path.string());
    write_file(fs::path(o.out) / "loss.csv", losses_csv(rows));
    write_file(fs::path(o.out) / "loss.svg", losses_svg(rows));
  }

  // Whatever was saved last must be enough to get this model back.
  const fs::path reload = start_epoch < o.epochs ? checkpoint_path : fs::path(o.resume);
  Net fresh;
  fresh.load_state_dict(wick::load(reload.string())["model_state_dict"]);
  double reloaded = examples::evaluate(fresh, test_loader);
  std::printf("%s loaded into a fresh model: test accuracy %.2f%% (%s)\n", reload.c_str(), reloaded,
              reloaded == accuracy ? "the same" : "DIFFERENT");
  if (images_trained > 0)
    std::printf("trained %lld images in %.1f s: %.0f images/s; ", (long long)images_trained,
                train_seconds, double(images_trained) / train_seconds);
  std::printf("wall time %.1f s; loss curve in %s/loss.csv and loss.svg\n",
              std::chrono::duration<double>(Clock::now() - run_start).count(), o.out.c_str());
  return reloaded == accuracy ? 0 : 1;
}

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Trains the recipe's network on Fashion-MNIST with SGD + momentum, saving a "
      "general checkpoint after each epoch.",
      "fashion_mnist"};
  app.add_option("--epochs", o.epochs, "total epochs to reach")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size, "images per step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--momentum", o.momentum, "SGD momentum")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--threads", o.threads, "threads for the kernels (0: all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", o.seed, "seed of the initial weights and the shuffle")
      ->capture_default_str();
  app.add_option("--data", o.data, "directory of the Fashion-MNIST IDX files (raw or .gz)")
      ->capture_default_str();
  app.add_option("--out", o.out, "directory for checkpoint.pt, loss.csv and loss.svg")
      ->capture_default_str();
  app.add_option("--resume", o.resume,
                 "continue from this general checkpoint (wick's or PyTorch's); its lr and momentum "
                 "replace --lr and --momentum");
  app.add_option("--limit", o.limit, "train on the first N training images only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    // On a terminal, end the progress bar's line first.
    std::cerr << (isatty(STDERR_FILENO) ? "\n" : "") << "fashion_mnist: " << e.what() << "\n";
    return 1;
  }
}
