// wick diff A B [--atol X] [--rtol Y]: two checkpoints' entries compared by
// dotted name, across formats.
#include <cmath>
#include <complex>
#include <iostream>
#include <map>
#include <memory>
#include <unordered_map>

#include "cli.h"
#include "wick/autograd/grad_mode.h"

namespace wick::cli {

namespace {

struct Tolerance {
  double atol = 0, rtol = 0;
  bool close(double a, double b) const {
    return a == b || (std::isnan(a) && std::isnan(b)) ||
           std::abs(a - b) <= atol + rtol * std::abs(b);
  }
};

// How two tensors of one dtype and shape differ.
struct TensorDiff {
  int64_t count = 0;   // elements not close
  double max = 0;      // largest |a - b| among them (nan beats everything)
  int64_t where = -1;  // its flat index
  void add(double d, int64_t i) {
    if (count++ == 0 || (!std::isnan(max) && (std::isnan(d) || d > max))) {
      max = d;
      where = i;
    }
  }
};

// Elements are compared a chunk at a time, so that two mapped files larger
// than memory can be compared: ints and bools exactly unless a tolerance is
// given, everything else in float64 (complex: magnitude of the difference).
TensorDiff compare(const Tensor& a, const Tensor& b, const Tolerance& tol) {
  constexpr int64_t kChunk = int64_t(1) << 20;
  Tensor fa = a.reshape({-1}), fb = b.reshape({-1});
  DType dt = a.dtype();
  bool exact = (is_integral(dt, true)) && tol.atol == 0 && tol.rtol == 0;
  TensorDiff d;
  for (int64_t start = 0; start < fa.numel(); start += kChunk) {
    int64_t n = std::min(kChunk, fa.numel() - start);
    Tensor ca = fa.narrow(0, start, n), cb = fb.narrow(0, start, n);
    if (exact) {
      Tensor x = ca.to(DType::Int64).contiguous(), y = cb.to(DType::Int64).contiguous();
      const int64_t *p = x.data<int64_t>(), *q = y.data<int64_t>();
      for (int64_t i = 0; i < n; ++i)
        if (p[i] != q[i]) d.add(std::abs(double(p[i]) - double(q[i])), start + i);
    } else if (is_complex(dt)) {
      using C = std::complex<double>;
      Tensor x = ca.to(DType::Complex128).contiguous(), y = cb.to(DType::Complex128).contiguous();
      const C *p = x.data<C>(), *q = y.data<C>();
      for (int64_t i = 0; i < n; ++i) {
        bool nan_p = std::isnan(p[i].real()) || std::isnan(p[i].imag());
        bool nan_q = std::isnan(q[i].real()) || std::isnan(q[i].imag());
        double diff = std::abs(p[i] - q[i]);
        bool same =
            p[i] == q[i] || (nan_p && nan_q) || diff <= tol.atol + tol.rtol * std::abs(q[i]);
        if (!same) d.add(diff, start + i);
      }
    } else {
      Tensor x = ca.to(DType::Float64).contiguous(), y = cb.to(DType::Float64).contiguous();
      const double *p = x.data<double>(), *q = y.data<double>();
      for (int64_t i = 0; i < n; ++i)
        if (!tol.close(p[i], q[i])) d.add(std::abs(p[i] - q[i]), start + i);
    }
  }
  return d;
}

// The multi-index of a flat index into `shape`.
Shape unravel(int64_t i, const Shape& shape) {
  Shape at(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    at[k] = i % shape[k];
    i /= shape[k];
  }
  return at;
}

std::string type_of(const Value& v) {
  return v.is_tensor() ? "Tensor" : v.type_name();
}

// The lines of each kind, printed kind by kind.
enum Line { OnlyA, OnlyB, DType_, Shape_, Type, Value_, Values, kLines };

// A safetensors file keeps non-tensor leaves as metadata strings (their reprs,
// as convert writes them); seen that way, a .pt file and its conversion compare
// equal.
void as_safetensors_sees_it(Checkpoint& c) {
  for (auto& [name, v] : c.entries) {
    if (v.is_tensor()) continue;
    name = "__metadata__." + name;
    v = Value(v.repr());
  }
}

int run(const std::string& path_a, const std::string& path_b, const Tolerance& tol) {
  NoGradGuard no_grad;  // loaded parameters may require grad; nothing here is trained
  Checkpoint a = read_checkpoint(path_a), b = read_checkpoint(path_b);
  const bool st_a = a.format == io::Format::Safetensors;
  const bool st_b = b.format == io::Format::Safetensors;
  if (st_a && !st_b) as_safetensors_sees_it(b);
  if (st_b && !st_a) as_safetensors_sees_it(a);
  // The first entry of a name counts (two leaves of one file can share a
  // dotted name, e.g. keys "a.b" and "a" -> "b").
  auto index = [](const Checkpoint& c) {
    std::unordered_map<std::string, const Value*> m;
    for (const auto& [name, v] : c.entries) m.emplace(name, &v);
    return m;
  };
  auto in_a = index(a), in_b = index(b);
  std::vector<std::string> lines[kLines];
  std::map<std::string, bool> differing;  // name -> differs, over both files
  auto differ = [&](Line kind, const std::string& name, const std::string& what) {
    lines[kind].push_back(what);
    differing[name] = true;
  };

  for (const auto& [name, va] : a.entries) {
    if (differing.count(name)) continue;  // a repeated name
    differing[name] = false;
    auto it = in_b.find(name);
    std::string n = printable(name);
    if (it == in_b.end()) {
      differ(OnlyA, name, "only in A: " + n);
      continue;
    }
    const Value& vb = *it->second;
    if (va.is_tensor() && vb.is_tensor()) {
      const Tensor &ta = va.as_tensor(), &tb = vb.as_tensor();
      if (ta.dtype() != tb.dtype()) {
        differ(DType_, name,
               "dtype differs: " + n + ": " + std::string(dtype_name(ta.dtype())) + " vs " +
                   std::string(dtype_name(tb.dtype())));
      } else if (ta.sizes() != tb.sizes()) {
        differ(
            Shape_, name,
            "shape differs: " + n + ": " + shape_str(ta.sizes()) + " vs " + shape_str(tb.sizes()));
      } else if (TensorDiff d = compare(ta, tb, tol); d.count) {
        bool ints = is_integral(ta.dtype(), true);
        std::string max =
            ints && d.max < 9e18 ? std::to_string(int64_t(d.max)) : Value(d.max).repr();
        differ(Values, name,
               "values differ: " + n + ": max abs diff " + max + " at " +
                   shape_str(unravel(d.where, ta.sizes())) + " (" + std::to_string(d.count) +
                   " of " + std::to_string(ta.numel()) + " elements)");
      }
    } else if (va.kind() != vb.kind()) {
      differ(Type, name, "type differs: " + n + ": " + type_of(va) + " vs " + type_of(vb));
    } else {
      // Same kind. Empty containers (the only container leaves) are equal;
      // floats compare with the tolerance; the rest by repr.
      bool same = va.is_float()
                      ? tol.close(va.as_float(), vb.as_float())
                      : (va.is_list() || va.is_tuple() || va.is_dict()) || va.repr() == vb.repr();
      if (!same)
        differ(Value_, name,
               "value differs: " + n + ": " + printable(va.repr()) + " vs " + printable(vb.repr()));
    }
  }
  for (const auto& [name, vb] : b.entries)
    if (!in_a.count(name) && !differing.count(name))
      differ(OnlyB, name, "only in B: " + printable(name));

  for (const auto& kind : lines)
    for (const std::string& l : kind) std::cout << l << "\n";
  size_t k = 0;
  for (const auto& [name, d] : differing) k += d;
  if (k == 0) {
    std::cout << "A and B are equal (" << differing.size() << " entries)\n";
    return kExitOk;
  }
  std::cout << "A and B differ: " << k << " of " << differing.size() << " entries\n";
  return kExitNegative;
}

}  // namespace

Command add_diff(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "diff", "compare two checkpoints entry by entry, in any formats (exit 1 when they differ)");
  cmd->footer(
      "Compares the entries of A and B by dotted name (as 'wick inspect' lists them):\n"
      "names only in A, only in B, dtype, shape and type differences, differing\n"
      "values, and for tensors of one dtype and shape the largest absolute\n"
      "difference. Elements are close when |a - b| <= atol + rtol * |b| (in float64;\n"
      "nan equals nan); integer and bool tensors are compared exactly unless a\n"
      "tolerance is given. Against a safetensors file, the other file's non-tensor\n"
      "values are compared as the metadata strings 'wick convert' writes for them\n"
      "(__metadata__.<name> = repr), so a file and its conversion compare equal.\n"
      "Exits 0 when equal, 1 when they differ.\n");
  struct Args {
    std::string a, b;
    Tolerance tol;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("A", args->a, "the first checkpoint")->required();
  cmd->add_option("B", args->b, "the second checkpoint")->required();
  cmd->add_option("--atol", args->tol.atol, "absolute tolerance (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rtol", args->tol.rtol, "relative tolerance (default 0)")
      ->check(CLI::NonNegativeNumber);
  return {cmd, [=] { return run(args->a, args->b, args->tol); }};
}

}  // namespace wick::cli
