// scaled_dot_product_attention composed from matmul, softmax and dropout, so
// that its gradient is theirs.
#include "wick/nn/functional/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "nn/functional/internal.h"
#include "wick/nn/functional/activation.h"
#include "wick/nn/functional/dropout.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"

namespace wick::nn::functional {

using namespace wick::detail;  // the shared checks of internal.h and ops/internal.h

namespace {

/// The [l, s] bool mask of positions s <= l.
Tensor causal_mask(int64_t l, int64_t s) {
  std::vector<bool> keep;
  keep.reserve(size_t(l * s));
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < s; ++j) keep.push_back(j <= i);
  return tensor<bool>(keep, {l, s});
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, Generator* gen) {
  const char* op = "scaled_dot_product_attention";
  check_input(query, op);
  check_input(key, op);
  check_input(value, op);
  WICK_CHECK_AS(ShapeError, query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, op,
                ": expected query, key and value with at least 2 dims, got sizes ", query.sizes(),
                ", ", key.sizes(), " and ", value.sizes());
  WICK_CHECK_AS(ShapeError, query.size(-1) == key.size(-1) && key.size(-2) == value.size(-2), op,
                ": query ", query.sizes(), ", key ", key.sizes(), " and value ", value.sizes(),
                " do not fit: expected query [..., L, E], key [..., S, E], value [..., S, Ev]");
  WICK_CHECK(dropout_p >= 0 && dropout_p <= 1, op, ": dropout_p must be in [0, 1], got ",
             dropout_p);
  WICK_CHECK(!(is_causal && attn_mask.defined()), op,
             ": attn_mask and is_causal cannot both be given");
  const double s = scale.value_or(1 / std::sqrt(double(query.size(-1))));
  Tensor scores = matmul(query, key.transpose(-2, -1)) * s;
  Tensor mask = is_causal ? causal_mask(query.size(-2), key.size(-2)) : attn_mask;
  if (mask.defined()) {
    if (mask.dtype() == DType::Bool) {
      Tensor minus_inf =
          full({}, -std::numeric_limits<double>::infinity(), {.dtype = scores.dtype()});
      scores = where(mask, scores, minus_inf);
    } else {
      WICK_CHECK_AS(DTypeError, mask.dtype() == scores.dtype(), op,
                    ": expected a bool attn_mask or one of the query's dtype ", scores.dtype(),
                    ", got ", mask.dtype());
      scores = scores + mask;
    }
  }
  Tensor weights = softmax(scores, -1);
  if (dropout_p > 0) weights = dropout(weights, dropout_p, true, gen);
  return matmul(weights, value);
}

}  // namespace wick::nn::functional
