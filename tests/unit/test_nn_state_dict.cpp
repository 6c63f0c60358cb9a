// state_dict / load_state_dict: PyTorch's keys, order and _metadata; storage
// sharing; strict, non-strict and assign loading with PyTorch's error texts;
// nothing changes on failure; the prefix hint and the renaming helpers; the
// round trip through io and a state_dict written by PyTorch 2.11.
#include <gtest/gtest.h>

#include <map>

#include "wick/core/random.h"
#include "wick/io/serialize.h"
#include "wick/nn/module.h"
#include "wick/ops/elementwise.h"
#include "wick/ops/matmul.h"
#include "wick/ops/reduce.h"

using namespace wick;

namespace {

const std::string kFixtures = std::string(WICK_SOURCE_DIR) + "/tests/fixtures/torch-2.11/";

struct Leaf : nn::Module {
  Tensor weight, bias;
  Leaf(int64_t in, int64_t out, bool with_bias = true) {
    weight = register_parameter("weight", randn({out, in}));
    bias = register_parameter("bias", with_bias ? randn({out}) : Tensor());
  }
};

// Version 2 layout adds `count`; older state_dicts are upgraded on load, as
// BatchNorm does for num_batches_tracked.
struct Stats : nn::Module {
  Tensor scale, mean, count, scratch;
  explicit Stats(int64_t n) {
    set_version(2);
    scale = register_parameter("scale", ones({n}));
    mean = register_buffer("mean", randn({n}));
    count = register_buffer("count", zeros({}, {.dtype = DType::Int64}));
    scratch = register_buffer("scratch", zeros({n}), /*persistent=*/false);
    register_buffer("none", Tensor());
  }
  mutable std::vector<std::pair<std::string, std::optional<int64_t>>> upgrades;

 protected:
  void upgrade_state_dict(nn::StateDict& sd, const std::string& prefix,
                          std::optional<int64_t> version) const override {
    upgrades.emplace_back(prefix, version);
    if (version.value_or(1) < 2 && !sd.contains(prefix + "count"))
      sd.set(prefix + "count", full({}, 7, {.dtype = DType::Int64}));
  }
};

struct Net : nn::Module {
  Leaf& fc1 = register_module("fc1", Leaf(4, 3));
  Stats& bn = register_module("bn", Stats(3));
  Leaf& fc2 = register_module("fc2", Leaf(3, 2, false));
};

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Values, dtype and storage of every parameter and buffer, to prove that a
// failed load changed nothing.
struct Snapshot {
  struct Entry {
    std::vector<double> values;
    DType dtype;
    const Storage* storage;
  };
  std::map<std::string, Entry> entries;
  explicit Snapshot(const nn::Module& m) {
    auto named = m.named_parameters();
    for (auto& b : m.named_buffers()) named.push_back(b);
    for (const auto& [k, t] : named)
      entries[k] = {t.to(DType::Float64).to_vector<double>(), t.dtype(), t.storage().get()};
  }
  bool operator==(const Snapshot& o) const {
    if (entries.size() != o.entries.size()) return false;
    for (const auto& [k, e] : entries) {
      auto it = o.entries.find(k);
      if (it == o.entries.end() || it->second.values != e.values || it->second.dtype != e.dtype ||
          it->second.storage != e.storage)
        return false;
    }
    return true;
  }
};

std::vector<double> values(const Tensor& t) {
  return t.to(DType::Float64).to_vector<double>();
}

}  // namespace

TEST(NnStateDict, KeysOrderAndSharing) {
  Net net;
  nn::StateDict sd = net.state_dict();
  EXPECT_EQ(sd.keys(), (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn.scale", "bn.mean",
                                                 "bn.count", "fc2.weight"}));
  const Tensor& w = sd.at("fc1.weight");
  EXPECT_FALSE(w.requires_grad());
  EXPECT_FALSE(w.is_same(net.fc1.weight));
  EXPECT_EQ(w.storage(), net.fc1.weight.storage());
  w.fill_(3.0);  // writes through to the module, as PyTorch's detached tensors do
  EXPECT_EQ(net.fc1.weight.to_vector<float>()[0], 3.0f);
  EXPECT_EQ(net.state_dict("model.").keys().front(), "model.fc1.weight");
}

TEST(NnStateDict, TiedWeightsAppearUnderEachName) {
  struct Tied : nn::Module {
    Leaf& enc = register_module("enc", Leaf(3, 3));
    Leaf& dec = register_module("dec", Leaf(3, 3));
    Tied() { dec.weight.set_data(enc.weight); }
  };
  struct Shared : nn::Module {
    std::shared_ptr<Leaf> leaf = std::make_shared<Leaf>(2, 2);
    Shared() {
      register_module("a", leaf);
      register_module("b", leaf);
    }
  } shared;
  Tied tied;
  nn::StateDict sd = tied.state_dict();
  EXPECT_EQ(sd.at("enc.weight").storage(), sd.at("dec.weight").storage());
  nn::StateDict ssd = shared.state_dict();
  EXPECT_EQ(ssd.keys(), (std::vector<std::string>{"a.weight", "a.bias", "b.weight", "b.bias"}));
  EXPECT_EQ(ssd.metadata().size(), 3u);
  EXPECT_EQ(shared.parameters().size(), 2u);
}

TEST(NnStateDict, MetadataListsEveryModuleWithItsVersion) {
  struct Outer : nn::Module {
    Net& net = register_module("layer1", Net());
  } m;
  nn::StateDict sd = m.state_dict();
  using Meta = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(sd.metadata(),
            (Meta{{"", 1}, {"layer1", 1}, {"layer1.fc1", 1}, {"layer1.bn", 2}, {"layer1.fc2", 1}}));
  EXPECT_EQ(sd.version("layer1.bn"), 2);
  EXPECT_EQ(sd.version("nope"), std::nullopt);

  Value v = sd.to_value();
  ASSERT_TRUE(v.is_dict());
  EXPECT_TRUE(v.as_dict().ordered());
  EXPECT_TRUE(v["layer1.fc1.weight"].as_tensor().is_same(sd.at("layer1.fc1.weight")));
  const Value& meta = v.as_dict().metadata();
  ASSERT_TRUE(meta.is_dict());
  EXPECT_TRUE(meta.as_dict().ordered());
  EXPECT_EQ(meta.as_dict().keys().size(), 5u);
  EXPECT_EQ(meta.as_dict().keys()[1].as_string(), "layer1");
  EXPECT_FALSE(meta["layer1.bn"].as_dict().ordered());
  EXPECT_EQ(meta["layer1.bn"].repr(), "{'version': 2}");

  nn::StateDict back(v);
  EXPECT_EQ(back.keys(), sd.keys());
  EXPECT_EQ(back.metadata(), sd.metadata());
}

TEST(NnStateDict, RoundTripThroughTorchSaveBytesKeepsMetadata) {
  Net net;
  nn::StateDict sd = net.state_dict();
  nn::StateDict back(io::load_bytes(io::save_bytes(sd)));
  EXPECT_EQ(back.keys(), sd.keys());
  EXPECT_EQ(back.metadata(), sd.metadata());
  for (const auto& [k, t] : sd) {
    EXPECT_EQ(back.at(k).dtype(), t.dtype()) << k;
    EXPECT_EQ(values(back.at(k)), values(t)) << k;
  }
  Net other;
  EXPECT_TRUE(other.load_state_dict(back).ok());
  EXPECT_EQ(values(other.fc1.weight), values(net.fc1.weight));
}

TEST(NnStateDict, ReadsAStateDictWrittenByPyTorch) {
  // The recipe's Net: conv1 3->6 k5, pool, conv2 6->16 k5, fc1..fc3.
  struct Conv : nn::Module {
    Tensor weight, bias;
    Conv(int64_t in, int64_t out, int64_t k) {
      weight = register_parameter("weight", zeros({out, in, k, k}));
      bias = register_parameter("bias", zeros({out}));
    }
  };
  struct Pool : nn::Module {};
  struct SeedNet : nn::Module {
    Conv& conv1 = register_module("conv1", Conv(3, 6, 5));
    Pool& pool = register_module("pool", Pool());
    Conv& conv2 = register_module("conv2", Conv(6, 16, 5));
    Leaf& fc1 = register_module("fc1", Leaf(400, 120));
    Leaf& fc2 = register_module("fc2", Leaf(120, 84));
    Leaf& fc3 = register_module("fc3", Leaf(84, 10));
  } net;
  Value file = io::load(kFixtures + "seed_net_state_dict.pt");
  nn::StateDict sd(file);
  EXPECT_EQ(sd.keys(), net.state_dict().keys());
  EXPECT_EQ(sd.metadata(), net.state_dict().metadata());
  nn::LoadResult r = net.load_state_dict(file);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(values(net.fc2.weight), values(file["fc2.weight"].as_tensor()));
  EXPECT_EQ(values(net.conv1.bias), values(file["conv1.bias"].as_tensor()));
  EXPECT_NE(net.fc2.weight.storage(), file["fc2.weight"].as_tensor().storage());  // copied
}

TEST(NnStateDict, RejectsValuesThatAreNotStateDicts) {
  Dict d(true);
  d.set("w", ones({1}));
  d.set("epoch", 3);
  EXPECT_EQ(error_of([&] { nn::StateDict{Value(d)}; }),
            "state_dict: the value of \"epoch\" is a int, not a Tensor");
  Dict k;
  k.set(1, ones({1}));
  EXPECT_EQ(error_of([&] { nn::StateDict{Value(k)}; }), "state_dict: key 1 is a int, not a str");
  EXPECT_THROW(nn::StateDict(Value::list()), Error);
}

TEST(NnStateDict, EditingEntries) {
  nn::StateDict sd;
  sd.set("a", ones({1}));
  sd.set("b", ones({2}));
  sd.set("c", ones({3}));
  sd.set("a", zeros({4}));  // keeps its place
  EXPECT_EQ(sd.keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sd.at("a").numel(), 4);
  EXPECT_TRUE(sd.erase("b"));
  EXPECT_FALSE(sd.erase("b"));
  EXPECT_EQ(sd.keys(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(sd.at("c").numel(), 3);  // positions after the erased key still resolve
  EXPECT_EQ(sd.find("b"), nullptr);
  EXPECT_EQ(error_of([&] { sd.at("zz"); }), "state_dict: no key \"zz\"");
  EXPECT_THROW(sd.set("u", Tensor()), Error);
}

TEST(NnStateDict, LoadCopiesValuesAndConvertsDtype) {
  Net src, dst;
  Tensor w = dst.fc1.weight;
  auto storage = w.storage();
  nn::StateDict sd = src.state_dict();
  sd.set("fc1.weight", sd.at("fc1.weight").to(DType::Float64));
  nn::LoadResult r = dst.load_state_dict(sd);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(w.dtype(), DType::Float32);  // the module keeps its dtype
  EXPECT_EQ(w.storage(), storage);       // and its storage
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ(values(w), values(src.fc1.weight));
  EXPECT_EQ(values(dst.bn.mean), values(src.bn.mean));
  EXPECT_NE(dst.bn.mean.storage(), src.bn.mean.storage());
}

TEST(NnStateDict, StrictFailureNamesKeysLikePyTorchAndChangesNothing) {
  Net net;
  Snapshot before(net);
  nn::StateDict sd = Net().state_dict();
  sd.erase("fc2.weight");
  sd.erase("bn.scale");
  sd.set("fc1.extra", ones({1}));  // under a child's prefix, unknown to the child
  sd.set("zzz", ones({1}));
  sd.set("bn.mean", sd.at("bn.mean").to(DType::Float64));
  EXPECT_EQ(error_of([&] { net.load_state_dict(sd); }),
            "Error(s) in loading state_dict for Net:\n"
            "\tMissing key(s) in state_dict: \"bn.scale\", \"fc2.weight\". \n"
            "\tUnexpected key(s) in state_dict: \"zzz\", \"fc1.extra\". ");
  EXPECT_TRUE(Snapshot(net) == before);

  // Non-strict: what matches is applied and the rest reported.
  nn::LoadResult r = net.load_state_dict(sd, /*strict=*/false);
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"bn.scale", "fc2.weight"}));
  EXPECT_EQ(r.unexpected_keys, (std::vector<std::string>{"zzz", "fc1.extra"}));
  EXPECT_EQ(values(net.fc1.weight), values(sd.at("fc1.weight")));
  EXPECT_EQ(values(net.bn.mean), values(sd.at("bn.mean")));
  EXPECT_EQ(net.bn.mean.dtype(), DType::Float32);
}

TEST(NnStateDict, SizeMismatchIsAnErrorEvenWhenNotStrict) {
  Net net;
  Snapshot before(net);
  nn::StateDict sd = Net().state_dict();
  sd.set("fc1.weight", zeros({3, 5}));
  sd.set("bn.mean", zeros({4}));
  sd.erase("fc2.weight");
  std::string mismatches =
      "\n\tsize mismatch for fc1.weight: copying a param with shape torch.Size([3, 5]) from "
      "checkpoint, the shape in current model is torch.Size([3, 4]).\n"
      "\tsize mismatch for bn.mean: copying a param with shape torch.Size([4]) from checkpoint, "
      "the shape in current model is torch.Size([3]).";
  EXPECT_EQ(error_of([&] { net.load_state_dict(sd, false); }),
            "Error(s) in loading state_dict for Net:" + mismatches);
  EXPECT_TRUE(Snapshot(net) == before);  // fc1.bias matched, but was not applied either
  EXPECT_EQ(error_of([&] { net.load_state_dict(sd); }),
            "Error(s) in loading state_dict for Net:\n"
            "\tMissing key(s) in state_dict: \"fc2.weight\". " +
                mismatches);
  EXPECT_TRUE(Snapshot(net) == before);
}

TEST(NnStateDict, AssignAdoptsTheGivenTensors) {
  Net net;
  Tensor w = net.fc1.weight;
  nn::StateDict sd = Net().state_dict();
  sd.set("fc1.weight", sd.at("fc1.weight").to(DType::Float64));
  const Tensor src = sd.at("fc1.weight");
  const Tensor mean = sd.at("bn.mean");
  EXPECT_TRUE(net.load_state_dict(sd, true, /*assign=*/true).ok());
  EXPECT_EQ(w.storage(), src.storage());  // the member handle now views the loaded storage
  EXPECT_EQ(w.dtype(), DType::Float64);
  EXPECT_TRUE(w.requires_grad());  // as the parameter was
  EXPECT_EQ(net.bn.mean.storage(), mean.storage());
  EXPECT_FALSE(net.bn.mean.requires_grad());
  net.fc2.weight.requires_grad_(false);
  EXPECT_TRUE(net.load_state_dict(Net().state_dict(), true, true).ok());
  EXPECT_FALSE(net.fc2.weight.requires_grad());
}

TEST(NnStateDict, UpgradeSeesPrefixAndRecordedVersion) {
  Net net;
  nn::StateDict sd = Net().state_dict();
  sd.erase("bn.count");
  // No metadata: an unknown (old) layout is upgraded.
  sd.set_metadata({});
  EXPECT_TRUE(net.load_state_dict(sd).ok());
  EXPECT_EQ(net.bn.count.item<int64_t>(), 7);
  ASSERT_EQ(net.bn.upgrades.size(), 1u);
  EXPECT_EQ(net.bn.upgrades[0].first, "bn.");
  EXPECT_EQ(net.bn.upgrades[0].second, std::nullopt);
  EXPECT_FALSE(sd.contains("bn.count"));  // the caller's dict is not edited
  // Recorded version 2: nothing to upgrade, so the missing key is reported.
  sd.set_metadata({{"", 1}, {"bn", 2}});
  EXPECT_EQ(net.load_state_dict(sd, false).missing_keys, (std::vector<std::string>{"bn.count"}));
  EXPECT_EQ(net.bn.upgrades.back().second, 2);
}

TEST(NnStateDict, StrictFailureNamesACommonPrefix) {
  Net net;
  nn::StateDict sd = nn::add_prefix(Net().state_dict(), "module.");
  std::string msg = error_of([&] { net.load_state_dict(sd); });
  EXPECT_TRUE(msg.ends_with(
      "\n\tThe state_dict's keys start with \"module.\" where the model's do not; load "
      "nn::strip_prefix(sd, \"module.\") instead."))
      << msg;
  EXPECT_TRUE(net.load_state_dict(nn::strip_prefix(sd, "module.")).ok());

  struct Wrapper : nn::Module {
    Net& backbone = register_module("backbone", Net());
  } wrapped;
  msg = error_of([&] { wrapped.load_state_dict(Net().state_dict()); });
  EXPECT_TRUE(msg.ends_with(
      "\n\tThe model's keys start with \"backbone.\" where the state_dict's do not; load "
      "nn::add_prefix(sd, \"backbone.\") instead."))
      << msg;
  // Keys that merely differ are not given a hint.
  nn::StateDict other = Net().state_dict();
  other.erase("fc2.weight");
  msg = error_of([&] { net.load_state_dict(other); });
  EXPECT_EQ(msg.find("prefix"), std::string::npos) << msg;
}

TEST(NnStateDict, PrefixAndRenameHelpers) {
  struct Outer : nn::Module {
    Net& net = register_module("module", Net());
  } outer;
  nn::StateDict sd = outer.state_dict();  // as DataParallel leaves it
  nn::StateDict stripped = nn::strip_prefix(sd, "module.");
  EXPECT_EQ(stripped.keys(), Net().state_dict().keys());
  EXPECT_TRUE(stripped.at("fc1.weight").is_same(sd.at("module.fc1.weight")));
  using Meta = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(stripped.metadata(), Net().state_dict().metadata());
  nn::StateDict added = nn::add_prefix(stripped, "module.");
  EXPECT_EQ(added.keys(), sd.keys());
  EXPECT_EQ(added.metadata(),
            (Meta{{"module", 1}, {"module.fc1", 1}, {"module.bn", 2}, {"module.fc2", 1}}));

  nn::StateDict renamed = nn::rename_keys(stripped, [](const std::string& k) -> std::string {
    if (k.starts_with("bn.")) return {};  // dropped
    return k.starts_with("fc1.") ? "encoder." + k.substr(4) : k;
  });
  EXPECT_EQ(renamed.keys(),
            (std::vector<std::string>{"encoder.weight", "encoder.bias", "fc2.weight"}));
  EXPECT_EQ(
      error_of([&] { nn::rename_keys(stripped, [](const std::string&) { return "x"; }); }),
      "rename_keys: \"fc1.bias\" is renamed to \"x\", which another key was already renamed to");
}

TEST(NnStateDict, LoadingASubsetWarmStartsAnotherModel) {
  struct Bigger : nn::Module {
    Leaf& fc1 = register_module("fc1", Leaf(4, 3));
    Leaf& head = register_module("head", Leaf(3, 7));
  } big;
  Net net;
  nn::LoadResult r = big.load_state_dict(net.state_dict(), /*strict=*/false);
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"head.weight", "head.bias"}));
  EXPECT_EQ(r.unexpected_keys,
            (std::vector<std::string>{"bn.scale", "bn.mean", "bn.count", "fc2.weight"}));
  EXPECT_EQ(values(big.fc1.weight), values(net.fc1.weight));
}
