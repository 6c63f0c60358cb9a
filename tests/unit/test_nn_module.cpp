// Module: registration rules, traversal order and deduplication, modes, bulk
// changes (to, zero_grad, apply, requires_grad_), lookup by path, class names,
// repr and moves. Semantics follow torch/nn/modules/module.py.
#include <gtest/gtest.h>

#include <sstream>

#include "wick/core/random.h"
#include "wick/nn/module.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;

namespace {

// A Linear-like module: weight [out, in], optional bias.
struct Leaf : nn::Module {
  Tensor weight, bias;
  Leaf(int64_t in, int64_t out, bool with_bias = true) {
    weight = register_parameter("weight", randn({out, in}));
    bias = register_parameter("bias", with_bias ? randn({out}) : Tensor());
  }
  std::string extra_repr() const override {
    return "in_features=" + std::to_string(weight.size(1)) +
           ", out_features=" + std::to_string(weight.size(0)) +
           ", bias=" + (bias.defined() ? "True" : "False");
  }
};

// A BatchNorm-like module: a parameter, persistent buffers (one int64) and a
// non-persistent one.
struct Stats : nn::Module {
  Tensor scale, mean, count, scratch;
  explicit Stats(int64_t n) {
    scale = register_parameter("scale", ones({n}));
    mean = register_buffer("mean", zeros({n}));
    count = register_buffer("count", zeros({}, {.dtype = DType::Int64}));
    scratch = register_buffer("scratch", zeros({n}), /*persistent=*/false);
  }
};

struct Act : nn::Module {};

struct Net : nn::Module {
  Tensor alpha = register_parameter("alpha", ones({1}));
  Leaf& fc1 = register_module("fc1", Leaf(4, 3));
  Stats& bn = register_module("bn", Stats(3));
  Act& act = register_module("act", Act());
  Leaf& fc2 = register_module("fc2", Leaf(3, 2, false));
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

namespace outer::inner {
template <class T>
struct Box : nn::Module {};
}  // namespace outer::inner

TEST(NnModule, NamedTraversalOrder) {
  Net net;
  EXPECT_EQ(
      names(net.named_parameters()),
      (std::vector<std::string>{"alpha", "fc1.weight", "fc1.bias", "bn.scale", "fc2.weight"}));
  EXPECT_EQ(names(net.named_buffers()),
            (std::vector<std::string>{"bn.mean", "bn.count", "bn.scratch"}));
  EXPECT_EQ(names(net.named_children()), (std::vector<std::string>{"fc1", "bn", "act", "fc2"}));
  EXPECT_EQ(names(net.named_modules()), (std::vector<std::string>{"", "fc1", "bn", "act", "fc2"}));
  EXPECT_EQ(names(net.named_modules("model")),
            (std::vector<std::string>{"model", "model.fc1", "model.bn", "model.act", "model.fc2"}));
  EXPECT_EQ(names(net.named_parameters("m", /*recurse=*/false)),
            (std::vector<std::string>{"m.alpha"}));
  EXPECT_EQ(net.named_buffers("", false).size(), 0u);

  // The traversals hand out the registered handles themselves.
  std::vector<Tensor> params = net.parameters();
  ASSERT_EQ(params.size(), 5u);
  EXPECT_TRUE(params[1].is_same(net.fc1.weight));
  EXPECT_TRUE(net.buffers()[1].is_same(net.bn.count));
  EXPECT_EQ(net.children()[2], static_cast<nn::Module*>(&net.act));
  EXPECT_EQ(net.modules().front(), static_cast<nn::Module*>(&net));
}

TEST(NnModule, RegistrationMarksParametersAsRequiringGrad) {
  struct M : nn::Module {
    Tensor a = register_parameter("a", zeros({2}));
    Tensor frozen = register_parameter("frozen", zeros({2}), /*requires_grad=*/false);
    Tensor idx = register_parameter("idx", zeros({2}, {.dtype = DType::Int64}));
  } m;
  EXPECT_TRUE(m.a.requires_grad());
  EXPECT_FALSE(m.frozen.requires_grad());
  EXPECT_FALSE(m.idx.requires_grad());
  EXPECT_EQ(m.parameters().size(), 3u);
}

TEST(NnModule, RegistrationRejectsBadAndDuplicateNames) {
  Net net;
  std::string msg = error_of([&] { net.register_parameter("fc1", zeros({1})); });
  EXPECT_NE(msg.find("Net"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"fc1\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("already used"), std::string::npos) << msg;
  EXPECT_THROW(net.register_buffer("alpha", zeros({1})), Error);
  EXPECT_THROW(net.register_module("bn", Act()), Error);
  msg = error_of([&] { net.register_buffer("a.b", zeros({1})); });
  EXPECT_NE(msg.find("\"a.b\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\".\""), std::string::npos) << msg;
  msg = error_of([&] { net.register_module("", Act()); });
  EXPECT_NE(msg.find("Net: cannot register a module with an empty name"), std::string::npos) << msg;
  // A parameter must be a leaf: the result of an operation is not.
  Tensor w = ones({2}, {.requires_grad = true});
  EXPECT_THROW(net.register_parameter("derived", w * 2.0), Error);
  // Failed registrations left nothing behind.
  EXPECT_EQ(net.named_parameters().size(), 5u);
  EXPECT_EQ(net.named_children().size(), 4u);
}

TEST(NnModule, TiedParametersAndSharedModulesAreListedOnce) {
  struct Tied : nn::Module {
    Leaf& enc = register_module("enc", Leaf(3, 3));
    Leaf& dec = register_module("dec", Leaf(3, 3));
    std::shared_ptr<Act> shared = std::make_shared<Act>();
    Tied() {
      register_module("a1", shared);
      register_module("a2", shared);
      register_parameter("tied", enc.weight);  // the same tensor under a second name
    }
  } m;
  EXPECT_EQ(names(m.named_parameters()),
            (std::vector<std::string>{"tied", "enc.bias", "dec.weight", "dec.bias"}));
  EXPECT_EQ(m.parameters().size(), 4u);
  EXPECT_EQ(names(m.named_modules()), (std::vector<std::string>{"", "enc", "dec", "a1"}));
  EXPECT_EQ(names(m.named_children()), (std::vector<std::string>{"enc", "dec", "a1"}));
}

TEST(NnModule, GetSubmoduleParameterBuffer) {
  struct Outer : nn::Module {
    Net& net = register_module("net", Net());
  } m;
  EXPECT_EQ(&m.get_submodule(""), static_cast<nn::Module*>(&m));
  EXPECT_EQ(&m.get_submodule("net.fc1"), static_cast<nn::Module*>(&m.net.fc1));
  EXPECT_TRUE(m.get_parameter("net.fc1.weight").is_same(m.net.fc1.weight));
  EXPECT_TRUE(m.get_parameter("net.alpha").is_same(m.net.alpha));
  EXPECT_TRUE(m.get_buffer("net.bn.scratch").is_same(m.net.bn.scratch));

  EXPECT_EQ(error_of([&] { m.get_submodule("net.fc4.weight"); }), "Net has no attribute `fc4`");
  EXPECT_EQ(error_of([&] { m.get_submodule("net.fc1.weight"); }), "`weight` is not an nn.Module");
  EXPECT_EQ(error_of([&] { m.get_parameter("net.fc1.foo"); }), "Leaf has no attribute `foo`");
  EXPECT_EQ(error_of([&] { m.get_parameter("net.bn.mean"); }), "`mean` is not an nn.Parameter");
  EXPECT_EQ(error_of([&] { m.get_parameter("net.fc2.bias"); }), "`bias` is not an nn.Parameter");
  EXPECT_EQ(error_of([&] { m.get_buffer("net.bn.scale"); }), "`scale` is not a buffer");
  EXPECT_EQ(error_of([&] { m.get_buffer("nope"); }), "Outer has no attribute `nope`");
}

TEST(NnModule, TrainEvalIsRecursive) {
  Net net;
  EXPECT_TRUE(net.is_training());
  net.eval();
  for (nn::Module* m : net.modules()) EXPECT_FALSE(m->is_training());
  net.fc1.train();
  EXPECT_TRUE(net.fc1.is_training());
  EXPECT_FALSE(net.is_training());
  net.train();
  for (nn::Module* m : net.modules()) EXPECT_TRUE(m->is_training());
}

TEST(NnModule, ApplyVisitsChildrenFirst) {
  struct Outer : nn::Module {
    Net& net = register_module("net", Net());
    Act& last = register_module("last", Act());
  } m;
  std::vector<std::string> order;
  m.apply([&](nn::Module& x) { order.push_back(x.name()); });
  EXPECT_EQ(order,
            (std::vector<std::string>{"Leaf", "Stats", "Act", "Leaf", "Net", "Act", "Outer"}));
}

TEST(NnModule, ZeroGradClearsOrZeroes) {
  Net net;
  for (const Tensor& p : net.parameters()) p.set_grad(ones(p.sizes()));
  Tensor g = net.fc1.weight.grad();
  net.zero_grad(/*set_to_none=*/false);
  EXPECT_TRUE(net.fc1.weight.grad().is_same(g));  // zeroed in place
  for (float v : g.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  net.zero_grad();
  for (const Tensor& p : net.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(NnModule, ToDtypeConvertsFloatingTensorsInPlace) {
  Net net;
  Tensor w = net.fc1.weight;
  std::vector<float> before = w.to_vector<float>();
  w.set_grad(full(w.sizes(), 0.5));
  net.to(DType::Float64);
  EXPECT_EQ(w.dtype(), DType::Float64);  // the member handle sees the change
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ(net.get_parameter("fc1.weight").dtype(), DType::Float64);
  std::vector<double> after = w.to_vector<double>();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], double(before[i]));
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), DType::Float64);
  EXPECT_EQ(w.grad().to_vector<double>()[0], 0.5);
  EXPECT_EQ(net.bn.mean.dtype(), DType::Float64);
  EXPECT_EQ(net.bn.scratch.dtype(), DType::Float64);
  EXPECT_EQ(net.bn.count.dtype(), DType::Int64);  // integer buffers stay
  EXPECT_THROW(net.to(DType::Int64), Error);
}

TEST(NnModule, RequiresGradToggle) {
  Net net;
  net.requires_grad_(false);
  for (const Tensor& p : net.parameters()) EXPECT_FALSE(p.requires_grad());
  net.requires_grad_();
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(NnModule, ClassNameWithoutNamespacesOrTemplates) {
  Net net;
  EXPECT_EQ(net.name(), "Net");
  EXPECT_EQ(outer::inner::Box<std::vector<int>>().name(), "Box");
  struct Local : nn::Module {};
  EXPECT_EQ(Local().name(), "Local");
  EXPECT_EQ(nn::class_name(typeid(outer::inner::Box<int>)), "Box");
}

TEST(NnModule, DefaultForwardThrows) {
  Act a;
  EXPECT_EQ(error_of([&] { a(ones({1})); }),
            "Module [Act] is missing the required \"forward\" function");
}

TEST(NnModule, ReprLikePyTorch) {
  EXPECT_EQ(Act().repr(), "Act()");
  EXPECT_EQ(Leaf(4, 3).repr(), "Leaf(in_features=4, out_features=3, bias=True)");
  Net net;
  EXPECT_EQ(net.repr(),
            "Net(\n"
            "  (fc1): Leaf(in_features=4, out_features=3, bias=True)\n"
            "  (bn): Stats()\n"
            "  (act): Act()\n"
            "  (fc2): Leaf(in_features=3, out_features=2, bias=False)\n"
            ")");
  // Extra lines come first, one per line; nested children are indented by 2
  // per level.
  struct Outer : nn::Module {
    Net& net = register_module("net", Net());
    Act& act = register_module("act", Act());
    std::string extra_repr() const override { return "mode=a\nscale=2"; }
  } outer;
  EXPECT_EQ(outer.repr(),
            "Outer(\n"
            "  mode=a\n"
            "  scale=2\n"
            "  (net): Net(\n"
            "    (fc1): Leaf(in_features=4, out_features=3, bias=True)\n"
            "    (bn): Stats()\n"
            "    (act): Act()\n"
            "    (fc2): Leaf(in_features=3, out_features=2, bias=False)\n"
            "  )\n"
            "  (act): Act()\n"
            ")");
  // Two extra lines and no children: not the one-line form.
  struct Multi : nn::Module {
    std::string extra_repr() const override { return "a=1\nb=2"; }
  };
  EXPECT_EQ(Multi().repr(), "Multi(\n  a=1\n  b=2\n)");
  std::ostringstream os;
  os << net.fc1;
  EXPECT_EQ(os.str(), "Leaf(in_features=4, out_features=3, bias=True)");
}

TEST(NnModule, MovingKeepsChildReferencesValid) {
  Net a;
  Leaf* fc1 = &a.fc1;
  Tensor w = a.fc1.weight;
  Net b = std::move(a);
  EXPECT_EQ(&b.fc1, fc1);
  EXPECT_EQ(&b.get_submodule("fc1"), static_cast<nn::Module*>(fc1));
  EXPECT_TRUE(b.get_parameter("fc1.weight").is_same(w));
  struct Outer : nn::Module {
    Net& net = register_module("net", Net());
  } o;
  Net* inner = &o.net;
  Outer moved = std::move(o);
  EXPECT_EQ(&moved.net, inner);
  EXPECT_EQ(&moved.get_submodule("net.fc1"), static_cast<nn::Module*>(&inner->fc1));
}

TEST(NnModule, LoadResultPrintsLikeIncompatibleKeys) {
  std::ostringstream ok, bad;
  ok << nn::LoadResult{};
  EXPECT_EQ(ok.str(), "<All keys matched successfully>");
  bad << nn::LoadResult{{"fc3.bias", "fc3.weight"}, {}};
  EXPECT_EQ(bad.str(),
            "_IncompatibleKeys(missing_keys=['fc3.bias', 'fc3.weight'], unexpected_keys=[])");
}
