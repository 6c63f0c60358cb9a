// Batch transforms: plain loops over contiguous data, which the compiler vectorises.
#include "wick/data/transforms.h"

#include "wick/core/error.h"

namespace wick::data {

Tensor to_float(const Tensor& images) {
  if (is_floating_point(images.dtype())) return images.to(DType::Float32, true).contiguous();
  WICK_CHECK_AS(DTypeError, images.dtype() == DType::UInt8,
                "to_float: expected uint8 or floating-point images but got ", images.dtype());
  Tensor src = images.contiguous();
  Tensor out = empty(src.sizes(), {.dtype = DType::Float32});
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  // Division, not multiplication by 1/255, so values equal PyTorch's x.float() / 255.
  for (int64_t i = 0, n = src.numel(); i < n; ++i) d[i] = float(s[i]) / 255.0f;
  return out;
}

namespace {

void check_mean_std(const std::vector<double>& mean, const std::vector<double>& stddev) {
  WICK_CHECK_AS(ShapeError, !mean.empty() && mean.size() == stddev.size(),
                "normalize: mean and std need the same, non-zero number of entries, got ",
                mean.size(), " and ", stddev.size());
  for (size_t c = 0; c < stddev.size(); ++c) {
    WICK_CHECK(stddev[c] != 0, "normalize: std evaluated to zero after conversion to float, ",
               "leading to division by zero (stddev[", c, "] = 0)");
  }
}

}  // namespace

Tensor normalize(const Tensor& images, const std::vector<double>& mean,
                 const std::vector<double>& stddev) {
  check_mean_std(mean, stddev);
  WICK_CHECK_AS(DTypeError, images.dtype() == DType::Float32 || images.dtype() == DType::Float64,
                "normalize: expected float32 or float64 images but got ", images.dtype(),
                " (convert uint8 images with to_float first)");
  WICK_CHECK_AS(ShapeError, images.dim() >= 2,
                "normalize: expected images [N, C, ...] but got sizes ", images.sizes());
  const int64_t n = images.size(0), channels = images.size(1);
  WICK_CHECK_AS(ShapeError, mean.size() == 1 || int64_t(mean.size()) == channels,
                "normalize: ", mean.size(), " mean/std entries for ", channels,
                " channels (images ", images.sizes(), ")");
  Tensor src = images.contiguous();
  Tensor out = empty(src.sizes(), {.dtype = src.dtype()});
  const int64_t inner = n * channels == 0 ? 0 : src.numel() / (n * channels);
  visit_dtype(src.dtype(), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* s = src.data<T>();
      T* d = out.data<T>();
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t c = 0; c < channels; ++c) {
          size_t k = mean.size() == 1 ? 0 : size_t(c);
          // Subtract then divide, in T, as torchvision's sub_(mean).div_(std) does.
          const T m = T(mean[k]), sd = T(stddev[k]);
          const int64_t base = (b * channels + c) * inner;
          for (int64_t i = 0; i < inner; ++i) d[base + i] = (s[base + i] - m) / sd;
        }
      }
    }
  });
  return out;
}

namespace transforms {

Transform map_input(std::function<Tensor(const Tensor&)> f) {
  return [f = std::move(f)](Batch b) {
    b.input = f(b.input);
    return b;
  };
}

Transform map_target(std::function<Tensor(const Tensor&)> f) {
  return [f = std::move(f)](Batch b) {
    b.target = f(b.target);
    return b;
  };
}

Transform to_float() {
  return map_input([](const Tensor& x) { return data::to_float(x); });
}

Transform normalize(std::vector<double> mean, std::vector<double> stddev) {
  check_mean_std(mean, stddev);
  return map_input([mean = std::move(mean), stddev = std::move(stddev)](const Tensor& x) {
    return data::normalize(x, mean, stddev);
  });
}

Transform compose(std::vector<Transform> transforms) {
  return [ts = std::move(transforms)](Batch b) {
    for (const Transform& t : ts) {
      if (t) b = t(std::move(b));
    }
    return b;
  };
}

}  // namespace transforms
}  // namespace wick::data
