// classify: the top-k ImageNet classes of images, with any torchvision
// classification model and its weights.
//
//   build/bin/classify --arch resnet50 --weights resnet50.pth cat.jpg dog.png
//   build/bin/classify --arch vit_b_16 --weights vit.safetensors --topk 3 cat.jpg
//   build/bin/classify --help
//
// Each image (JPEG or PNG) is decoded to RGB and preprocessed as torchvision's
// weights for the architecture expect (their `transforms()`): the shorter side
// resized with antialiasing (256 for most, 232 for torchvision's V2 weights,
// bicubic for some), the centre cropped (224 for most), scaled to [0, 1] and
// normalised with ImageNet's mean and std. --preset picks another of the
// architecture's torchvision weights, and --resize-size, --crop-size and
// --interpolation override single values. The model runs in eval mode; the
// output is, per image, its top-k classes:
//
//   cat.jpg (500 x 375)
//      1  0.912345   281  tabby
//      2  0.050000   282  tiger cat
//
// Weights are any state_dict wick reads (.pt/.pth zip or legacy, a general
// checkpoint with "model_state_dict", safetensors) in any floating dtype. A
// classifier with another class count than ImageNet's 1000 is taken as it is,
// and classes are printed as indices only. Weights of another architecture
// are refused naming the first differing keys and shapes, and the
// architecture they fit, if any. Every bad input (unreadable or undecodable
// image, weights, options) exits with status 2 and a message on stderr.

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
  std::string arch, weights, preset = "DEFAULT", interpolation;
  int64_t topk = 5, resize_size = 0, crop_size = 0;
  int threads = 0;
  std::vector<std::string> images;
};

static std::string join(const std::array<double, 3>& v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%g, %g, %g]", v[0], v[1], v[2]);
  return buf;
}

static int run(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  // An unknown architecture fails here, before any file is read.
  models::classifier_keys(o.arch);

  models::EvalPreprocessing prep;
  std::string source = "wick's defaults (torchvision " + o.arch + " has no ImageNet weights)";
  if (auto p = models::eval_preprocessing(o.arch, o.preset)) {
    prep = *p;
    source = "torchvision's " + o.arch + " " + p->weights + " weights";
  } else if (o.preset != "DEFAULT") {
    throw Error("--preset " + o.preset + ": torchvision 0.14 has no such ImageNet weights for " +
                o.arch);
  }
  if (o.resize_size > 0) prep.resize_size = o.resize_size;
  if (o.crop_size > 0) prep.crop_size = o.crop_size;
  if (!o.interpolation.empty()) prep.interpolation = o.interpolation;

  // Images first: a bad one fails before the model is built.
  std::vector<Tensor> images;
  for (const std::string& path : o.images) images.push_back(data::read_image(path));

  nn::StateDict sd;
  std::unique_ptr<nn::Module> model;
  try {
    sd = examples::load_weights(o.weights);
    model = models::from_state_dict(o.arch, sd);
  } catch (const Error& e) {
    const std::string what = e.what();
    // Messages that name the file already keep it; the others get it in front.
    throw Error(what.find(o.weights) == std::string::npos ? o.weights + ": " + what : what);
  }
  model->eval();
  const int64_t classes = models::num_classes(o.arch, sd);
  const bool imagenet = classes == 1000;
  const auto& names = models::imagenet_categories();
  std::printf("# %s, %lld classes%s, weights %s\n", o.arch.c_str(), (long long)classes,
              imagenet ? " (ImageNet)" : " (not ImageNet's 1000: indices only)", o.weights.c_str());
  std::printf(
      "# preprocessing of %s: resize %lld (%s, antialiased), center crop %lld, mean %s, "
      "std %s\n",
      source.c_str(), (long long)prep.resize_size, prep.interpolation.c_str(),
      (long long)prep.crop_size, join(prep.mean).c_str(), join(prep.stddev).c_str());

  NoGradGuard no_grad;
  const int64_t k = std::min(o.topk, classes);
  for (size_t i = 0; i < images.size(); ++i) {
    Tensor x = examples::preprocess(images[i], prep);
    std::vector<float> p = nn::functional::softmax((*model)(x), 1).contiguous().to_vector<float>();
    std::vector<int64_t> order(p.size());
    for (size_t c = 0; c < order.size(); ++c) order[c] = int64_t(c);
    // Highest probability first; ties by class index.
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
      return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
    });
    std::printf("%s (%lld x %lld)\n", o.images[i].c_str(), (long long)images[i].size(2),
                (long long)images[i].size(1));
    for (int64_t r = 0; r < k; ++r) {
      const int64_t c = order[size_t(r)];
      std::printf("%4lld  %.6f  %4lld  %s\n", (long long)r + 1, double(p[size_t(c)]), (long long)c,
                  imagenet ? names[size_t(c)] : "");
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Prints the top-k ImageNet classes of each image for a torchvision model.",
               "classify"};
  app.add_option("--arch", o.arch, "architecture, by torchvision builder name (resnet50, ...)")
      ->required();
  app.add_option("--weights", o.weights, "state_dict file (.pt, .pth, .safetensors)")->required();
  app.add_option("--topk", o.topk, "classes to print per image")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--preset", o.preset,
                 "whose preprocessing: torchvision's weights name for the architecture "
                 "(IMAGENET1K_V1, ...)")
      ->capture_default_str();
  app.add_option("--resize-size", o.resize_size, "shorter side after resizing (default: preset)")
      ->check(CLI::PositiveNumber);
  app.add_option("--crop-size", o.crop_size, "centre crop (default: preset)")
      ->check(CLI::PositiveNumber);
  app.add_option("--interpolation", o.interpolation, "resize filter (default: preset)")
      ->check(CLI::IsMember({"bilinear", "bicubic"}));
  app.add_option("--threads", o.threads, "threads for the kernels (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("images", o.images, "JPEG or PNG files")->required();
  if (auto status = examples::parse(app, argc, argv)) return *status;
  return examples::run_main("classify", [&] { return run(o); });
}
