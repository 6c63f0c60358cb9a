// Tensor's view members as differentiable operations: argument checks, the
// new layout over the same storage (core/layout.h does the arithmetic) and
// each view's backward rule.
#include <algorithm>
#include <numeric>

#include "core/layout.h"
#include "kernels/copy.h"
#include "wick/autograd/graph.h"
#include "wick/ops/elementwise.h"

namespace wick {

using autograd::record;
using detail::make_view;
using detail::wrap_dim;

namespace {

/// Resolves one -1 in `sizes` so the product equals numel.
Shape infer_size(const Shape& sizes, int64_t numel, const char* op) {
  Shape out = sizes;
  int64_t known = 1;
  int64_t infer = -1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == -1) {
      WICK_CHECK_AS(ShapeError, infer < 0, op, ": only one dimension can be inferred (sizes ",
                    sizes, ")");
      infer = int64_t(d);
    } else {
      WICK_CHECK_AS(ShapeError, sizes[d] >= 0, op, ": invalid size ", sizes[d], " in ", sizes);
      WICK_CHECK_AS(ShapeError, !__builtin_mul_overflow(known, sizes[d], &known), op, ": sizes ",
                    sizes, " overflow the element count");
    }
  }
  if (infer >= 0) {
    WICK_CHECK_AS(ShapeError, known != 0 && numel % known == 0, op, ": shape ", sizes,
                  " is invalid for input of size ", numel);
    out[size_t(infer)] = numel / known;
  } else {
    WICK_CHECK_AS(ShapeError, known == numel, op, ": shape ", sizes,
                  " is invalid for input of size ", numel);
  }
  return out;
}

/// Strides that express `new_sizes` over the layout (sizes, strides) without
/// copying, or nullopt if none do. Dims that are contiguous with each other
/// form chunks; each chunk must be split into whole new dims.
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides,
                                  const Shape& new_sizes) {
  Shape out(new_sizes.size());
  if (sizes.empty()) return detail::contiguous_strides(new_sizes);
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  if (numel == 0) return detail::contiguous_strides(new_sizes);
  int64_t view_d = int64_t(new_sizes.size()) - 1;
  int64_t chunk_base = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[size_t(d)];
    bool chunk_ends = d == 0 || (sizes[size_t(d - 1)] != 1 &&
                                 strides[size_t(d - 1)] != tensor_numel * chunk_base);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[size_t(view_d)] == 1)) {
      out[size_t(view_d)] = view_numel * chunk_base;
      view_numel *= new_sizes[size_t(view_d)];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_base = strides[size_t(d - 1)];
      tensor_numel = view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

/// A view of the whole tensor as it is (t() of a 1-D tensor, for example).
Tensor make_view_alias(const Tensor& in, const char* name) {
  Tensor out = make_view(in, in.sizes(), in.strides(), in.storage_offset());
  record(out, name, {in}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

/// Backward of every reshaping view: reshape the gradient back.
void record_reshape(const Tensor& out, const char* name, const Tensor& in) {
  record(out, name, {in},
         [sizes = in.sizes()](const Tensor& g) { return std::vector<Tensor>{g.reshape(sizes)}; });
}

}  // namespace

Tensor Tensor::view(const Shape& sizes) const {
  Shape s = infer_size(sizes, numel(), "view");
  auto st = view_strides(this->sizes(), strides(), s);
  WICK_CHECK_AS(ShapeError, st.has_value(), "view: size ", sizes,
                " is not compatible with input "
                "sizes ",
                this->sizes(), " and strides ", strides(),
                " (at least one dimension spans across two contiguous subspaces); use "
                ".reshape(...) instead");
  Tensor out = make_view(*this, s, *st, storage_offset());
  record_reshape(out, "ViewBackward0", *this);
  return out;
}

Tensor Tensor::reshape(const Shape& sizes) const {
  Shape s = infer_size(sizes, numel(), "reshape");
  if (auto st = view_strides(this->sizes(), strides(), s)) {
    Tensor out = make_view(*this, s, *st, storage_offset());
    record_reshape(out, "ViewBackward0", *this);
    return out;
  }
  Tensor c = kernels::contiguous(*this);
  Tensor out = make_view(c, s, detail::contiguous_strides(s), c.storage_offset());
  record_reshape(out, "ReshapeAliasBackward0", *this);
  return out;
}

Tensor Tensor::permute(const Shape& dims) const {
  WICK_CHECK_AS(ShapeError, int64_t(dims.size()) == dim(), "permute: number of dims ", dims,
                " don't match the tensor's ", dim(), " dims");
  Shape sz(dims.size()), st(dims.size()), inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    WICK_CHECK_AS(ShapeError, inverse[size_t(d)] < 0, "permute: repeated dim in ", dims);
    inverse[size_t(d)] = int64_t(i);
    sz[i] = sizes()[size_t(d)];
    st[i] = strides()[size_t(d)];
  }
  Tensor out = make_view(*this, sz, st, storage_offset());
  record(out, "PermuteBackward0", {*this},
         [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
  return out;
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  int64_t a = wrap_dim(dim0, dim(), "transpose"), b = wrap_dim(dim1, dim(), "transpose");
  Shape sz = sizes(), st = strides();
  if (dim() > 0) {
    std::swap(sz[size_t(a)], sz[size_t(b)]);
    std::swap(st[size_t(a)], st[size_t(b)]);
  }
  Tensor out = make_view(*this, sz, st, storage_offset());
  record(out, "TransposeBackward0", {*this},
         [a, b](const Tensor& g) { return std::vector<Tensor>{g.transpose(a, b)}; });
  return out;
}

Tensor Tensor::t() const {
  WICK_CHECK_AS(ShapeError, dim() <= 2, "t: expects a tensor with <= 2 dimensions, but self is ",
                dim(), "D (sizes ", sizes(), ")");
  if (dim() < 2) return make_view_alias(*this, "TBackward0");
  Tensor out =
      make_view(*this, {sizes()[1], sizes()[0]}, {strides()[1], strides()[0]}, storage_offset());
  record(out, "TBackward0", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g.t()}; });
  return out;
}

Tensor Tensor::slice(int64_t dim_, int64_t start, int64_t end, int64_t step) const {
  WICK_CHECK_AS(ShapeError, dim() > 0, "slice: cannot slice a 0-dim tensor");
  int64_t d = wrap_dim(dim_, dim(), "slice");
  WICK_CHECK(step > 0, "slice: step must be positive (got ", step, ")");
  int64_t n = sizes()[size_t(d)];
  auto clamp = [n](int64_t i) {
    if (i < 0) i += n;
    return std::clamp<int64_t>(i, 0, n);
  };
  start = clamp(start);
  end = std::max(clamp(end), start);
  Shape sz = sizes(), st = strides();
  sz[size_t(d)] = (end - start + step - 1) / step;
  st[size_t(d)] *= step;
  Tensor out = make_view(*this, sz, st, storage_offset() + start * strides()[size_t(d)]);
  record(out, "SliceBackward0", {*this}, [in = sizes(), d, start, end, step](const Tensor& g) {
    Tensor gi = zeros(in, {.dtype = g.dtype()});
    gi.slice(d, start, end, step).copy_(g);
    return std::vector<Tensor>{gi};
  });
  return out;
}

Tensor Tensor::narrow(int64_t dim_, int64_t start, int64_t length) const {
  WICK_CHECK_AS(ShapeError, dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  int64_t d = wrap_dim(dim_, dim(), "narrow");
  int64_t n = sizes()[size_t(d)];
  if (start < 0) start += n;
  WICK_CHECK_AS(IndexError, start >= 0 && length >= 0 && start <= n && length <= n - start,
                "narrow: start ", start, " and length ", length, " exceed dimension ", d,
                " of size ", n);
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(int64_t dim_, int64_t index) const {
  WICK_CHECK_AS(IndexError, dim() > 0, "select: cannot select on a 0-dim tensor");
  int64_t d = wrap_dim(dim_, dim(), "select");
  int64_t n = sizes()[size_t(d)];
  WICK_CHECK_AS(IndexError, index >= -n && index < n, "select: index ", index,
                " is out of bounds for dimension ", d, " with size ", n);
  if (index < 0) index += n;
  Shape sz = sizes(), st = strides();
  int64_t off = storage_offset() + index * st[size_t(d)];
  sz.erase(sz.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, sz, st, off);
  record(out, "SelectBackward0", {*this}, [in = sizes(), d, index](const Tensor& g) {
    Tensor gi = zeros(in, {.dtype = g.dtype()});
    gi.select(d, index).copy_(g);
    return std::vector<Tensor>{gi};
  });
  return out;
}

Tensor Tensor::expand(const Shape& sizes_) const {
  WICK_CHECK_AS(ShapeError, int64_t(sizes_.size()) >= dim(),
                "expand: the number of sizes provided (", sizes_.size(),
                ") must be greater or equal to the number of dimensions in the tensor (", dim(),
                ")");
  size_t lead = sizes_.size() - size_t(dim());
  Shape sz(sizes_.size()), st(sizes_.size());
  for (size_t i = 0; i < sizes_.size(); ++i) {
    if (i < lead) {
      WICK_CHECK_AS(ShapeError, sizes_[i] >= 0, "expand: the expanded size ", sizes_[i],
                    " is not allowed in a leading, non-existing dimension");
      sz[i] = sizes_[i];
      st[i] = 0;
      continue;
    }
    int64_t have = sizes()[i - lead];
    int64_t want = sizes_[i] == -1 ? have : sizes_[i];
    WICK_CHECK_AS(ShapeError, want == have || have == 1,
                  "expand: the expanded size of the tensor (", want,
                  ") must match the existing size (", have, ") at non-singleton dimension ", i,
                  " (target sizes ", sizes_, ", tensor sizes ", sizes(), ")");
    sz[i] = want;
    st[i] = want == have ? strides()[i - lead] : 0;
  }
  detail::checked_numel(sz, "expand");
  Tensor out = make_view(*this, sz, st, storage_offset());
  record(out, "ExpandBackward0", {*this},
         [in = sizes()](const Tensor& g) { return std::vector<Tensor>{autograd::sum_to(g, in)}; });
  return out;
}

Tensor Tensor::squeeze() const {
  Shape sz;
  for (int64_t s : sizes())
    if (s != 1) sz.push_back(s);
  return reshape(sz);  // always a view: only size-1 dims go
}

Tensor Tensor::squeeze(int64_t dim_) const {
  if (dim() == 0) return reshape({});
  int64_t d = wrap_dim(dim_, dim(), "squeeze");
  if (sizes()[size_t(d)] != 1) return view(sizes());
  Shape sz = sizes();
  sz.erase(sz.begin() + d);
  return view(sz);
}

Tensor Tensor::unsqueeze(int64_t dim_) const {
  int64_t d = wrap_dim(dim_, dim() + 1, "unsqueeze");
  Shape sz = sizes(), st = strides();
  int64_t new_stride = d < dim() ? sizes()[size_t(d)] * strides()[size_t(d)] : 1;
  sz.insert(sz.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  Tensor out = make_view(*this, sz, st, storage_offset());
  record_reshape(out, "UnsqueezeBackward0", *this);
  return out;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t a = wrap_dim(start_dim, dim(), "flatten"), b = wrap_dim(end_dim, dim(), "flatten");
  WICK_CHECK(a <= b, "flatten: start_dim ", start_dim, " cannot come after end_dim ", end_dim);
  Shape sz(sizes().begin(), sizes().begin() + a);
  int64_t n = 1;
  for (int64_t d = a; d <= b; ++d) n *= sizes()[size_t(d)];
  sz.push_back(n);
  sz.insert(sz.end(), sizes().begin() + b + 1, sizes().end());
  return reshape(sz);
}

Tensor Tensor::as_strided(const Shape& sizes_, const Shape& strides_,
                          std::optional<int64_t> storage_offset_) const {
  WICK_CHECK(!autograd::needs_grad(*this),
             "as_strided: not differentiable in wick; detach() first");
  try {
    return make_view(*this, sizes_, strides_, storage_offset_.value_or(storage_offset()));
  } catch (const ShapeError& e) {
    throw ShapeError(detail::concat("as_strided: ", e.what()));
  } catch (const IndexError& e) {
    throw IndexError(detail::concat("as_strided: ", e.what()));
  }
}

}  // namespace wick
