// Tensor: a small handle to an n-dimensional view of a shared Storage.
//
// A Tensor is (storage, storage offset, sizes, strides in elements, dtype) plus
// an autograd slot. Copying a Tensor copies the handle: both names refer to the
// same tensor, gradient included, as in Python. Views (`view`, `transpose`,
// `narrow`, `select`, `expand`, ...) make a new tensor over the same storage;
// data is only copied when you ask (`clone`, `contiguous` when needed,
// `to(dtype)`, `copy_`).
//
//   wick::Tensor x = wick::randn({2, 3});
//   wick::Tensor y = x.t();          // a view: y.storage() == x.storage()
//   y.select(0, 1).fill_(0.0);       // writes through to x
//   std::cout << x.sum() << "\n";    // tensor(-0.4316)
//
// Two layers define Tensor's members, and the class says which. Core (this
// directory) defines the handle: layout, element access, the autograd state
// (requires_grad, grad, grad_fn) and printing, plus the factories at the
// bottom. The ops layer (src/ops/, declared in wick/ops/) defines the
// differentiable API: views, copies, math and backward, which record their
// backward rule when grad mode is on and an input requires grad (see
// wick/autograd/grad_mode.h). Core never calls the ops layer; the build checks
// that (docs/architecture.md).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wick/core/dtype.h"
#include "wick/core/scalar.h"
#include "wick/core/storage.h"

namespace wick {

/// Sizes or strides, one entry per dimension. `{2, 3}` converts to it. A
/// std::vector of its own type so that it prints as [2, 3] in messages.
struct Shape : std::vector<int64_t> {
  using std::vector<int64_t>::vector;
  Shape() = default;
  Shape(const std::vector<int64_t>& v) : std::vector<int64_t>(v) {}
};

std::ostream& operator<<(std::ostream& os, const Shape& s);  // prints [2, 3]

namespace autograd {
struct AutogradMeta;  // wick/core/autograd_meta.h
class Node;
}  // namespace autograd

class Tensor;

/// Makes a tensor viewing `storage` with the given layout (sizes and strides
/// in elements, offset in elements), after checking it: sizes and strides of
/// one length and not negative, a non-negative offset, every element reached
/// inside the storage, and the element count and byte count countable in
/// int64. Throws ShapeError or IndexError naming the layout otherwise. Every
/// tensor wick makes comes from here, so every tensor's layout fits its storage.
Tensor make_tensor(std::shared_ptr<Storage> storage, DType dtype, Shape sizes, Shape strides,
                   int64_t offset = 0);

/// What a Tensor handle points at: a storage, the layout of a view of it and
/// the autograd state. Only make_tensor creates one (hence the key), and its
/// fields are Tensor's to read; users go through Tensor.
class TensorImpl {
  struct Key {
    explicit Key() = default;
  };
  friend class Tensor;
  friend Tensor make_tensor(std::shared_ptr<Storage>, DType, Shape, Shape, int64_t);

 public:
  TensorImpl(Key, std::shared_ptr<Storage> storage, DType dtype, Shape sizes, Shape strides,
             int64_t offset)
      : storage_(std::move(storage)),
        offset_(offset),
        sizes_(std::move(sizes)),
        strides_(std::move(strides)),
        dtype_(dtype) {}

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_;  // in elements
  Shape sizes_;
  Shape strides_;  // in elements
  DType dtype_;
  std::shared_ptr<autograd::AutogradMeta> autograd_;  // null: no grad, no history
};

class Tensor {
 public:
  /// An undefined tensor (no storage); `defined()` is false.
  Tensor() = default;
  /// A handle to an existing impl (another handle's impl_ptr()).
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ======== the handle: defined by core ========================================

  // ---- layout -------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  DType dtype() const { return impl().dtype_; }
  const Shape& sizes() const { return impl().sizes_; }
  const Shape& strides() const { return impl().strides_; }
  /// Size of one dimension; negative dims count from the end.
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return int64_t(impl().sizes_.size()); }
  int64_t numel() const;
  int64_t storage_offset() const { return impl().offset_; }
  int64_t element_size() const { return wick::element_size(dtype()); }
  /// numel() * element_size(): the bytes this tensor's elements occupy.
  int64_t nbytes() const { return numel() * element_size(); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage_; }
  /// True when the elements are laid out densely in row-major order.
  bool is_contiguous() const;
  /// True when both handles refer to the same tensor (not merely equal values).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  /// The shared impl; its address identifies the tensor (as Python's id()).
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- element access -----------------------------------------------------
  /// Pointer to the first element (storage data + offset).
  void* data_ptr() const;
  /// Typed pointer to the first element; throws DTypeError if T does not match.
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>(), "data");
    return static_cast<T*>(data_ptr());
  }
  /// The value of a one-element tensor, converted to T.
  template <class T>
  T item() const {
    return item().to<T>();
  }
  Scalar item() const;
  /// The element at a full index (negative indices count from the end).
  Scalar at(const Shape& index) const;
  /// Sets the element at a full index.
  void set(const Shape& index, Scalar value) const;
  /// All elements in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;
  /// Throws DTypeError naming `op` unless dtype() == expected.
  void check_dtype(DType expected, const char* op) const;

  // ---- autograd state -----------------------------------------------------
  bool requires_grad() const;
  /// Marks a leaf as requiring grad (only floating-point and complex dtypes).
  const Tensor& requires_grad_(bool on = true) const;
  /// The accumulated gradient, or an undefined tensor.
  Tensor grad() const;
  /// Replaces the accumulated gradient (undefined clears it).
  void set_grad(const Tensor& grad) const;
  /// True for tensors not produced by a recorded operation.
  bool is_leaf() const;
  /// The node that produced this tensor, or null for leaves.
  std::shared_ptr<autograd::Node> grad_fn() const;
  /// The name of grad_fn() ("AddBackward0"), or "" for leaves.
  std::string grad_fn_name() const;
  /// A tensor sharing storage, with no history and no grad.
  Tensor detach() const;
  /// Makes this leaf refer to `src`'s data: its storage, offset, sizes,
  /// strides and dtype (PyTorch's `t.data = src`). Every handle to this tensor
  /// sees the change; requires_grad is kept (a non-floating `src` clears it),
  /// and a gradient that no longer matches in sizes or dtype is dropped.
  void set_data(const Tensor& src) const;
  /// The autograd state, or null when there is none (wick/core/autograd_meta.h).
  autograd::AutogradMeta* autograd_meta() const { return impl().autograd_.get(); }
  /// The autograd state, created empty when missing; for the autograd layer.
  autograd::AutogradMeta& mutable_autograd_meta() const;

  /// PyTorch's repr: `tensor([[1., 2.],\n        [3., 4.]])`.
  std::string repr() const;

  // ======== the differentiable API: defined by the ops layer (src/ops/) =======

  // ---- views (share storage; differentiable; src/ops/shape.cpp) -----------
  /// Same data, new sizes; one size may be -1. Throws ShapeError if the
  /// strides cannot express it without a copy (use reshape).
  Tensor view(const Shape& sizes) const;
  /// A view when possible, otherwise a contiguous copy.
  Tensor reshape(const Shape& sizes) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  /// Transpose of a tensor with at most 2 dims.
  Tensor t() const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  /// Python's x[start:end:step] along `dim`; end is clamped like Python's.
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  /// Removes `dim` by taking index `index` of it.
  Tensor select(int64_t dim, int64_t index) const;
  /// `select(0, index)`.
  Tensor operator[](int64_t index) const { return select(0, index); }
  /// Broadcast view to `sizes` (-1 keeps a size); new dims are added in front.
  Tensor expand(const Shape& sizes) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  /// Removes all size-1 dims, or only `dim` if it has size 1.
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  /// A view with arbitrary sizes, strides and offset over this storage
  /// (checked by make_tensor). Not differentiable.
  Tensor as_strided(const Shape& sizes, const Shape& strides,
                    std::optional<int64_t> storage_offset = std::nullopt) const;

  // ---- copies and fills (src/ops/copy.cpp) --------------------------------
  /// This tensor if already contiguous, otherwise a contiguous copy.
  Tensor contiguous() const;
  /// A contiguous copy with its own storage.
  Tensor clone() const;
  /// A copy converted to `dtype` (this tensor itself if the dtype matches and
  /// `copy` is false).
  Tensor to(DType dtype, bool copy = false) const;
  /// Copies `src` into this tensor, broadcasting and converting dtype. Not
  /// differentiable. Returns *this.
  const Tensor& copy_(const Tensor& src) const;
  /// Sets every element (not differentiable).
  const Tensor& fill_(Scalar value) const;
  const Tensor& zero_() const { return fill_(Scalar(0)); }

  // ---- math (differentiable; wick/ops/*.h has the free functions) ---------
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  /// Largest element of the whole tensor.
  Tensor max() const;
  /// Index of the largest element of the flattened tensor (int64).
  Tensor argmax() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor relu() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor sqrt() const;
  Tensor pow(Scalar exponent) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor matmul(const Tensor& other) const;

  // ---- in-place arithmetic (not differentiable; for optimizers) -----------
  const Tensor& add_(const Tensor& other, Scalar alpha = 1) const;
  const Tensor& add_(Scalar other) const;
  const Tensor& sub_(const Tensor& other, Scalar alpha = 1) const;
  const Tensor& mul_(const Tensor& other) const;
  const Tensor& mul_(Scalar other) const;
  const Tensor& div_(const Tensor& other) const;
  const Tensor& div_(Scalar other) const;
  /// this += value * t1 * t2
  const Tensor& addcmul_(const Tensor& t1, const Tensor& t2, Scalar value = 1) const;
  /// this += value * t1 / t2
  const Tensor& addcdiv_(const Tensor& t1, const Tensor& t2, Scalar value = 1) const;

  // ---- backward (src/autograd/engine.cpp) ---------------------------------
  /// Keep `.grad` for this non-leaf tensor during backward.
  void retain_grad() const;
  /// Computes gradients of this tensor with respect to the leaves of its graph
  /// and accumulates them into their `.grad`. `gradient` may be omitted for a
  /// one-element tensor. The graph is freed unless `retain_graph`.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

 private:
  /// The impl; throws wick::Error for an undefined tensor.
  TensorImpl& impl() const;

  std::shared_ptr<TensorImpl> impl_;
};

/// Prints `t.repr()`.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories (core: each makes a new contiguous tensor) ---------------------

/// Options for factory functions: `wick::zeros({2, 3}, {.dtype = DType::Float64})`.
struct TensorOptions {
  DType dtype = DType::Float32;
  bool requires_grad = false;
};

/// Uninitialised elements.
Tensor empty(const Shape& sizes, TensorOptions options = {});
Tensor zeros(const Shape& sizes, TensorOptions options = {});
Tensor ones(const Shape& sizes, TensorOptions options = {});
/// Every element `value`; the dtype is options.dtype.
Tensor full(const Shape& sizes, Scalar value, TensorOptions options = {});
/// A 0-dim tensor holding `value`, with the dtype PyTorch infers for it
/// (bool, int64, float32 or complex64) unless `dtype` is given.
Tensor scalar_tensor(Scalar value, std::optional<DType> dtype = std::nullopt);
/// A 1-dim tensor from values, e.g. `wick::tensor({1.f, 2.f})`.
template <class T>
Tensor tensor(const std::vector<T>& values, const Shape& sizes = {});
/// [start, end) in steps of `step`. The dtype defaults to int64 when all three
/// are integers and float32 otherwise, as in PyTorch.
Tensor arange(Scalar start, Scalar end, Scalar step = 1, std::optional<DType> dtype = std::nullopt);
Tensor arange(Scalar end, std::optional<DType> dtype = std::nullopt);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);

}  // namespace wick
