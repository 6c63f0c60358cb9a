// wick against Debian's PyTorch 1.13, op by op.
//
// tests/interop/gen_op_cases.py runs the real PyTorch and writes cases.json +
// cases.bin into $WICK_INTEROP_DIR (CTest runs it as a fixture first). Each
// case becomes one gtest test, <Family>/OpsVsTorch.Matches/<case name>, which
//   1. rebuilds every input with PyTorch's exact layout: a copy of the input's
//      whole storage, viewed with as_strided (sizes, strides, storage offset),
//      so transposed, stepped, offset and expanded inputs reach wick as such;
//   2. runs the wick op named in the case with the case's parameters;
//   3. compares each output with PyTorch's; for view ops also the strides
//      (of dims with size > 1: PyTorch's strides of size-1 dims are arbitrary),
//      the storage offset and whether the result shares the input's storage;
//   4. runs backward with PyTorch's saved random upstream gradient and
//      compares the gradient of every input.
//
// Tolerance ("tol" cases): an element passes when
//     |got - expected| <= rtol * max(|expected|, scale)
// with rtol = 1e-5 for float32 (float64: 1e-10).
// `scale` comes from the generator: 1 for elementwise ops, which makes the
// test relative above 1 and absolute (1e-5) below; for ops that add up many
// terms it is the magnitude of those terms (the same op on |inputs| in
// float64, and the tensor's largest |element|), because the rounding error of
// a sum depends on the order of additions and is bounded by eps * sum|terms|,
// not by the size of the result. NaN must match NaN and infinities must match
// exactly. "exact" cases (views, copies, dtype conversions, and every integer
// or bool result) compare bits, except that any NaN matches any NaN: PyTorch
// itself produces different NaN payloads on its scalar and vector paths
// (float -> bfloat16 gives 0xffff vectorised, 0x7fc0 otherwise).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "wick/wick.h"

using json = nlohmann::json;
using namespace wick;
namespace F = wick::nn::functional;

namespace {

// ---- the manifest -----------------------------------------------------------

struct Case {
  std::string name, family, op, test_name;
  json spec;
};

struct Manifest {
  std::string error;  // why loading failed; empty when it worked
  std::string dir;
  std::vector<char> blob;
  std::vector<Case> cases;
};

std::string case_dir() {
  const char* d = std::getenv("WICK_INTEROP_DIR");
  return d && *d ? d : WICK_INTEROP_DEFAULT_DIR;
}

/// gtest names allow only letters, digits and underscores.
std::string test_name(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

Manifest load() {
  Manifest m;
  m.dir = case_dir();
  try {
    std::ifstream jf(m.dir + "/cases.json");
    if (!jf) throw std::runtime_error("cannot open " + m.dir + "/cases.json");
    json j = json::parse(jf);
    std::ifstream bf(m.dir + "/" + j.at("blob").get<std::string>(), std::ios::binary);
    if (!bf) throw std::runtime_error("cannot open the blob next to cases.json");
    m.blob.assign(std::istreambuf_iterator<char>(bf), std::istreambuf_iterator<char>());
    if (int64_t(m.blob.size()) != j.at("blob_bytes").get<int64_t>())
      throw std::runtime_error("blob has " + std::to_string(m.blob.size()) +
                               " bytes, manifest says " + j.at("blob_bytes").dump());
    std::set<std::string> names;
    for (auto& c : j.at("cases")) {
      Case k{c.at("name"), c.at("family"), c.at("op"), test_name(c.at("name")), c};
      if (!names.insert(k.test_name).second) throw std::runtime_error("duplicate case " + k.name);
      m.cases.push_back(std::move(k));
    }
  } catch (const std::exception& e) {
    m.error = e.what();
    m.error += " (run tests/interop/gen_op_cases.py OUT_DIR and set WICK_INTEROP_DIR=OUT_DIR)";
  }
  return m;
}

const Manifest& manifest() {
  static const Manifest m = load();
  return m;
}

// ---- tensors from the blob --------------------------------------------------

Shape shape_of(const json& v) {
  return Shape(v.get<std::vector<int64_t>>());
}

/// A tensor described by `ref`: a copy of its whole storage, viewed with its
/// sizes, strides and offset.
Tensor tensor_of(const json& ref) {
  const auto& blob = manifest().blob;
  DType dt = dtype_from_name(ref.at("dtype").get<std::string>());
  int64_t n = ref.at("storage_numel"), at = ref.at("byte_offset");
  int64_t bytes = n * element_size(dt);
  WICK_CHECK(at >= 0 && bytes >= 0 && at + bytes <= int64_t(blob.size()), "tensor at byte ", at,
             " of ", bytes, " bytes lies outside the blob");
  Tensor storage = empty({n}, {.dtype = dt});
  if (bytes) std::memcpy(storage.data_ptr(), blob.data() + at, size_t(bytes));
  Tensor t = storage.as_strided(shape_of(ref.at("sizes")), shape_of(ref.at("strides")),
                                ref.at("offset").get<int64_t>());
  if (ref.value("requires_grad", false)) t.requires_grad_();
  return t;
}

/// The whole storage under t as a 1-D tensor (in-place ops are checked there).
Tensor storage_of(const Tensor& t) {
  int64_t n = int64_t(t.storage()->nbytes()) / t.element_size();
  return t.detach().as_strided({n}, {1}, 0);
}

// ---- parameters -------------------------------------------------------------

Scalar scalar_of(const json& v) {
  if (v.is_boolean()) return Scalar(v.get<bool>());
  if (v.is_number_integer()) return Scalar(v.get<int64_t>());
  return Scalar(v.get<double>());
}

Scalar param(const json& p, const char* key, Scalar fallback) {
  return p.contains(key) ? scalar_of(p[key]) : fallback;
}

F::Pair pair_of(const json& v) {
  if (v.is_array()) return F::Pair(v.at(0).get<int64_t>(), v.at(1).get<int64_t>());
  return F::Pair(v.get<int64_t>());
}

std::optional<F::Pair> opt_pair(const json& p, const char* key) {
  if (!p.contains(key) || p[key].is_null()) return std::nullopt;
  return pair_of(p[key]);
}

F::Reduction reduction_of(const json& v) {
  std::string r = v;
  if (r == "none") return F::Reduction::None;
  if (r == "sum") return F::Reduction::Sum;
  return F::Reduction::Mean;
}

// ---- the ops, as wick computes them -------------------------------------------
// Mirrors TORCH_OPS in gen_op_cases.py: same names, same parameters, output 0
// is the one differentiated.

using Ins = std::vector<Tensor>;
using Outs = std::vector<Tensor>;
using OpFn = std::function<Outs(const Ins&, const json&)>;

const std::map<std::string, OpFn>& ops() {
  static const std::map<std::string, OpFn> table = [] {
    std::map<std::string, OpFn> t;
    // math.h: binary
    t["add"] = [](const Ins& x, const json& p) {
      return Outs{add(x[0], x[1], param(p, "alpha", 1))};
    };
    t["sub"] = [](const Ins& x, const json& p) {
      return Outs{sub(x[0], x[1], param(p, "alpha", 1))};
    };
    t["mul"] = [](const Ins& x, const json&) { return Outs{mul(x[0], x[1])}; };
    t["div"] = [](const Ins& x, const json&) { return Outs{div(x[0], x[1])}; };
    t["pow"] = [](const Ins& x, const json&) { return Outs{pow(x[0], x[1])}; };
    t["pow_scalar"] = [](const Ins& x, const json& p) {
      return Outs{pow(x[0], scalar_of(p.at("exponent")))};
    };
    t["maximum"] = [](const Ins& x, const json&) { return Outs{maximum(x[0], x[1])}; };
    t["minimum"] = [](const Ins& x, const json&) { return Outs{minimum(x[0], x[1])}; };
    t["op_add"] = [](const Ins& x, const json&) { return Outs{x[0] + x[1]}; };
    t["op_sub"] = [](const Ins& x, const json&) { return Outs{x[0] - x[1]}; };
    t["op_mul"] = [](const Ins& x, const json&) { return Outs{x[0] * x[1]}; };
    t["op_div"] = [](const Ins& x, const json&) { return Outs{x[0] / x[1]}; };
    t["add_ts"] = [](const Ins& x, const json& p) { return Outs{x[0] + scalar_of(p.at("s"))}; };
    t["sub_ts"] = [](const Ins& x, const json& p) { return Outs{x[0] - scalar_of(p.at("s"))}; };
    t["mul_ts"] = [](const Ins& x, const json& p) { return Outs{x[0] * scalar_of(p.at("s"))}; };
    t["div_ts"] = [](const Ins& x, const json& p) { return Outs{x[0] / scalar_of(p.at("s"))}; };
    t["add_st"] = [](const Ins& x, const json& p) { return Outs{scalar_of(p.at("s")) + x[0]}; };
    t["sub_st"] = [](const Ins& x, const json& p) { return Outs{scalar_of(p.at("s")) - x[0]}; };
    t["mul_st"] = [](const Ins& x, const json& p) { return Outs{scalar_of(p.at("s")) * x[0]}; };
    t["div_st"] = [](const Ins& x, const json& p) { return Outs{scalar_of(p.at("s")) / x[0]}; };
    t["op_neg"] = [](const Ins& x, const json&) { return Outs{-x[0]}; };
    // comparisons
    using Cmp = Tensor (*)(const Tensor&, const Tensor&);
    using CmpS = Tensor (*)(const Tensor&, Scalar);
    const std::pair<const char*, std::pair<Cmp, CmpS>> cmps[] = {
        {"eq", {eq, eq}}, {"ne", {ne, ne}}, {"lt", {lt, lt}},
        {"le", {le, le}}, {"gt", {gt, gt}}, {"ge", {ge, ge}}};
    for (const auto& [name, fns] : cmps) {
      Cmp f = fns.first;
      CmpS fs = fns.second;
      t[name] = [f](const Ins& x, const json&) { return Outs{f(x[0], x[1])}; };
      t[std::string(name) + "_s"] = [fs](const Ins& x, const json& p) {
        return Outs{fs(x[0], scalar_of(p.at("s")))};
      };
    }
    t["equal"] = [](const Ins& x, const json&) { return Outs{scalar_tensor(equal(x[0], x[1]))}; };
    t["allclose"] = [](const Ins& x, const json& p) {
      return Outs{scalar_tensor(allclose(x[0], x[1], p.at("rtol"), p.at("atol")))};
    };
    // unary
    using Un = Tensor (*)(const Tensor&);
    const std::pair<const char*, Un> unary[] = {
        {"neg", wick::neg}, {"abs", wick::abs},   {"relu", wick::relu},       {"exp", wick::exp},
        {"log", wick::log}, {"tanh", wick::tanh}, {"sigmoid", wick::sigmoid}, {"sqrt", wick::sqrt}};
    for (const auto& [name, f] : unary)
      t[name] = [f](const Ins& x, const json&) { return Outs{f(x[0])}; };
    t["where"] = [](const Ins& x, const json&) { return Outs{where(x[0], x[1], x[2])}; };
    // reductions and products
    t["sum"] = [](const Ins& x, const json& p) {
      return Outs{p.contains("dims") ? sum(x[0], shape_of(p["dims"]), p.at("keepdim")) : sum(x[0])};
    };
    t["mean"] = [](const Ins& x, const json& p) {
      return Outs{p.contains("dims") ? mean(x[0], shape_of(p["dims"]), p.at("keepdim"))
                                     : mean(x[0])};
    };
    t["max"] = [](const Ins& x, const json&) { return Outs{max(x[0])}; };
    t["max_dim"] = [](const Ins& x, const json& p) {
      auto r = max(x[0], p.at("dim").get<int64_t>(), p.at("keepdim").get<bool>());
      return Outs{r.values, r.indices};
    };
    t["argmax"] = [](const Ins& x, const json& p) {
      return Outs{p.contains("dim") ? argmax(x[0], p["dim"].get<int64_t>(), p.at("keepdim"))
                                    : argmax(x[0])};
    };
    t["matmul"] = [](const Ins& x, const json&) { return Outs{matmul(x[0], x[1])}; };
    t["addmm"] = [](const Ins& x, const json& p) {
      return Outs{addmm(x[0], x[1], x[2], scalar_of(p.at("beta")), scalar_of(p.at("alpha")))};
    };
    // Tensor members
    t["Tensor.sum"] = [](const Ins& x, const json& p) {
      return Outs{p.contains("dims") ? x[0].sum(shape_of(p["dims"]), p.at("keepdim")) : x[0].sum()};
    };
    t["Tensor.mean"] = [](const Ins& x, const json& p) {
      return Outs{p.contains("dims") ? x[0].mean(shape_of(p["dims"]), p.at("keepdim"))
                                     : x[0].mean()};
    };
    t["Tensor.max"] = [](const Ins& x, const json&) { return Outs{x[0].max()}; };
    t["Tensor.argmax"] = [](const Ins& x, const json& p) {
      return Outs{p.contains("dim") ? x[0].argmax(p["dim"].get<int64_t>(), p.at("keepdim"))
                                    : x[0].argmax()};
    };
    using Member = Tensor (Tensor::*)() const;
    const std::pair<const char*, Member> members[] = {
        {"Tensor.relu", &Tensor::relu},       {"Tensor.exp", &Tensor::exp},
        {"Tensor.log", &Tensor::log},         {"Tensor.tanh", &Tensor::tanh},
        {"Tensor.sigmoid", &Tensor::sigmoid}, {"Tensor.sqrt", &Tensor::sqrt},
        {"Tensor.neg", &Tensor::neg},         {"Tensor.abs", &Tensor::abs}};
    for (const auto& [name, f] : members)
      t[name] = [f](const Ins& x, const json&) { return Outs{(x[0].*f)()}; };
    t["Tensor.pow_scalar"] = [](const Ins& x, const json& p) {
      return Outs{x[0].pow(scalar_of(p.at("exponent")))};
    };
    t["Tensor.matmul"] = [](const Ins& x, const json&) { return Outs{x[0].matmul(x[1])}; };
    // in-place arithmetic: self, then its whole storage
    auto inplace = [](auto f) {
      return [f](const Ins& x, const json& p) {
        f(x, p);
        return Outs{x[0], storage_of(x[0])};
      };
    };
    t["add_"] = inplace([](const Ins& x, const json& p) { x[0].add_(x[1], param(p, "alpha", 1)); });
    t["sub_"] = inplace([](const Ins& x, const json& p) { x[0].sub_(x[1], param(p, "alpha", 1)); });
    t["mul_"] = inplace([](const Ins& x, const json&) { x[0].mul_(x[1]); });
    t["div_"] = inplace([](const Ins& x, const json&) { x[0].div_(x[1]); });
    t["addcmul_"] = inplace(
        [](const Ins& x, const json& p) { x[0].addcmul_(x[1], x[2], param(p, "value", 1)); });
    t["addcdiv_"] = inplace(
        [](const Ins& x, const json& p) { x[0].addcdiv_(x[1], x[2], param(p, "value", 1)); });
    t["add_s_"] = inplace([](const Ins& x, const json& p) { x[0].add_(scalar_of(p.at("s"))); });
    t["mul_s_"] = inplace([](const Ins& x, const json& p) { x[0].mul_(scalar_of(p.at("s"))); });
    t["div_s_"] = inplace([](const Ins& x, const json& p) { x[0].div_(scalar_of(p.at("s"))); });
    // functional.h
    t["conv2d"] = [](const Ins& x, const json& p) {
      return Outs{F::conv2d(x[0], x[1], x[2], pair_of(p.at("stride")), pair_of(p.at("padding")),
                            pair_of(p.at("dilation")), p.at("groups").get<int64_t>())};
    };
    t["linear"] = [](const Ins& x, const json&) { return Outs{F::linear(x[0], x[1], x[2])}; };
    t["max_pool2d"] = [](const Ins& x, const json& p) {
      return Outs{F::max_pool2d(x[0], pair_of(p.at("kernel_size")), opt_pair(p, "stride"),
                                pair_of(p.at("padding")), pair_of(p.at("dilation")),
                                p.at("ceil_mode").get<bool>())};
    };
    t["avg_pool2d"] = [](const Ins& x, const json& p) {
      std::optional<int64_t> divisor;
      if (p.contains("divisor_override")) divisor = p["divisor_override"].get<int64_t>();
      return Outs{F::avg_pool2d(x[0], pair_of(p.at("kernel_size")), opt_pair(p, "stride"),
                                pair_of(p.at("padding")), p.at("ceil_mode").get<bool>(),
                                p.at("count_include_pad").get<bool>(), divisor)};
    };
    t["adaptive_avg_pool2d"] = [](const Ins& x, const json& p) {
      return Outs{F::adaptive_avg_pool2d(x[0], pair_of(p.at("output_size")))};
    };
    t["batch_norm"] = [](const Ins& x, const json& p) {
      Outs out{F::batch_norm(x[0], x[1], x[2], x[3], x[4], p.at("training").get<bool>(),
                             p.at("momentum").get<double>(), p.at("eps").get<double>())};
      for (int i : {1, 2})
        if (x[size_t(i)].defined()) out.push_back(x[size_t(i)]);
      return out;
    };
    t["dropout"] = [](const Ins& x, const json& p) {
      return Outs{F::dropout(x[0], p.at("p").get<double>(), p.at("training").get<bool>())};
    };
    t["softmax"] = [](const Ins& x, const json& p) {
      return Outs{F::softmax(x[0], p.at("dim").get<int64_t>())};
    };
    t["log_softmax"] = [](const Ins& x, const json& p) {
      return Outs{F::log_softmax(x[0], p.at("dim").get<int64_t>())};
    };
    t["nll_loss"] = [](const Ins& x, const json& p) {
      return Outs{F::nll_loss(x[0], x[1], x[2], p.at("ignore_index").get<int64_t>(),
                              reduction_of(p.at("reduction")))};
    };
    t["cross_entropy"] = [](const Ins& x, const json& p) {
      return Outs{F::cross_entropy(x[0], x[1], x[2], p.at("ignore_index").get<int64_t>(),
                                   reduction_of(p.at("reduction")))};
    };
    t["mse_loss"] = [](const Ins& x, const json& p) {
      return Outs{F::mse_loss(x[0], x[1], reduction_of(p.at("reduction")))};
    };
    // Tensor views and copies
    t["view"] = [](const Ins& x, const json& p) {
      return Outs{x[0].view(shape_of(p.at("sizes")))};
    };
    t["reshape"] = [](const Ins& x, const json& p) {
      return Outs{x[0].reshape(shape_of(p.at("sizes")))};
    };
    t["permute"] = [](const Ins& x, const json& p) {
      return Outs{x[0].permute(shape_of(p.at("dims")))};
    };
    t["transpose"] = [](const Ins& x, const json& p) {
      return Outs{x[0].transpose(p.at("dim0").get<int64_t>(), p.at("dim1").get<int64_t>())};
    };
    t["t"] = [](const Ins& x, const json&) { return Outs{x[0].t()}; };
    t["narrow"] = [](const Ins& x, const json& p) {
      return Outs{x[0].narrow(p.at("dim"), p.at("start"), p.at("length"))};
    };
    t["slice"] = [](const Ins& x, const json& p) {
      return Outs{x[0].slice(p.at("dim"), p.at("start"), p.at("end"), p.at("step"))};
    };
    t["select"] = [](const Ins& x, const json& p) {
      return Outs{x[0].select(p.at("dim"), p.at("index"))};
    };
    t["index"] = [](const Ins& x, const json& p) {
      return Outs{x[0][p.at("index").get<int64_t>()]};
    };
    t["expand"] = [](const Ins& x, const json& p) {
      return Outs{x[0].expand(shape_of(p.at("sizes")))};
    };
    t["expand_as"] = [](const Ins& x, const json&) { return Outs{x[0].expand_as(x[1])}; };
    t["squeeze"] = [](const Ins& x, const json&) { return Outs{x[0].squeeze()}; };
    t["squeeze_dim"] = [](const Ins& x, const json& p) {
      return Outs{x[0].squeeze(p.at("dim").get<int64_t>())};
    };
    t["unsqueeze"] = [](const Ins& x, const json& p) {
      return Outs{x[0].unsqueeze(p.at("dim").get<int64_t>())};
    };
    t["flatten"] = [](const Ins& x, const json& p) {
      return Outs{x[0].flatten(p.at("start_dim"), p.at("end_dim"))};
    };
    t["contiguous"] = [](const Ins& x, const json&) { return Outs{x[0].contiguous()}; };
    t["clone"] = [](const Ins& x, const json&) { return Outs{x[0].clone()}; };
    t["detach"] = [](const Ins& x, const json&) { return Outs{x[0].detach()}; };
    t["to"] = [](const Ins& x, const json& p) {
      return Outs{
          x[0].to(dtype_from_name(p.at("dtype").get<std::string>()), p.value("copy", false))};
    };
    t["as_strided"] = [](const Ins& x, const json& p) {
      return Outs{x[0].as_strided(shape_of(p.at("sizes")), shape_of(p.at("strides")),
                                  p.at("offset").get<int64_t>())};
    };
    t["copy_"] = [](const Ins& x, const json&) { return Outs{x[0].copy_(x[1]), storage_of(x[0])}; };
    t["fill_"] = [](const Ins& x, const json& p) {
      return Outs{x[0].fill_(scalar_of(p.at("value"))), storage_of(x[0])};
    };
    t["zero_"] = [](const Ins& x, const json&) { return Outs{x[0].zero_(), storage_of(x[0])}; };
    // ops for torchvision's models
    const std::pair<const char*, Un> activations[] = {{"relu6", F::relu6},
                                                      {"hardsigmoid", F::hardsigmoid},
                                                      {"hardswish", F::hardswish},
                                                      {"silu", F::silu}};
    for (const auto& [name, f] : activations)
      t[name] = [f](const Ins& x, const json&) { return Outs{f(x[0])}; };
    t["gelu"] = [](const Ins& x, const json& p) {
      return Outs{F::gelu(x[0], p.at("approximate").get<std::string>())};
    };
    t["adaptive_max_pool2d"] = [](const Ins& x, const json& p) {
      return Outs{F::adaptive_max_pool2d(x[0], pair_of(p.at("output_size")))};
    };
    t["stochastic_depth"] = [](const Ins& x, const json& p) {
      return Outs{F::stochastic_depth(x[0], p.at("p").get<double>(),
                                      p.at("mode").get<std::string>(),
                                      p.at("training").get<bool>())};
    };
    t["sdpa"] = [](const Ins& x, const json& p) {
      std::optional<double> scale;
      if (p.contains("scale")) scale = p["scale"].get<double>();
      return Outs{F::scaled_dot_product_attention(x[0], x[1], x[2], x[3], 0,
                                                  p.value("is_causal", false), scale)};
    };
    t["mha"] = [](const Ins& x, const json& p) {
      nn::MultiheadAttention m(x[5].size(1), p.at("num_heads").get<int64_t>(),
                               {.bias = x[6].defined(), .batch_first = p.at("batch_first")});
      nn::StateDict sd;
      sd.set("in_proj_weight", x[5]);
      sd.set("out_proj.weight", x[7]);
      if (x[6].defined()) {
        sd.set("in_proj_bias", x[6]);
        sd.set("out_proj.bias", x[8]);
      }
      if (x[5].dtype() != DType::Float32) m.to(x[5].dtype());
      m.load_state_dict(sd);
      auto [out, weights] = m.forward(x[0], x[1], x[2], x[3], p.at("need_weights"), x[4]);
      return weights.defined() ? Outs{out, weights} : Outs{out};
    };
    t["cat"] = [](const Ins& x, const json& p) { return Outs{cat(x, p.at("dim").get<int64_t>())}; };
    t["stack"] = [](const Ins& x, const json& p) {
      return Outs{stack(x, p.at("dim").get<int64_t>())};
    };
    t["chunk"] = [](const Ins& x, const json& p) {
      return chunk(x[0], p.at("chunks").get<int64_t>(), p.at("dim").get<int64_t>());
    };
    t["split"] = [](const Ins& x, const json& p) {
      const json& s = p.at("split");
      int64_t d = p.at("dim").get<int64_t>();
      return s.is_array() ? split(x[0], s.get<std::vector<int64_t>>(), d)
                          : split(x[0], s.get<int64_t>(), d);
    };
    // factories
    t["arange"] = [](const Ins&, const json& p) {
      return Outs{
          arange(scalar_of(p.at("start")), scalar_of(p.at("end")), scalar_of(p.at("step")))};
    };
    t["scalar_tensor"] = [](const Ins&, const json& p) {
      return Outs{scalar_tensor(scalar_of(p.at("value")))};
    };
    return t;
  }();
  return table;
}

// ---- comparison ---------------------------------------------------------------

Shape unravel(int64_t flat, const Shape& sizes) {
  Shape idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

/// The bytes of a tensor's elements in row-major order.
std::vector<uint8_t> bytes_of(const Tensor& t) {
  NoGradGuard no_grad;
  Tensor c = t.contiguous();
  std::vector<uint8_t> out(size_t(c.nbytes()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size());
  return out;
}

/// Elements as doubles (complex: real and imaginary parts in turn).
std::vector<double> doubles_of(const Tensor& t) {
  std::vector<uint8_t> raw = bytes_of(t);
  std::vector<double> out;
  visit_dtype(t.dtype(), [&]<class T>() {
    const T* p = reinterpret_cast<const T*>(raw.data());
    for (size_t i = 0; i < raw.size() / sizeof(T); ++i) {
      if constexpr (requires { p[i].imag(); }) {
        out.push_back(double(p[i].real()));
        out.push_back(double(p[i].imag()));
      } else {
        out.push_back(convert_element<double>(p[i]));
      }
    }
  });
  return out;
}

/// Bytes of one float component of a dtype (0 for integers and bool).
int64_t float_component_size(DType dt) {
  switch (dt) {
    case DType::Float32:
    case DType::Complex64:
      return 4;
    case DType::Float64:
    case DType::Complex128:
      return 8;
    case DType::Float16:
    case DType::BFloat16:
      return 2;
    default:
      return 0;
  }
}

bool component_is_nan(const uint8_t* p, int64_t size, DType dt) {
  if (size == 4) {
    float f;
    std::memcpy(&f, p, 4);
    return std::isnan(f);
  }
  if (size == 8) {
    double d;
    std::memcpy(&d, p, 8);
    return std::isnan(d);
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dt == DType::Float16 ? (h & 0x7fff) > 0x7c00 : (h & 0x7fff) > 0x7f80;
}

std::string hex_of(const uint8_t* p, int64_t size) {
  std::ostringstream s;
  s << "0x" << std::hex << std::setfill('0');
  for (int64_t i = size; i-- > 0;) s << std::setw(2) << int(p[i]);
  return s.str();
}

double rtol_of(DType dt) {
  switch (dt) {
    case DType::Float64:
    case DType::Complex128:
      return 1e-10;
    case DType::Float16:
      return 1e-3;
    case DType::BFloat16:
      return 8e-3;
    default:
      return 1e-5;
  }
}

std::string fmt(double v) {
  std::ostringstream s;
  s << std::setprecision(9) << v;
  return s.str();
}

/// Empty when `got` matches the expected tensor `ref`, else what differs.
std::string compare(const Tensor& got, const json& ref, bool exact) {
  Tensor want = tensor_of(ref);
  std::ostringstream m;
  if (!got.defined()) return "wick returned an undefined tensor";
  if (got.dtype() != want.dtype()) {
    m << "dtype " << got.dtype() << ", expected " << want.dtype();
    return m.str();
  }
  if (got.sizes() != want.sizes()) {
    m << "sizes " << got.sizes() << ", expected " << want.sizes();
    return m.str();
  }
  const DType dt = got.dtype();
  const int64_t comp = float_component_size(dt);
  if (exact || comp == 0) {
    std::vector<uint8_t> a = bytes_of(got), b = bytes_of(want);
    const int64_t unit = comp ? comp : got.element_size();
    const int64_t per_elem = got.element_size() / unit;
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < a.size(); i += size_t(unit)) {
      if (std::memcmp(&a[i], &b[i], size_t(unit)) == 0) continue;
      if (comp && component_is_nan(&a[i], unit, dt) && component_is_nan(&b[i], unit, dt)) continue;
      if (bad++ == 0) first = int64_t(i);
    }
    if (bad == 0) return "";
    int64_t elem = first / got.element_size();
    std::vector<double> ga = doubles_of(got), wb = doubles_of(want);
    size_t k = size_t(first / unit);
    m << bad << " of " << a.size() / size_t(unit) << " values differ (bit-exact check); first at "
      << unravel(elem, got.sizes()) << (per_elem == 2 ? (k % 2 ? " (imag)" : " (real)") : "")
      << ": got " << fmt(ga[k]) << " [" << hex_of(&a[size_t(first)], unit) << "], expected "
      << fmt(wb[k]) << " [" << hex_of(&b[size_t(first)], unit) << "]";
    return m.str();
  }
  const double rtol = rtol_of(dt), scale = ref.value("scale", 1.0);
  std::vector<double> a = doubles_of(got), b = doubles_of(want);
  int64_t bad = 0;
  size_t worst = 0;
  double worst_ratio = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    double ratio;  // error / allowed error; > 1 fails
    if (std::isnan(b[i]) || std::isnan(a[i])) {
      ratio = std::isnan(a[i]) && std::isnan(b[i]) ? 0 : INFINITY;
    } else if (std::isinf(b[i]) || std::isinf(a[i])) {
      ratio = a[i] == b[i] ? 0 : INFINITY;
    } else {
      ratio = std::abs(a[i] - b[i]) / (rtol * std::max(std::abs(b[i]), scale));
    }
    if (ratio > 1) ++bad;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (bad == 0) return "";
  const size_t per_elem = is_complex(dt) ? 2 : 1;
  m << bad << " of " << a.size() << " values outside |got - expected| <= " << rtol
    << " * max(|expected|, " << fmt(scale) << "); worst at "
    << unravel(int64_t(worst / per_elem), got.sizes())
    << (per_elem == 2 ? (worst % 2 ? " (imag)" : " (real)") : "") << ": got " << fmt(a[worst])
    << ", expected " << fmt(b[worst]) << " (error " << fmt(std::abs(a[worst] - b[worst])) << " = "
    << fmt(worst_ratio) << " x allowed)";
  return m.str();
}

/// dropout with 0 < p < 1 in training: wick's random mask cannot equal
/// PyTorch's, so check what PyTorch promises instead: every output is 0 or
/// x / (1 - p), about a fraction p are zeroed, and the gradient is the
/// upstream gradient through the same mask, scaled by 1 / (1 - p).
void check_dropout(const Tensor& x, const Tensor& out, const Tensor& grad_out,
                   const Tensor& grad_in, double p) {
  std::vector<double> xv = doubles_of(x), ov = doubles_of(out), gv = doubles_of(grad_out);
  ASSERT_EQ(xv.size(), ov.size());
  const double keep = 1 / (1 - p);
  int64_t zeros = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (ov[i] == 0) {
      ++zeros;
      continue;
    }
    ASSERT_NEAR(ov[i], xv[i] * keep, 1e-5 * std::max(1.0, std::abs(ov[i])))
        << "output element " << i << " is neither 0 nor x / (1 - p)";
  }
  const double n = double(xv.size());
  EXPECT_NEAR(double(zeros), p * n, 5 * std::sqrt(n * p * (1 - p)) + 1)
      << zeros << " of " << n << " elements zeroed for p = " << p;
  ASSERT_TRUE(grad_in.defined()) << "no gradient for the input";
  std::vector<double> giv = doubles_of(grad_in);
  for (size_t i = 0; i < xv.size(); ++i) {
    double want = ov[i] == 0 ? 0.0 : gv[i] * keep;
    ASSERT_NEAR(giv[i], want, 1e-5 * std::max(1.0, std::abs(want))) << "gradient element " << i;
  }
}

// ---- one case ----------------------------------------------------------------

void run_case(const Case& c) {
  SCOPED_TRACE("case " + c.name + " (op " + c.op + ", params " + c.spec.at("params").dump() + ")");
  const json& s = c.spec;
  auto op = ops().find(c.op);
  ASSERT_NE(op, ops().end()) << "no wick op named '" << c.op << "' in the test's table";
  Ins ins;
  for (const auto& r : s.at("inputs")) ins.push_back(r.is_null() ? Tensor() : tensor_of(r));
  // Keep the inputs' values before the op, for checks of ops that write into them.
  Ins before;
  for (const auto& r : s.at("inputs")) before.push_back(r.is_null() ? Tensor() : tensor_of(r));

  Outs outs;
  try {
    outs = op->second(ins, s.at("params"));
  } catch (const std::exception& e) {
    FAIL() << "wick threw: " << e.what();
  }
  const auto& want_outs = s.at("outputs");
  ASSERT_EQ(outs.size(), want_outs.size()) << "number of outputs";
  const std::string check = s.at("check");
  const bool exact = check == "exact";

  if (check == "dropout") {
    ASSERT_TRUE(s.at("grad_output").is_object());
    Tensor gout = tensor_of(s["grad_output"]);
    try {
      outs[0].backward(gout);
    } catch (const std::exception& e) {
      FAIL() << "wick's backward threw: " << e.what();
    }
    check_dropout(before[0], outs[0], gout, ins[0].grad(), s["params"].at("p"));
    return;
  }

  for (size_t i = 0; i < outs.size(); ++i) {
    std::string diff = compare(outs[i], want_outs[i], exact);
    EXPECT_EQ(diff, "") << "output " << i << " of " << c.name << ": " << diff;
  }
  if (s.contains("layout")) {
    const json& l = s["layout"];
    Shape want_strides = shape_of(l.at("strides"));
    const Tensor& o = outs[0];
    // Strides and offsets only matter for views: for copies (clone, to,
    // contiguous) PyTorch keeps a dense input's strides where wick documents
    // a contiguous result; the values are compared either way.
    const bool torch_view = l.at("shares_storage").get<bool>();
    if (o.defined() && torch_view && want_strides.size() == o.strides().size()) {
      for (size_t d = 0; d < want_strides.size(); ++d) {
        if (o.sizes()[d] > 1) {
          EXPECT_EQ(o.strides()[d], want_strides[d])
              << "stride of dim " << d << ": wick strides " << o.strides() << ", torch "
              << want_strides << " (sizes " << o.sizes() << ")";
        }
      }
      if (o.numel() > 0) {
        EXPECT_EQ(o.storage_offset(), l.at("offset").get<int64_t>()) << "storage offset";
      }
    }
    if (o.defined()) {
      EXPECT_EQ(o.storage() == ins[0].storage(), torch_view)
          << "whether the result shares the input's storage (torch: " << torch_view << ")";
    }
  }

  if (s.at("grad_output").is_null()) return;
  Tensor gout = tensor_of(s["grad_output"]);
  try {
    outs[0].backward(gout);
  } catch (const std::exception& e) {
    FAIL() << "wick's backward threw: " << e.what();
  }
  const auto& want_grads = s.at("grads");
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i].defined() || !ins[i].requires_grad()) continue;
    Tensor g = ins[i].grad();
    if (want_grads[i].is_null()) {
      if (g.defined()) {
        EXPECT_TRUE(equal(g, zeros_like(g)))
            << "input " << i << " got a nonzero gradient; torch has none";
      }
      continue;
    }
    if (!g.defined()) {
      ADD_FAILURE() << "input " << i << " of " << c.name << ": wick computed no gradient";
      continue;
    }
    std::string diff = compare(g, want_grads[i], false);
    EXPECT_EQ(diff, "") << "gradient of input " << i << " of " << c.name << ": " << diff;
  }
}

std::vector<size_t> cases_of(const std::string& family) {
  std::vector<size_t> out;
  const auto& cs = manifest().cases;
  for (size_t i = 0; i < cs.size(); ++i)
    if (cs[i].family == family) out.push_back(i);
  return out;
}

}  // namespace

class OpsVsTorch : public testing::TestWithParam<size_t> {};

TEST_P(OpsVsTorch, Matches) {
  run_case(manifest().cases[GetParam()]);
}

std::string case_test_name(const testing::TestParamInfo<size_t>& info) {
  return manifest().cases[info.param].test_name;
}

INSTANTIATE_TEST_SUITE_P(Math, OpsVsTorch, testing::ValuesIn(cases_of("math")), case_test_name);
INSTANTIATE_TEST_SUITE_P(Inplace, OpsVsTorch, testing::ValuesIn(cases_of("inplace")),
                         case_test_name);
INSTANTIATE_TEST_SUITE_P(Functional, OpsVsTorch, testing::ValuesIn(cases_of("functional")),
                         case_test_name);
INSTANTIATE_TEST_SUITE_P(Views, OpsVsTorch, testing::ValuesIn(cases_of("views")), case_test_name);
INSTANTIATE_TEST_SUITE_P(DType, OpsVsTorch, testing::ValuesIn(cases_of("dtype")), case_test_name);
INSTANTIATE_TEST_SUITE_P(Factory, OpsVsTorch, testing::ValuesIn(cases_of("factory")),
                         case_test_name);

// The cases exist, every family has some, and the generator and the op table
// name the same ops (an op added on one side only is caught here).
TEST(Interop, ManifestCoversEveryOp) {
  const Manifest& m = manifest();
  ASSERT_EQ(m.error, "");
  for (const char* f : {"math", "inplace", "functional", "views", "dtype", "factory"})
    EXPECT_FALSE(cases_of(f).empty()) << "no cases in family " << f;
  std::set<std::string> in_manifest;
  for (const auto& c : m.cases) in_manifest.insert(c.op);
  for (const auto& [name, fn] : ops())
    EXPECT_TRUE(in_manifest.count(name)) << "op '" << name << "' has no case";
  for (const auto& name : in_manifest)
    EXPECT_TRUE(ops().count(name)) << "cases name op '" << name << "' that the test lacks";
  // Every pair of the 12 dtypes PyTorch 1.13 and wick share (wick's others are
  // checked against the formats' definitions in tests/unit/test_dtype_formats.cpp).
  EXPECT_EQ(cases_of("dtype").size(), size_t(12 * 12));
}
