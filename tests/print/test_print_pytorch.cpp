// wick's Tensor::repr() against PyTorch's repr(): rebuilds every tensor that
// tests/print_cases.py wrote and compares the strings exactly.
//
//   wick_print_tests CASES.json      (or WICK_PRINT_CASES=CASES.json)
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "wick/core/tensor.h"

using namespace wick;
using nlohmann::json;

namespace {

std::string g_cases_path;

// Parses one exported element: hex-float strings are exact, "nan"/"inf" too.
Scalar parse_value(const json& v, DType dtype) {
  if (is_complex(dtype))
    return Scalar(std::complex<double>(std::strtod(v[0].get<std::string>().c_str(), nullptr),
                                       std::strtod(v[1].get<std::string>().c_str(), nullptr)));
  const std::string s = v.get<std::string>();
  if (is_floating_point(dtype)) return Scalar(std::strtod(s.c_str(), nullptr));
  if (dtype == DType::Bool) return Scalar(s == "1");
  return Scalar(int64_t(std::stoll(s)));
}

Tensor apply_op(const Tensor& t, const json& op) {
  const std::string kind = op["op"];
  auto i = [&](const char* key) { return op[key].get<int64_t>(); };
  auto shape = [&](const char* key) { return Shape(op[key].get<std::vector<int64_t>>()); };
  if (kind == "t") return t.t();
  if (kind == "slice") return t.slice(i("dim"), i("start"), i("end"), i("step"));
  if (kind == "select") return t.select(i("dim"), i("index"));
  if (kind == "permute") return t.permute(shape("dims"));
  if (kind == "expand") return t.expand(shape("sizes"));
  if (kind == "view") return t.view(shape("sizes"));
  if (kind == "clone") return t.clone();
  if (kind == "to") return t.to(dtype_from_name(op["dtype"].get<std::string>()));
  throw std::runtime_error("print_cases.json: unknown op '" + kind + "'");
}

Tensor build(const json& c) {
  DType dtype = dtype_from_name(c["dtype"].get<std::string>());
  Tensor t = empty(Shape(c["sizes"].get<std::vector<int64_t>>()), {.dtype = dtype});
  Tensor flat = t.reshape({-1});
  const json& values = c["values"];
  EXPECT_EQ(int64_t(values.size()), t.numel()) << c["name"];
  for (size_t i = 0; i < values.size(); ++i) flat.set({int64_t(i)}, parse_value(values[i], dtype));
  if (c["requires_grad"]) t.requires_grad_();
  for (const json& op : c["ops"]) t = apply_op(t, op);
  return t;
}

TEST(PrintMatchesPyTorch, EveryCase) {
  ASSERT_FALSE(g_cases_path.empty())
      << "pass the cases file (written by tests/print_cases.py) as an argument or in "
         "WICK_PRINT_CASES";
  std::ifstream in(g_cases_path);
  ASSERT_TRUE(in) << "cannot open " << g_cases_path;
  json doc = json::parse(in);
  const json& cases = doc["cases"];
  ASSERT_GE(cases.size(), 100u) << "the generator should write every case";
  int failed = 0;
  for (const json& c : cases) {
    const std::string name = c["name"], expected = c["expected"];
    std::string got;
    try {
      got = build(c).repr();
    } catch (const std::exception& e) {
      got = std::string("<exception: ") + e.what() + ">";
    }
    if (got != expected) ++failed;
    EXPECT_EQ(got, expected) << "case " << name << " (PyTorch " << doc["torch_version"] << ")";
  }
  std::cout << cases.size() - size_t(failed) << " of " << cases.size() << " cases match\n";
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc > 1)
    g_cases_path = argv[1];
  else if (const char* env = std::getenv("WICK_PRINT_CASES"))
    g_cases_path = env;
  return RUN_ALL_TESTS();
}
