// finetune: transfer learning as in PyTorch's tutorial "Finetuning
// torchvision models": a torchvision backbone with a new 10-class head,
// trained on Fashion-MNIST.
//
//   build/bin/finetune --arch resnet18 --weights resnet18.pth --limit 2000
//   build/bin/finetune --arch resnet18 --weights resnet18.pth --epochs 4 --unfreeze-epoch 3
//   build/bin/finetune --weights resnet18.pth --epochs 4 --resume finetune_out/checkpoint.pt
//
// The backbone's state_dict is loaded strictly, its ImageNet head included
// (another architecture's weights are refused, naming the one they fit).
// Then the head is replaced: the model is built again with 10 classes, every
// tensor but the classifier's is copied from the backbone, and the classifier
// (whatever changes shape with the class count: `fc` for ResNet,
// `classifier.6` for VGG and AlexNet, `heads.head` for ViT, ...; see
// models::classifier_keys) is drawn afresh as a new nn.Linear / nn.Conv2d is.
// No architecture is named here: any registered one works.
//
// Training: the backbone is frozen (requires_grad_(false)) and SGD with
// momentum trains the head on Fashion-MNIST images resized to --size
// (antialiased bilinear), repeated to 3 channels and normalised with
// ImageNet's mean and std. As in the tutorial, the model is in train mode
// while training, so BatchNorm layers keep updating their running statistics
// even though their weights are frozen. With --unfreeze-epoch K, from epoch K
// on every parameter trains: the optimizer gains a second parameter group
// (the backbone, with the same hyper-parameters), keeping the head's momentum.
//
// After each epoch: the test accuracy (eval mode), and the general checkpoint
// {"epoch", "model_state_dict", "optimizer_state_dict", "loss"} written
// crash-safely to OUT/checkpoint.pt, which torch.load reads and the
// tutorial's model (torchvision's builder with num_classes=10) loads.
// --resume continues from one (with one parameter group or, after
// unfreezing, two); --epochs is the total to reach.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/evaluate.h"
#include "common/progress.h"
#include "common/vision.h"
#include "wick/wick.h"

using namespace wick;
namespace fs = std::filesystem;
using examples::Clock;

struct Options {
  std::string arch = "resnet18", weights, resume, out = "finetune_out";
  std::string data = data::kFashionMNISTRoot;
  int64_t size = 64, epochs = 1, limit = 0, test_limit = 0, batch_size = 32, unfreeze_epoch = 0;
  double lr = 0.001, momentum = 0.9;
  uint64_t seed = 0;
  int threads = 0;
};

const std::vector<double> kMean = {0.485, 0.456, 0.406}, kStd = {0.229, 0.224, 0.225};

// The 10-class model with the backbone's tensors and a fresh head.
static std::unique_ptr<nn::Module> build(const Options& o, const std::set<std::string>& head) {
  nn::StateDict backbone = examples::load_weights(o.weights);
  try {
    // Strict, with the backbone's own head: the file must be this architecture.
    models::from_state_dict(o.arch, backbone);
  } catch (const Error& e) {
    throw Error(o.weights + ": " + e.what());
  }
  manual_seed(o.seed);  // the new head's weights depend on the seed only
  std::unique_ptr<nn::Module> model =
      models::create(o.arch, {.num_classes = 10, .dropout = std::nullopt});
  for (const std::string& key : head) backbone.erase(key);
  nn::LoadResult r = model->load_state_dict(backbone, /*strict=*/false);
  WICK_CHECK(r.unexpected_keys.empty() && r.missing_keys.size() == head.size(),
             "finetune: copying the backbone left keys out: ", r);
  // A fresh head as a new nn.Linear (or nn.Conv2d) draws it, whatever the
  // builder's own initialisation of its classifier.
  NoGradGuard no_grad;
  for (const auto& [key, p] : model->named_parameters()) {
    if (!head.contains(key) || p.dim() < 2) continue;
    nn::init::kaiming_uniform_(p, std::sqrt(5.0));
    const std::string bias = key.substr(0, key.size() - 6) + "bias";  // "fc.weight" -> "fc.bias"
    if (key.ends_with(".weight") && head.contains(bias)) {
      const double bound = 1.0 / std::sqrt(double(nn::init::calculate_fan_in_and_fan_out(p).first));
      nn::init::uniform_(model->get_parameter(bias), -bound, bound);
    }
  }
  return model;
}

static int run(const Options& o) {
  const auto run_start = Clock::now();
  if (o.threads > 0) set_num_threads(o.threads);
  const std::vector<std::string>& head_keys = models::classifier_keys(o.arch);
  const std::set<std::string> head(head_keys.begin(), head_keys.end());
  std::unique_ptr<nn::Module> model = build(o, head);
  model->train();

  // Frozen backbone, trainable head.
  std::vector<Tensor> head_params, backbone_params;
  for (const auto& [key, p] : model->named_parameters())
    (head.contains(key) ? head_params : backbone_params).push_back(p);
  model->requires_grad_(false);
  for (const Tensor& p : head_params) p.requires_grad_(true);
  optim::SGD optimizer(head_params, {.lr = o.lr, .momentum = o.momentum});
  bool unfrozen = false;
  auto unfreeze = [&] {
    model->requires_grad_(true);
    optimizer.add_param_group(optim::ParamGroup(backbone_params));
    unfrozen = true;
  };

  data::FashionMNIST train_all(o.data, /*train=*/true), test_all(o.data, /*train=*/false);
  auto first = [](const data::TensorDataset& d, int64_t n) {
    n = n > 0 ? std::min(n, d.size()) : d.size();
    return data::TensorDataset(d.inputs().narrow(0, 0, n), d.targets().narrow(0, 0, n));
  };
  data::TensorDataset train_set = first(train_all, o.limit),
                      test_set = first(test_all, o.test_limit);
  const int64_t size = o.size;
  // uint8 [B, 1, 28, 28] -> float32 [B, 3, size, size], ImageNet-normalised.
  data::Transform prepare = data::transforms::map_input([size](const Tensor& x) {
    Tensor f = data::to_float(data::resize(x, size, size));
    return data::normalize(f.expand({f.size(0), 3, size, size}), kMean, kStd);
  });
  data::DataLoader train_loader(
      train_set,
      {.batch_size = o.batch_size, .shuffle = true, .seed = o.seed, .transform = prepare});
  data::DataLoader test_loader(test_set, {.batch_size = 250, .transform = prepare});
  std::printf(
      "%s from %s, new head %s (%zu tensors); Fashion-MNIST at %lldx%lld: %lld training, "
      "%lld test images; %d threads\n",
      o.arch.c_str(), o.weights.c_str(), head_keys.front().c_str(), head_keys.size(),
      (long long)size, (long long)size, (long long)train_set.size(), (long long)test_set.size(),
      get_num_threads());

  int64_t start_epoch = 0;
  if (!o.resume.empty()) {
    Value ckpt = wick::load(o.resume);
    model->load_state_dict(ckpt["model_state_dict"]);
    // Two parameter groups: saved after unfreezing.
    if (ckpt["optimizer_state_dict"]["param_groups"].as_list().size() == 2) unfreeze();
    optimizer.load_state_dict(ckpt["optimizer_state_dict"]);
    start_epoch = ckpt["epoch"].as_int();
    std::printf("resumed from %s: epoch %lld, loss %.4f, %s\n", o.resume.c_str(),
                (long long)start_epoch, ckpt["loss"].to_double(),
                unfrozen ? "backbone unfrozen" : "backbone frozen");
  }

  const fs::path checkpoint = fs::path(o.out) / "checkpoint.pt";
  fs::create_directories(o.out);
  double accuracy = NAN;
  for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
    if (o.unfreeze_epoch > 0 && epoch + 1 >= o.unfreeze_epoch && !unfrozen) {
      unfreeze();
      std::printf("epoch %lld: backbone unfrozen, every parameter trains\n", (long long)epoch + 1);
    }
    const auto epoch_start = Clock::now();
    train_loader.set_epoch(epoch);
    examples::Progress progress(epoch, o.epochs, train_set.size());
    double loss_sum = 0;
    int64_t steps = 0, seen = 0;
    for (data::Batch& batch : train_loader) {
      optimizer.zero_grad();
      Tensor loss = nn::functional::cross_entropy((*model)(batch.input), batch.target);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      seen += batch.input.size(0);
      ++steps;
      progress.update(seen, loss_sum / double(steps), seen == train_set.size());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    const double mean_loss = loss_sum / double(std::max<int64_t>(steps, 1));
    accuracy = examples::evaluate(*model, test_loader);
    std::printf(
        "epoch %lld: train loss %.4f, test accuracy %.2f%%, %.1f s training "
        "(%.0f images/s)\n",
        (long long)epoch + 1, mean_loss, accuracy, seconds, double(seen) / seconds);
    std::fflush(stdout);
    Dict ckpt;
    ckpt.set("epoch", epoch + 1);
    ckpt.set("model_state_dict", model->state_dict());
    ckpt.set("optimizer_state_dict", optimizer.state_dict());
    ckpt.set("loss", mean_loss);
    wick::save(ckpt, checkpoint.string());
  }
  if (std::isnan(accuracy)) {
    accuracy = examples::evaluate(*model, test_loader);
    std::printf("nothing to train (epoch %lld of %lld): test accuracy %.2f%%\n",
                (long long)start_epoch, (long long)o.epochs, accuracy);
  }
  std::printf("final test accuracy %.2f%%; checkpoint %s; wall time %.1f s\n", accuracy,
              checkpoint.c_str(), std::chrono::duration<double>(Clock::now() - run_start).count());
  return 0;
}

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Fine-tunes a torchvision model's new 10-class head on Fashion-MNIST.", "finetune"};
  app.add_option("--arch", o.arch, "architecture, by torchvision builder name")
      ->capture_default_str();
  app.add_option("--weights", o.weights, "the backbone's state_dict, with its ImageNet head")
      ->required();
  app.add_option("--size", o.size, "image side after resizing")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--epochs", o.epochs, "total epochs to reach")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--limit", o.limit, "train on the first N training images only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--test-limit", o.test_limit, "test on the first N test images only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", o.batch_size, "images per step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--momentum", o.momentum, "SGD momentum")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--unfreeze-epoch", o.unfreeze_epoch,
                 "from this epoch (1-based) on, train every parameter (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--resume", o.resume, "continue from this checkpoint");
  app.add_option("--out", o.out, "directory for checkpoint.pt")->capture_default_str();
  app.add_option("--data", o.data, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the new head and the shuffle")->capture_default_str();
  app.add_option("--threads", o.threads, "threads for the kernels (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  if (auto status = examples::parse(app, argc, argv)) return *status;
  return examples::run_main(
      "finetune", [&] { return run(o); }, /*progress_bar=*/true);
}
