// Tensor's core members: the checked factory, layout, element access and
// autograd state, and the non-random factories. The differentiable members
// (views, copies, math, backward) belong to the ops layer (src/ops/).
#include "wick/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "core/layout.h"
#include "core/strided.h"
#include "wick/core/autograd_meta.h"

namespace wick {

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << ']';
}

Tensor make_tensor(std::shared_ptr<Storage> storage, DType dtype, Shape sizes, Shape strides,
                   int64_t offset) {
  WICK_CHECK(storage != nullptr, "make_tensor: no storage");
  WICK_CHECK_AS(ShapeError, sizes.size() == strides.size(), "make_tensor: sizes ", sizes,
                " and strides ", strides, " differ in length");
  WICK_CHECK_AS(IndexError, offset >= 0, "make_tensor: negative storage offset ", offset);
  bool empty = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    WICK_CHECK_AS(ShapeError, sizes[d] >= 0 && strides[d] >= 0,
                  "make_tensor: negative size or stride (sizes ", sizes, ", strides ", strides,
                  ")");
    empty = empty || sizes[d] == 0;
  }
  const int64_t esize = element_size(dtype);
  const int64_t capacity = int64_t(storage->nbytes() / size_t(esize));
  if (empty) {
    WICK_CHECK_AS(IndexError, offset <= capacity, "make_tensor: storage offset ", offset,
                  " is past the end of storage of ", capacity, " ", dtype, " elements");
  } else {
    int64_t last = offset;
    bool overflow = false;
    for (size_t d = 0; d < sizes.size(); ++d) {
      int64_t step = 0;
      overflow = overflow || __builtin_mul_overflow(sizes[d] - 1, strides[d], &step) ||
                 __builtin_add_overflow(last, step, &last);
    }
    WICK_CHECK_AS(IndexError, !overflow && last < capacity, "make_tensor: a tensor of sizes ",
                  sizes, ", strides ", strides, " at offset ", offset,
                  " does not fit in storage of ", capacity, " ", dtype, " elements");
  }
  // The element count and byte count must fit in int64 (a stride-0 view of
  // one element can claim any size), and so must the contiguous strides a
  // copy gets: the product of the sizes, zeros counted as 1.
  int64_t span = 1;
  for (int64_t n : sizes)
    WICK_CHECK_AS(
        ShapeError,
        !__builtin_mul_overflow(span, std::max<int64_t>(n, 1), &span) && span <= INT64_MAX / esize,
        "make_tensor: sizes ", sizes, " hold too many ", dtype, " elements to count in int64");
  return Tensor(std::make_shared<TensorImpl>(TensorImpl::Key(), std::move(storage), dtype,
                                             std::move(sizes), std::move(strides), offset));
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
  return i.storage_->data() + i.offset_ * wick::element_size(i.dtype_);
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
    const S* base = reinterpret_cast<const S*>(storage()->data()) + storage_offset();
    detail::StridedLoop<1> loop{sizes(), {strides()}};
    detail::for_each_run(loop, [&](const std::array<int64_t, 1>& off,
                                   const std::array<int64_t, 1>& inner, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        out.push_back(convert_element<T>(base[off[0] + i * inner[0]]));
    });
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

// ---- autograd state -----------------------------------------------------------

autograd::AutogradMeta& Tensor::mutable_autograd_meta() const {
  auto& a = impl().autograd_;
  if (!a) a = std::make_shared<autograd::AutogradMeta>();
  return *a;
}

bool Tensor::requires_grad() const {
  const auto* a = autograd_meta();
  return a && a->requires_grad;
}

const Tensor& Tensor::requires_grad_(bool on) const {
  if (on) {
    WICK_CHECK_AS(DTypeError, is_floating_point(dtype()) || is_complex(dtype()),
                  "requires_grad_: only tensors of floating point and complex dtype can require "
                  "gradients (got ",
                  dtype(), ")");
  } else {
    WICK_CHECK(is_leaf(),
               "requires_grad_: you can only change requires_grad flags of leaf "
               "variables (this tensor was produced by ",
               grad_fn_name(), ")");
  }
  if (!on && !autograd_meta()) return *this;
  mutable_autograd_meta().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const auto* a = autograd_meta();
  return a ? a->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined())
    WICK_CHECK_AS(ShapeError, grad.sizes() == sizes(), "set_grad: gradient of sizes ", grad.sizes(),
                  " for a tensor of sizes ", sizes());
  if (!grad.defined() && !autograd_meta()) return;
  mutable_autograd_meta().grad = grad;
}

bool Tensor::is_leaf() const {
  const auto* a = autograd_meta();
  return !a || !a->grad_fn;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const auto* a = autograd_meta();
  return a ? a->grad_fn : nullptr;
}

std::string Tensor::grad_fn_name() const {
  auto fn = grad_fn();
  return fn ? fn->name() : std::string();
}

Tensor Tensor::detach() const {
  return detail::make_view(*this, sizes(), strides(), storage_offset());
}

void Tensor::set_data(const Tensor& src) const {
  WICK_CHECK(src.defined(), "set_data: the new data is an undefined tensor");
  WICK_CHECK(is_leaf(),
             "set_data: only a leaf tensor's data can be replaced (this tensor was "
             "produced by ",
             grad_fn_name(), ")");
  const TensorImpl& s = src.impl();
  TensorImpl& d = impl();
  d.storage_ = s.storage_;
  d.offset_ = s.offset_;
  d.sizes_ = s.sizes_;
  d.strides_ = s.strides_;
  d.dtype_ = s.dtype_;
  if (!d.autograd_) return;
  if (!is_floating_point(d.dtype_) && !is_complex(d.dtype_)) d.autograd_->requires_grad = false;
  const Tensor& g = d.autograd_->grad;
  if (g.defined() && (g.sizes() != d.sizes_ || g.dtype() != d.dtype_)) d.autograd_->grad = Tensor();
}

// ---- factories ----------------------------------------------------------------

Tensor empty(const Shape& sizes, TensorOptions options) {
  Tensor t = detail::make_empty(sizes, options.dtype, "empty");
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& sizes, Scalar value, TensorOptions options) {
  Tensor t = detail::make_empty(sizes, options.dtype, "full");
  visit_dtype(t.dtype(), [&]<class T>() {
    T* p = static_cast<T*>(t.data_ptr());
    std::fill(p, p + t.numel(), value.to<T>());
  });
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
