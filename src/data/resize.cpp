// resize and center_crop: torchvision's tensor Resize (antialias=True) and
// CenterCrop (docs/images.md).
//
// The resize is separable: the rows are filtered along the width into a
// temporary, then its columns along the height, as PyTorch's antialiased
// upsampling does. The filter taps of each output index are computed once per
// dimension with PyTorch's formulas and in its precision (float for float32
// images, with the few double intermediates it has), and each output sums its
// taps in the same order, so results agree with PyTorch to the last bit or
// nearly.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "wick/core/error.h"
#include "wick/data/transforms.h"

namespace wick::data {

namespace {

// The filters, with the argument's type as in PyTorch (the arithmetic of the
// cubic one runs in double, a being a double constant there).
template <class T>
T triangle(T x) {
  if (x < 0) x = -x;
  if (x < 1) return T(1.0 - x);
  return 0;
}

template <class T>
T keys_cubic(T x) {
  constexpr double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return T(((a + 2.0) * x - (a + 3.0)) * x * x + 1);
  if (x < 2) return T((((x - 5) * x + 8) * x - 4) * a);
  return 0;
}

// For each output index i: the first input index, the number of taps, and
// their normalised weights at weights[i * max_taps + j].
template <class T>
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<T> weights;
  int64_t max_taps = 0;
};

template <class T>
Taps<T> make_taps(int64_t in, int64_t out, Interpolation mode) {
  const bool cubic = mode == Interpolation::Bicubic;
  const int64_t filter_size = cubic ? 4 : 2;  // support in input pixels when not shrinking
  const T scale = T(in) / T(out);
  // When shrinking, the filter stretches by the scale, so it averages every
  // input pixel it covers: the antialiasing.
  const T support = scale >= 1 ? T((double(filter_size) * 0.5) * scale) : T(filter_size * 0.5);
  const T invscale = scale >= 1 ? T(1.0 / scale) : T(1);
  Taps<T> taps;
  taps.max_taps = int64_t(std::ceil(support)) * 2 + 1;
  taps.first.resize(size_t(out));
  taps.count.resize(size_t(out));
  taps.weights.assign(size_t(out * taps.max_taps), T(0));
  for (int64_t i = 0; i < out; ++i) {
    const T center = T(scale * (double(i) + 0.5));
    const int64_t lo = std::max<int64_t>(int64_t(double(center - support) + 0.5), 0);
    const int64_t hi = std::min<int64_t>(int64_t(double(center + support) + 0.5), in);
    const int64_t n = std::min(hi - lo, taps.max_taps);
    T* w = taps.weights.data() + i * taps.max_taps;
    T total = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T x = T((double(T(j + lo) - center) + 0.5) * invscale);
      w[j] = cubic ? keys_cubic(x) : triangle(x);
      total += w[j];
    }
    if (total != 0)
      for (int64_t j = 0; j < n; ++j) w[j] /= total;
    taps.first[size_t(i)] = lo;
    taps.count[size_t(i)] = n;
  }
  return taps;
}

// Resizes `planes` images of [h, w] (contiguous, at src) to [oh, ow] at dst
// (contiguous). The width pass writes straight to dst when the height stays.
template <class T>
void resize_planes(const T* src, T* dst, int64_t planes, int64_t h, int64_t w, int64_t oh,
                   int64_t ow, Interpolation mode) {
  std::vector<T> rows;  // [planes, h, ow], when the height pass follows
  const T* mid = src;
  if (ow != w) {
    const Taps<T> t = make_taps<T>(w, ow, mode);
    T* rows_out = dst;
    if (oh != h) {
      rows.resize(size_t(planes * h * ow));
      rows_out = rows.data();
    }
    for (int64_t r = 0; r < planes * h; ++r) {
      const T* in = src + r * w;
      T* out = rows_out + r * ow;
      for (int64_t x = 0; x < ow; ++x) {
        const T* wt = t.weights.data() + x * t.max_taps;
        const T* px = in + t.first[size_t(x)];
        T sum = px[0] * wt[0];
        for (int64_t j = 1; j < t.count[size_t(x)]; ++j) sum += px[j] * wt[j];
        out[x] = sum;
      }
    }
    if (oh == h) return;
    mid = rows.data();
  }
  const Taps<T> t = make_taps<T>(h, oh, mode);
  for (int64_t p = 0; p < planes; ++p) {
    const T* in = mid + p * h * ow;
    for (int64_t y = 0; y < oh; ++y) {
      T* out = dst + (p * oh + y) * ow;
      const T* wt = t.weights.data() + y * t.max_taps;
      const T* first = in + t.first[size_t(y)] * ow;
      // Tap by tap over the whole row: each output still sums its taps in order.
      for (int64_t x = 0; x < ow; ++x) out[x] = first[x] * wt[0];
      for (int64_t j = 1; j < t.count[size_t(y)]; ++j) {
        const T* row = first + j * ow;
        for (int64_t x = 0; x < ow; ++x) out[x] += row[x] * wt[j];
      }
    }
  }
}

void check_image(const Tensor& image, const char* op, int64_t height, int64_t width) {
  WICK_CHECK_AS(ShapeError, image.dim() >= 2, op, ": expected an image [..., H, W] but got sizes ",
                image.sizes());
  WICK_CHECK_AS(ShapeError, height >= 1 && width >= 1, op, ": the size must be at least 1, got ",
                height, " x ", width);
}

// round(x) with halves to even, as torch.round.
int64_t round_half_even(int64_t twice) {
  const int64_t half = twice / 2;
  return (twice % 2 == 0 || half % 2 == 0) ? half : half + 1;
}

}  // namespace

Tensor resize(const Tensor& image, int64_t height, int64_t width, Interpolation interpolation) {
  check_image(image, "resize", height, width);
  const DType dtype = image.dtype();
  WICK_CHECK_AS(DTypeError,
                dtype == DType::UInt8 || dtype == DType::Float32 || dtype == DType::Float64,
                "resize: expected a uint8, float32 or float64 image but got ", dtype);
  const int64_t h = image.size(-2), w = image.size(-1);
  if (h == height && w == width) return image;
  WICK_CHECK_AS(ShapeError, h >= 1 && w >= 1, "resize: cannot resize an empty image of sizes ",
                image.sizes());
  Shape out_sizes = image.sizes();
  out_sizes[out_sizes.size() - 2] = height;
  out_sizes[out_sizes.size() - 1] = width;
  const int64_t planes = image.numel() / (h * w);
  Tensor out = empty(out_sizes, {.dtype = dtype});
  if (planes == 0) return out;
  if (dtype == DType::Float64) {
    const Tensor src = image.contiguous();
    resize_planes(src.data<double>(), out.data<double>(), planes, h, w, height, width,
                  interpolation);
  } else if (dtype == DType::Float32) {
    const Tensor src = image.contiguous();
    resize_planes(src.data<float>(), out.data<float>(), planes, h, w, height, width, interpolation);
  } else {
    // torchvision resizes uint8 in float32, then rounds and converts back.
    const Tensor src = image.to(DType::Float32).contiguous();
    std::vector<float> r(size_t(out.numel()));
    resize_planes(src.data<float>(), r.data(), planes, h, w, height, width, interpolation);
    uint8_t* d = out.data<uint8_t>();
    for (size_t i = 0; i < r.size(); ++i)
      d[i] = uint8_t(std::clamp(std::nearbyint(r[i]), 0.0f, 255.0f));
  }
  return out;
}

Tensor resize(const Tensor& image, int64_t size, Interpolation interpolation) {
  check_image(image, "resize", size, size);
  const int64_t h = image.size(-2), w = image.size(-1);
  WICK_CHECK_AS(ShapeError, h >= 1 && w >= 1, "resize: cannot resize an empty image of sizes ",
                image.sizes());
  const int64_t shorter = std::min(h, w), longer = std::max(h, w);
  // Exact product, one correctly rounded division, truncated: Python's
  // int(size * long / short).
  const auto other = int64_t(double(size * longer) / double(shorter));
  return w <= h ? resize(image, other, size, interpolation)
                : resize(image, size, other, interpolation);
}

Tensor center_crop(const Tensor& image, int64_t height, int64_t width) {
  check_image(image, "center_crop", height, width);
  const int64_t h = image.size(-2), w = image.size(-1);
  const int64_t hd = image.dim() - 2, wd = image.dim() - 1;
  if (height <= h && width <= w)
    return image.narrow(hd, round_half_even(h - height), height)
        .narrow(wd, round_half_even(w - width), width);
  // A side shorter than the crop: the image goes into zeros, (crop - side) / 2
  // before it; a side at least as long is cropped as above.
  Shape sizes = image.sizes();
  sizes[size_t(hd)] = height;
  sizes[size_t(wd)] = width;
  Tensor out = zeros(sizes, {.dtype = image.dtype()});
  auto place = [](int64_t side, int64_t crop) {
    // (first source index, first target index, length)
    if (crop > side) return std::array<int64_t, 3>{0, (crop - side) / 2, side};
    return std::array<int64_t, 3>{round_half_even(side - crop), 0, crop};
  };
  const auto [sy, ty, ny] = place(h, height);
  const auto [sx, tx, nx] = place(w, width);
  out.narrow(hd, ty, ny).narrow(wd, tx, nx).copy_(image.narrow(hd, sy, ny).narrow(wd, sx, nx));
  return out;
}

namespace transforms {

Transform resize(int64_t height, int64_t width, Interpolation interpolation) {
  WICK_CHECK_AS(ShapeError, height >= 1 && width >= 1,
                "transforms::resize: the size must be at least 1, got ", height, " x ", width);
  return map_input([=](const Tensor& x) { return data::resize(x, height, width, interpolation); });
}

Transform center_crop(int64_t height, int64_t width) {
  WICK_CHECK_AS(ShapeError, height >= 1 && width >= 1,
                "transforms::center_crop: the size must be at least 1, got ", height, " x ", width);
  return map_input([=](const Tensor& x) { return data::center_crop(x, height, width); });
}

}  // namespace transforms
}  // namespace wick::data
