// embedding: row lookup (kernels/index) and its backward rule, a scatter-add
// into the table's rows.
#include "wick/nn/functional/embedding.h"

#include "kernels/index.h"
#include "nn/functional/internal.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  const char* op = "embedding";
  check_defined(indices, op, "indices");
  check_defined(weight, op, "weight");
  check_float(weight, op);
  WICK_CHECK_AS(DTypeError, indices.dtype() == DType::Int64 || indices.dtype() == DType::Int32, op,
                ": expected indices of dtype int64 (or int32) but got ", indices.dtype());
  WICK_CHECK_AS(ShapeError, weight.dim() == 2, op,
                ": expected weight of 2 dims [num_embeddings, embedding_dim] but got sizes ",
                weight.sizes());
  const int64_t num = weight.size(0), dim = weight.size(1);
  int64_t pad = -1;  // no row is skipped
  if (padding_idx) {
    WICK_CHECK(*padding_idx >= -num && *padding_idx < num, op, ": padding_idx ", *padding_idx,
               " is out of range for weight with ", num, " rows");
    pad = *padding_idx < 0 ? *padding_idx + num : *padding_idx;
  }
  Tensor idx =
      kernels::contiguous(indices.dtype() == DType::Int64 ? indices : indices.to(DType::Int64));
  const int64_t* pi = idx.data<int64_t>();
  const int64_t n = idx.numel();
  for (int64_t i = 0; i < n; ++i)
    WICK_CHECK_AS(IndexError, pi[i] >= 0 && pi[i] < num, op, ": index ", pi[i],
                  " is out of range for weight of sizes ", weight.sizes(),
                  " (num_embeddings = ", num, ")");
  Shape out_sizes = indices.sizes();
  out_sizes.push_back(dim);
  Tensor w = kernels::contiguous(weight);
  Tensor out = make_empty(out_sizes, weight.dtype(), op);
  visit_float(weight.dtype(),
              [&]<class T>() { kernels::gather_rows<T>(w.data<T>(), dim, pi, n, out.data<T>()); });
  if (autograd::needs_grad(weight)) {
    autograd::record(
        out, "EmbeddingBackward0", {weight},
        [idx, n, pad, w_sizes = weight.sizes(), dtype = weight.dtype()](const Tensor& grad) {
          Tensor g = grad_as(grad, dtype);
          Tensor gw = zeros(w_sizes, {.dtype = dtype});
          visit_float(dtype, [&]<class T>() {
            kernels::scatter_add_rows<T>(g.data<T>(), w_sizes[1], idx.data<int64_t>(), n, pad,
                                         gw.data<T>());
          });
          return std::vector<Tensor>{gw};
        });
  }
  return out;
}

}  // namespace wick::nn::functional
