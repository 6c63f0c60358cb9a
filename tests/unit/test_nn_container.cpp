// Sequential, ModuleList, ModuleDict: construction from values and shared
// pointers, positional names (and a Sequential's own names), forward chaining, typed access,
// state_dict keys of nested containers, and reprs (ModuleList's compressed PyTorch 2.x form).
#include <gtest/gtest.h>

#include "wick/core/random.h"
#include "wick/nn/container.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;

namespace {

// y = x * factor; factor is a parameter so the module has state.
struct Scale : nn::Module {
  Tensor factor;
  explicit Scale(double f) { factor = register_parameter("factor", full({1}, f)); }
  Tensor forward(const Tensor& x) override { return x * factor; }
  std::string extra_repr() const override { return "factor=" + factor.repr(); }
};

struct AddOne : nn::Module {
  Tensor forward(const Tensor& x) override { return x + 1.0; }
};

struct Pair : nn::Module {
  Scale& a = register_module("a", Scale(2));
  AddOne& b = register_module("b", AddOne());
};

template <class T>
std::vector<std::string> names(const std::vector<std::pair<std::string, T>>& named) {
  std::vector<std::string> out;
  for (const auto& [n, x] : named) out.push_back(n);
  return out;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(NnContainer, SequentialChainsChildrenInOrder) {
  nn::Sequential seq(Scale(2), AddOne(), Scale(3));
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_EQ(names(seq.named_children()), (std::vector<std::string>{"0", "1", "2"}));
  Tensor y = seq(tensor<float>({1, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{9, 15}));  // (x * 2 + 1) * 3
  EXPECT_EQ(seq.state_dict().keys(), (std::vector<std::string>{"0.factor", "2.factor"}));
  EXPECT_EQ(nn::Sequential()(ones({2})).to_vector<float>(), (std::vector<float>{1, 1}));
}

TEST(NnContainer, SequentialWithNamedChildren) {
  // PyTorch's Sequential(OrderedDict(...)): names for the keys, positions for [].
  nn::Sequential seq;
  seq.push_back("scale", Scale(2));
  seq.push_back(AddOne());  // unnamed: its position, as Sequential.append
  seq.push_back("last", std::make_shared<Scale>(3));
  EXPECT_EQ(names(seq.named_children()), (std::vector<std::string>{"scale", "1", "last"}));
  EXPECT_EQ(seq.state_dict().keys(), (std::vector<std::string>{"scale.factor", "last.factor"}));
  EXPECT_EQ(seq(tensor<float>({1, 2})).to_vector<float>(), (std::vector<float>{9, 15}));
  EXPECT_EQ(seq.at<Scale>(2).factor.item<float>(), 3);
  EXPECT_EQ(&seq.get_submodule("last"), &seq[2]);
  EXPECT_EQ(seq.repr(),
            "Sequential(\n  (scale): Scale(factor=tensor([2.], requires_grad=True))\n"
            "  (1): AddOne()\n  (last): Scale(factor=tensor([3.], requires_grad=True))\n)");
  EXPECT_THROW(seq.push_back("scale", AddOne()), Error);
  EXPECT_THROW(seq.push_back("a.b", AddOne()), Error);
}

TEST(NnContainer, SequentialFromSharedPointersSharesModules) {
  auto scale = std::make_shared<Scale>(5);
  nn::Sequential seq(scale, AddOne());
  EXPECT_EQ(&seq[0], static_cast<nn::Module*>(scale.get()));
  EXPECT_EQ(seq.ptr(0), scale);
  nn::Sequential from_vector(std::vector<std::shared_ptr<nn::Module>>{scale, scale});
  EXPECT_EQ(from_vector.size(), 2u);
  EXPECT_EQ(from_vector.parameters().size(), 1u);  // one module under two names
  EXPECT_EQ(from_vector.state_dict().keys(), (std::vector<std::string>{"0.factor", "1.factor"}));
}

TEST(NnContainer, PushBackAndTypedAccess) {
  nn::Sequential seq;
  Scale& s = seq.push_back(Scale(4));
  seq.push_back(AddOne());
  EXPECT_EQ(&seq.at<Scale>(0), &s);
  EXPECT_EQ(error_of([&] { seq.at<Scale>(1); }), "Sequential[1] is a AddOne, not a Scale");
  EXPECT_THROW(seq[2], IndexError);
  EXPECT_EQ(error_of([&] { seq[2]; }), "Sequential: index 2 is out of range for 2 modules");
  EXPECT_EQ(nn::module_cast<AddOne>(seq[1]).name(), "AddOne");
}

TEST(NnContainer, NestedContainersGiveDottedKeysAndIndentedRepr) {
  struct Net : nn::Module {
    nn::Sequential& features = register_module("features", nn::Sequential(Scale(1), Pair()));
    nn::ModuleDict& heads = register_module("heads", nn::ModuleDict());
    Net() { heads.insert("cls", nn::Sequential(AddOne(), Scale(2))); }
  } net;
  EXPECT_EQ(
      net.state_dict().keys(),
      (std::vector<std::string>{"features.0.factor", "features.1.a.factor", "heads.cls.1.factor"}));
  EXPECT_EQ(names(net.named_modules()),
            (std::vector<std::string>{"", "features", "features.0", "features.1", "features.1.a",
                                      "features.1.b", "heads", "heads.cls", "heads.cls.0",
                                      "heads.cls.1"}));
  EXPECT_EQ(net.repr(),
            "Net(\n"
            "  (features): Sequential(\n"
            "    (0): Scale(factor=tensor([1.], requires_grad=True))\n"
            "    (1): Pair(\n"
            "      (a): Scale(factor=tensor([2.], requires_grad=True))\n"
            "      (b): AddOne()\n"
            "    )\n"
            "  )\n"
            "  (heads): ModuleDict(\n"
            "    (cls): Sequential(\n"
            "      (0): AddOne()\n"
            "      (1): Scale(factor=tensor([2.], requires_grad=True))\n"
            "    )\n"
            "  )\n"
            ")");
}

TEST(NnContainer, SequentialReprDoesNotCompress) {
  nn::Sequential seq{AddOne(), AddOne()};
  EXPECT_EQ(seq.repr(), "Sequential(\n  (0): AddOne()\n  (1): AddOne()\n)");
  EXPECT_EQ(nn::Sequential().repr(), "Sequential()");
}

TEST(NnContainer, ModuleListHoldsAndIterates) {
  nn::ModuleList list(Scale(2), AddOne());
  Scale& third = list.append(Scale(3));
  list.push_back(std::make_shared<AddOne>());
  EXPECT_EQ(list.size(), 4u);
  EXPECT_EQ(&list.at<Scale>(2), &third);
  EXPECT_EQ(names(list.named_children()), (std::vector<std::string>{"0", "1", "2", "3"}));
  Tensor x = ones({1});
  for (nn::Module& m : list) x = m(x);
  EXPECT_EQ(x.item<float>(), 10.0f);  // ((1 * 2 + 1) * 3) + 1
  EXPECT_EQ(error_of([&] { list(ones({1})); }),
            "Module [ModuleList] is missing the required \"forward\" function");
}

TEST(NnContainer, ModuleListReprCompressesRuns) {
  nn::ModuleList list(AddOne(), AddOne(), AddOne(), Scale(2), Pair(), Pair(), AddOne());
  EXPECT_EQ(list.repr(),
            "ModuleList(\n"
            "  (0-2): 3 x AddOne()\n"
            "  (3): Scale(factor=tensor([2.], requires_grad=True))\n"
            "  (4-5): 2 x Pair(\n"
            "    (a): Scale(factor=tensor([2.], requires_grad=True))\n"
            "    (b): AddOne()\n"
            "  )\n"
            "  (6): AddOne()\n"
            ")");
  EXPECT_EQ(nn::ModuleList().repr(), "ModuleList()");
  // Children that print differently are not merged.
  EXPECT_EQ(nn::ModuleList(Scale(1), Scale(2)).repr(),
            "ModuleList(\n"
            "  (0): Scale(factor=tensor([1.], requires_grad=True))\n"
            "  (1): Scale(factor=tensor([2.], requires_grad=True))\n"
            ")");
}

TEST(NnContainer, ModuleDictByKey) {
  auto shared = std::make_shared<AddOne>();
  nn::ModuleDict dict({{"first", shared}});
  Scale& s = dict.insert("scale", Scale(3));
  EXPECT_EQ(dict.size(), 2u);
  EXPECT_TRUE(dict.contains("scale"));
  EXPECT_FALSE(dict.contains("nope"));
  EXPECT_EQ(&dict["first"], static_cast<nn::Module*>(shared.get()));
  EXPECT_EQ(&dict.at<Scale>("scale"), &s);
  EXPECT_EQ(dict["scale"](ones({1})).item<float>(), 3.0f);
  EXPECT_EQ(dict.keys(), (std::vector<std::string>{"first", "scale"}));
  EXPECT_EQ(error_of([&] { dict["nope"]; }), "ModuleDict: no module under key \"nope\"");
  EXPECT_EQ(error_of([&] { dict.at<Scale>("first"); }),
            "ModuleDict[\"first\"] is a AddOne, not a Scale");
  EXPECT_THROW(dict.insert("scale", AddOne()), Error);
  EXPECT_EQ(dict.size(), 2u);
  EXPECT_EQ(dict.state_dict().keys(), (std::vector<std::string>{"scale.factor"}));
}

TEST(NnContainer, MovingContainersKeepsReferencesValid) {
  nn::Sequential seq(Scale(2), AddOne());
  Scale* first = &seq.at<Scale>(0);
  struct Net : nn::Module {
    nn::Sequential& body;
    explicit Net(nn::Sequential s) : body(register_module("body", std::move(s))) {}
  } net(std::move(seq));
  EXPECT_EQ(&net.body.at<Scale>(0), first);
  EXPECT_EQ(&net.get_submodule("body.0"), static_cast<nn::Module*>(first));
  EXPECT_EQ(net.body(ones({1})).item<float>(), 3.0f);
}
