// MultiheadAttention: the packed input projection, the heads as a dim of
// their own ([N, H, L, head_dim]) and PyTorch's mask conventions.
#include "wick/nn/attention.h"

#include <cmath>
#include <limits>

#include "wick/nn/functional.h"
#include "wick/nn/init.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

namespace wick::nn {

namespace F = functional;

namespace {

/// A mask as scores to add: bool true (not allowed) becomes -inf, false 0;
/// a float mask is used as it is.
Tensor additive(const Tensor& mask, DType dtype, const char* what) {
  if (mask.dtype() != DType::Bool) {
    WICK_CHECK_AS(DTypeError, mask.dtype() == dtype, "MultiheadAttention: expected ", what,
                  " to be bool or ", dtype, ", got ", mask.dtype());
    return mask;
  }
  Tensor minus_inf = full({}, -std::numeric_limits<double>::infinity(), {.dtype = dtype});
  return where(mask, minus_inf, full({}, 0, {.dtype = dtype}));
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t embed_dim_, int64_t num_heads_,
                                       MultiheadAttentionOptions options)
    : embed_dim(embed_dim_),
      num_heads(num_heads_),
      dropout(options.dropout),
      batch_first(options.batch_first),
      in_proj_weight(register_parameter("in_proj_weight", empty({3 * embed_dim_, embed_dim_}))),
      in_proj_bias(
          register_parameter("in_proj_bias", options.bias ? empty({3 * embed_dim_}) : Tensor())),
      out_proj(register_module("out_proj", NonDynamicallyQuantizableLinear(
                                               embed_dim_, embed_dim_, {.bias = options.bias}))) {
  WICK_CHECK(num_heads > 0 && embed_dim > 0 && embed_dim % num_heads == 0,
             "MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim=",
             embed_dim, ", num_heads=", num_heads);
  init::xavier_uniform_(in_proj_weight);
  if (options.bias) {
    in_proj_bias.detach().zero_();
    out_proj.bias.detach().zero_();
  }
}

std::pair<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                                      const Tensor& value,
                                                      const Tensor& key_padding_mask,
                                                      bool need_weights, const Tensor& attn_mask,
                                                      bool average_attn_weights) {
  const bool batched = query.dim() == 3;
  WICK_CHECK_AS(ShapeError,
                (query.dim() == 3 || query.dim() == 2) && key.dim() == query.dim() &&
                    value.dim() == query.dim(),
                "MultiheadAttention: expected query, key and value all 3-dim (batched) or all "
                "2-dim (unbatched), got sizes ",
                query.sizes(), ", ", key.sizes(), " and ", value.sizes());
  // Work batch first: [N, L, E].
  auto batch_first_view = [&](const Tensor& t) {
    if (!batched) return t.unsqueeze(0);
    return batch_first ? t : t.transpose(0, 1);
  };
  Tensor q = batch_first_view(query), k = batch_first_view(key), v = batch_first_view(value);
  const int64_t n = q.size(0), l = q.size(1), s = k.size(1), e = embed_dim;
  const int64_t head_dim = e / num_heads;
  WICK_CHECK_AS(ShapeError,
                q.size(2) == e && k.size(2) == e && v.size(2) == e && v.size(1) == s &&
                    k.size(0) == n && v.size(0) == n,
                "MultiheadAttention: query ", query.sizes(), ", key ", key.sizes(), " and value ",
                value.sizes(), " do not fit embed_dim ", e);
  // The packed projection: rows [0, E) for q, [E, 2E) for k, [2E, 3E) for v.
  auto project = [&](const Tensor& x, int64_t part, int64_t len) {
    Tensor w = in_proj_weight.narrow(0, part * e, e);
    Tensor b = in_proj_bias.defined() ? in_proj_bias.narrow(0, part * e, e) : Tensor();
    return F::linear(x, w, b).view({n, len, num_heads, head_dim}).transpose(1, 2);
  };
  Tensor qh = project(q, 0, l), kh = project(k, 1, s), vh = project(v, 2, s);  // [N, H, *, hd]

  Tensor scores = matmul(qh / std::sqrt(double(head_dim)), kh.transpose(-2, -1));  // [N, H, L, S]
  if (attn_mask.defined()) {
    Tensor m = additive(attn_mask, scores.dtype(), "attn_mask");
    if (m.dim() == 3) m = m.reshape({n, num_heads, l, s});
    scores = scores + m;
  }
  if (key_padding_mask.defined()) {
    Tensor m = additive(key_padding_mask, scores.dtype(), "key_padding_mask");
    scores = scores + m.reshape({n, 1, 1, s});
  }
  Tensor weights = F::softmax(scores, -1);
  Tensor dropped = is_training() && dropout > 0 ? F::dropout(weights, dropout, true) : weights;
  Tensor out = matmul(dropped, vh).transpose(1, 2).reshape({n, l, e});
  out = out_proj(out);
  if (!batched)
    out = out.squeeze(0);
  else if (!batch_first)
    out = out.transpose(0, 1);
  if (!need_weights) return {out, Tensor()};
  if (average_attn_weights) weights = weights.mean({1});
  if (!batched) weights = weights.squeeze(0);
  return {out, weights};
}

}  // namespace wick::nn
