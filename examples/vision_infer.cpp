// vision_infer: a torchvision classification model's logits for a batch of
// images, tensor in, tensor out, for checking wick against PyTorch or for
// pipelines that preprocess in Python.
//
//   build/bin/vision_infer resnet18 resnet18.pth images.pt logits.pt
//
// INPUT.pt is a bare float tensor [N, 3, H, W] saved by torch.save (float16,
// bfloat16 and float64 are converted to float32); OUTPUT.pt gets the eval-mode
// logits [N, classes] as a bare float32 tensor, which torch.load reads. The
// weights are any state_dict wick reads (see classify.cpp), with any class
// count. Bad input (a missing file, not a tensor, a wrong rank, channel count
// or dtype, weights of another architecture) exits with status 2 and a
// message naming the file and the shape.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/vision.h"
#include "wick/wick.h"

using namespace wick;

struct Options {
  std::string arch, weights, input, output;
  int64_t batch_size = 16;
  int threads = 0;
};

static int run(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  models::classifier_keys(o.arch);  // an unknown architecture fails first

  Value in = wick::load(o.input);
  if (!in.is_tensor())
    throw Error(o.input + ": expected a bare tensor [N, 3, H, W] (torch.save(tensor)) but the " +
                "file holds a " + in.type_name());
  Tensor images = in.as_tensor();
  WICK_CHECK_AS(DTypeError, is_floating_point(images.dtype()), o.input,
                ": expected a floating-point tensor but got ", images.dtype(), " of sizes ",
                images.sizes());
  WICK_CHECK_AS(ShapeError, images.dim() == 4 && images.size(1) == 3 && images.numel() > 0, o.input,
                ": expected images [N, 3, H, W] but got sizes ", images.sizes());
  images = images.to(DType::Float32);

  std::unique_ptr<nn::Module> model;
  try {
    model = models::from_state_dict(o.arch, examples::load_weights(o.weights));
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.find(o.weights) == std::string::npos ? o.weights + ": " + what : what);
  }
  model->eval();

  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += o.batch_size) {
    const int64_t n = std::min(o.batch_size, images.size(0) - start);
    try {
      parts.push_back((*model)(images.narrow(0, start, n).contiguous()));
    } catch (const Error& e) {
      throw Error(o.input + ": images of sizes " + detail::concat(images.sizes()) +
                  " do not go through " + o.arch + ": " + e.what());
    }
  }
  Tensor logits = cat(parts, 0).contiguous();
  wick::save(logits, o.output);
  std::printf("%s: logits %s of %s for %s\n", o.output.c_str(),
              detail::concat(logits.sizes()).c_str(), o.arch.c_str(), o.input.c_str());
  return 0;
}

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Runs a torchvision classification model in eval mode on a tensor of images.",
               "vision_infer"};
  app.add_option("arch", o.arch, "architecture, by torchvision builder name")->required();
  app.add_option("weights", o.weights, "state_dict file (.pt, .pth, .safetensors)")->required();
  app.add_option("input", o.input, "float tensor [N, 3, H, W] saved by torch.save")->required();
  app.add_option("output", o.output, "where to save the logits [N, classes]")->required();
  app.add_option("--batch-size", o.batch_size, "images per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "threads for the kernels (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  if (auto status = examples::parse(app, argc, argv)) return *status;
  return examples::run_main("vision_infer", [&] { return run(o); });
}
