// Tensor layout, element access, raw copies and the non-random factories.
// Differentiable members (views, copies, math) are defined in src/autograd/.
#include "wick/core/tensor.h"

#include <cmath>
#include <cstring>
#include <ostream>

#include "core/layout.h"

namespace wick {

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << ']';
}

TensorImpl& Tensor::impl() const {
  WICK_CHECK(impl_ != nullptr, "operation on an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t dim) const {
  return sizes()[size_t(detail::wrap_dim(dim, this->dim(), "size"))];
}

int64_t Tensor::stride(int64_t dim) const {
  return strides()[size_t(detail::wrap_dim(dim, this->dim(), "stride"))];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes()) n *= s;  // sizes were checked when the tensor was made
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  const auto& sz = sizes();
  const auto& st = strides();
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (sz[size_t(d)] == 1) continue;
    if (sz[size_t(d)] == 0) return true;
    if (st[size_t(d)] != expected) return false;
    expected *= sz[size_t(d)];
  }
  return true;
}

void* Tensor::data_ptr() const {
  const auto& i = impl();
  return i.storage->data() + i.offset * wick::element_size(i.dtype);
}

void Tensor::check_dtype(DType expected, const char* op) const {
  WICK_CHECK_AS(DTypeError, dtype() == expected, op, ": expected a tensor of dtype ", expected,
                " but got ", dtype());
}

namespace {
int64_t element_offset(const Tensor& t, const Shape& index, const char* op) {
  WICK_CHECK_AS(IndexError, int64_t(index.size()) == t.dim(), op, ": index of ", index.size(),
                " dims for a tensor of ", t.dim(), " dims (sizes ", t.sizes(), ")");
  int64_t off = t.storage_offset();
  for (size_t d = 0; d < index.size(); ++d) {
    int64_t i = index[d];
    int64_t n = t.sizes()[d];
    if (i < 0) i += n;
    WICK_CHECK_AS(IndexError, i >= 0 && i < n, op, ": index ", index[d],
                  " is out of bounds for dim ", d, " with size ", n);
    off += i * t.strides()[d];
  }
  return off;
}
}  // namespace

Scalar Tensor::at(const Shape& index) const {
  int64_t off = element_offset(*this, index, "at");
  return visit_dtype(dtype(), [&]<class T>() {
    return Scalar(reinterpret_cast<const T*>(storage()->data())[off]);
  });
}

void Tensor::set(const Shape& index, Scalar value) const {
  int64_t off = element_offset(*this, index, "set");
  visit_dtype(dtype(),
              [&]<class T>() { reinterpret_cast<T*>(storage()->data())[off] = value.to<T>(); });
}

Scalar Tensor::item() const {
  WICK_CHECK(numel() == 1, "item: a tensor with ", numel(),
             " elements cannot be converted to a scalar (sizes ", sizes(), ")");
  return visit_dtype(dtype(),
                     [&]<class T>() { return Scalar(*static_cast<const T*>(data_ptr())); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  std::vector<T> out;
  out.reserve(size_t(numel()));
  visit_dtype(dtype(), [&]<class S>() {
    const S* base = reinterpret_cast<const S*>(storage()->data());
    detail::for_each_strided<1>(
        sizes(), {&strides()}, {storage_offset()},
        [&](const std::array<int64_t, 1>& o) { out.push_back(convert_element<T>(base[o[0]])); });
  });
  return out;
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<std::complex<float>> Tensor::to_vector<std::complex<float>>() const;
template std::vector<std::complex<double>> Tensor::to_vector<std::complex<double>>() const;

namespace detail {
void fill_raw(const Tensor& t, Scalar value) {
  visit_dtype(t.dtype(), [&]<class T>() {
    T v = value.to<T>();
    T* base = reinterpret_cast<T*>(t.storage()->data());
    if (t.is_contiguous()) {
      std::fill(base + t.storage_offset(), base + t.storage_offset() + t.numel(), v);
      return;
    }
    for_each_strided<1>(t.sizes(), {&t.strides()}, {t.storage_offset()},
                        [&](const std::array<int64_t, 1>& o) { base[o[0]] = v; });
  });
}
}  // namespace detail

// ---- detail -----------------------------------------------------------------

namespace detail {

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = ndim == 0 ? 1 : ndim;  // like PyTorch, a 0-dim tensor accepts dim 0 and -1
  WICK_CHECK_AS(IndexError, dim >= -n && dim < n, op,
                ": dimension out of range (expected to be in range of [", -n, ", ", n - 1,
                "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape st(sizes.size());
  int64_t s = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    st[d] = s;
    // An empty tensor's strides still multiply its other sizes: [0, 2^40,
    // 2^40] holds nothing but its strides would overflow.
    WICK_CHECK_AS(ShapeError,
                  d == 0 || !__builtin_mul_overflow(s, std::max<int64_t>(sizes[d], 1), &s),
                  "sizes ", sizes, " are too large: their strides overflow int64");
  }
  return st;
}

int64_t checked_numel(const Shape& sizes, const char* op) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    WICK_CHECK_AS(ShapeError, s >= 0, op, ": negative size ", s, " in sizes ", sizes);
    WICK_CHECK_AS(ShapeError, !__builtin_mul_overflow(n, s, &n), op, ": sizes ", sizes,
                  " overflow the element count");
  }
  return n;
}

Tensor make_empty(const Shape& sizes, DType dtype, const char* op) {
  int64_t n = checked_numel(sizes, op);
  int64_t bytes;
  WICK_CHECK_AS(ShapeError, !__builtin_mul_overflow(n, element_size(dtype), &bytes), op, ": sizes ",
                sizes, " of ", dtype, " overflow the byte count");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(size_t(bytes));
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& t, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->offset = offset;
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    WICK_CHECK_AS(ShapeError, sa == sb || sa == 1 || sb == 1, op, ": the size of tensor a (", sa,
                  ") must match the size of tensor b (", sb, ") at non-singleton dimension ", i,
                  " (sizes ", a, " and ", b, ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& sizes) {
  Shape st(sizes.size(), 0);
  size_t lead = sizes.size() - size_t(t.dim());
  for (size_t i = 0; i < size_t(t.dim()); ++i)
    st[lead + i] = t.sizes()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

void copy_raw(const Tensor& dst, const Tensor& src) {
  Shape bs = broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
  WICK_CHECK_AS(ShapeError, bs == dst.sizes(), "copy_: cannot broadcast source of sizes ",
                src.sizes(), " to destination of sizes ", dst.sizes());
  Shape sst = broadcast_strides(src, dst.sizes());
  visit_dtype(dst.dtype(), [&]<class D>() {
    D* d = reinterpret_cast<D*>(dst.storage()->data());
    visit_dtype(src.dtype(), [&]<class S>() {
      const S* s = reinterpret_cast<const S*>(src.storage()->data());
      if (dst.is_contiguous() && src.is_contiguous() && src.sizes() == dst.sizes()) {
        D* dp = d + dst.storage_offset();
        const S* sp = s + src.storage_offset();
        int64_t n = dst.numel();
        if constexpr (std::is_same_v<D, S>) {
          std::memmove(dp, sp, size_t(n) * sizeof(D));
        } else {
          for (int64_t i = 0; i < n; ++i) dp[i] = convert_element<D>(sp[i]);
        }
        return;
      }
      for_each_strided<2>(
          dst.sizes(), {&dst.strides(), &sst}, {dst.storage_offset(), src.storage_offset()},
          [&](const std::array<int64_t, 2>& o) { d[o[0]] = convert_element<D>(s[o[1]]); });
    });
  });
}

Tensor contiguous_raw(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = make_empty(t.sizes(), t.dtype());
  copy_raw(out, t);
  return out;
}

}  // namespace detail

// ---- factories ----------------------------------------------------------------

Tensor empty(const Shape& sizes, TensorOptions options) {
  Tensor t = detail::make_empty(sizes, options.dtype, "empty");
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& sizes, Scalar value, TensorOptions options) {
  Tensor t = detail::make_empty(sizes, options.dtype, "full");
  detail::fill_raw(t, value);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor zeros(const Shape& sizes, TensorOptions options) {
  return full(sizes, 0, options);
}
Tensor ones(const Shape& sizes, TensorOptions options) {
  return full(sizes, 1, options);
}

Tensor scalar_tensor(Scalar value, std::optional<DType> dtype) {
  return full({}, value, {.dtype = dtype.value_or(value.default_dtype())});
}

template <class T>
Tensor tensor(const std::vector<T>& values, const Shape& sizes) {
  Shape s = sizes.empty() ? Shape{int64_t(values.size())} : sizes;
  int64_t n = detail::checked_numel(s, "tensor");
  WICK_CHECK_AS(ShapeError, n == int64_t(values.size()), "tensor: ", values.size(),
                " values do not fill sizes ", s);
  Tensor t = detail::make_empty(s, dtype_of<T>(), "tensor");
  T* p = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}
template Tensor tensor<float>(const std::vector<float>&, const Shape&);
template Tensor tensor<double>(const std::vector<double>&, const Shape&);
template Tensor tensor<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor tensor<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor tensor<uint8_t>(const std::vector<uint8_t>&, const Shape&);
template Tensor tensor<int8_t>(const std::vector<int8_t>&, const Shape&);
template Tensor tensor<int16_t>(const std::vector<int16_t>&, const Shape&);
template Tensor tensor<bool>(const std::vector<bool>&, const Shape&);
template Tensor tensor<Half>(const std::vector<Half>&, const Shape&);
template Tensor tensor<BFloat16>(const std::vector<BFloat16>&, const Shape&);
template Tensor tensor<std::complex<float>>(const std::vector<std::complex<float>>&, const Shape&);
template Tensor tensor<std::complex<double>>(const std::vector<std::complex<double>>&,
                                             const Shape&);

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype) {
  bool all_int = start.is_integral() && end.is_integral() && step.is_integral();
  DType dt = dtype.value_or(all_int ? DType::Int64 : DType::Float32);
  double s = start.to<double>(), e = end.to<double>(), st = step.to<double>();
  WICK_CHECK(st != 0, "arange: step must be nonzero");
  WICK_CHECK(std::isfinite(s) && std::isfinite(e), "arange: unsupported range ", s, " -> ", e);
  WICK_CHECK((st > 0 && e >= s) || (st < 0 && e <= s),
             "arange: upper bound and larger bound inconsistent with step sign (start ", s,
             ", end ", e, ", step ", st, ")");
  double count = std::ceil((e - s) / st);
  WICK_CHECK_AS(ShapeError, count < 9.0e18, "arange: ", count, " elements is too many");
  int64_t n = int64_t(count);
  Tensor t = detail::make_empty({n}, dt, "arange");
  visit_dtype(dt, [&]<class T>() {
    T* p = t.data<T>();
    if (all_int) {
      int64_t a = start.to<int64_t>(), b = step.to<int64_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = convert_element<T>(a + i * b);
    } else {
      for (int64_t i = 0; i < n; ++i) p[i] = convert_element<T>(s + double(i) * st);
    }
  });
  return t;
}

Tensor arange(Scalar end, std::optional<DType> dtype) {
  return arange(Scalar(0), end, 1, dtype);
}

Tensor empty_like(const Tensor& t) {
  return detail::make_empty(t.sizes(), t.dtype());
}
Tensor zeros_like(const Tensor& t) {
  return full(t.sizes(), 0, {.dtype = t.dtype()});
}
Tensor ones_like(const Tensor& t) {
  return full(t.sizes(), 1, {.dtype = t.dtype()});
}
Tensor full_like(const Tensor& t, Scalar value) {
  return full(t.sizes(), value, {.dtype = t.dtype()});
}

}  // namespace wick
