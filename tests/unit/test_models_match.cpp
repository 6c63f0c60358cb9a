// State_dicts against architectures (models/registry.h): for every registered
// architecture, its classifier is found and its own state_dict, with any class
// count, is matched back to an architecture with the same keys and shapes;
// mismatches are named; from_state_dict loads strictly and suggests the
// architecture that fits. Also nn::init::SkipInitGuard, which makes all this
// cheap.
#include <gtest/gtest.h>

#include <string>

#include "wick/core/error.h"
#include "wick/models/models.h"
#include "wick/nn/init.h"
#include "wick/ops/elementwise.h"

using namespace wick;

namespace {

nn::StateDict state_dict_of(const std::string& name, int64_t classes) {
  nn::init::SkipInitGuard skip;
  return models::create(name, {.num_classes = classes, .dropout = std::nullopt})->state_dict();
}

}  // namespace

TEST(ModelsMatch, EveryArchitectureHasAClassifierAndIsMatched) {
  for (const std::string& name : models::architectures()) {
    SCOPED_TRACE(name);
    const auto& head = models::classifier_keys(name);
    ASSERT_FALSE(head.empty());
    const nn::StateDict sd = state_dict_of(name, 13);
    for (const std::string& key : head) EXPECT_TRUE(sd.contains(key)) << key;
    EXPECT_EQ(models::num_classes(name, sd), 13);
    EXPECT_TRUE(models::compare_state_dict(name, sd).empty());
    const std::optional<std::string> match = models::match_architecture(sd);
    ASSERT_TRUE(match.has_value());
    // Another architecture may only be answered if it holds the very same tensors.
    EXPECT_TRUE(models::compare_state_dict(*match, sd).empty());
  }
  EXPECT_EQ(models::classifier_keys("resnet50"),
            (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_EQ(models::classifier_keys("vgg16"),
            (std::vector<std::string>{"classifier.6.weight", "classifier.6.bias"}));
}

TEST(ModelsMatch, MismatchesAreNamedAndTheFittingArchitectureSuggested) {
  const nn::StateDict r34 = state_dict_of("resnet34", 1000);
  EXPECT_EQ(models::match_architecture(r34), "resnet34");
  const models::StateDictMismatch m = models::compare_state_dict("resnet18", r34);
  ASSERT_FALSE(m.unexpected_keys.empty());
  EXPECT_EQ(m.unexpected_keys.front(), "layer1.2.conv1.weight");
  EXPECT_TRUE(m.missing_keys.empty());
  try {
    models::from_state_dict("resnet18", r34);
    ADD_FAILURE() << "resnet34 weights loaded as resnet18";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("96 unexpected keys ('layer1.2.conv1.weight'"), std::string::npos) << what;
    EXPECT_NE(what.find("these weights fit 'resnet34'"), std::string::npos) << what;
  }
  nn::StateDict odd = state_dict_of("resnet18", 1000);
  odd.set("conv1.weight", zeros({64, 3, 5, 5}));
  odd.erase("fc.bias");
  const std::string summary = models::compare_state_dict("resnet18", odd).summary();
  EXPECT_EQ(summary,
            "1 missing key ('fc.bias'); 1 shape mismatch (conv1.weight: [64, 3, 5, 5] in the "
            "state_dict, [64, 3, 7, 7] in the model)");
  EXPECT_FALSE(models::match_architecture(odd).has_value());
  EXPECT_THROW(models::classifier_keys("resnet5"), Error);
}

TEST(ModelsMatch, FromStateDictLoadsEveryTensorWithItsClassCount) {
  manual_seed(3);
  auto source = models::create("resnet18", {.num_classes = 5, .dropout = std::nullopt});
  const nn::StateDict sd = source->state_dict();
  auto loaded = models::from_state_dict("resnet18", sd);
  const nn::StateDict back = loaded->state_dict();
  ASSERT_EQ(back.keys(), sd.keys());
  for (const auto& [key, t] : sd) {
    const Tensor& u = back.at(key);
    ASSERT_EQ(u.sizes(), t.sizes()) << key;
    EXPECT_TRUE(equal(u, t)) << key;
  }
}

TEST(NnInit, SkipInitGuardLeavesTensorsAlone) {
  Tensor t = full({4, 3}, 7.0);
  {
    nn::init::SkipInitGuard skip;
    EXPECT_TRUE(nn::init::SkipInitGuard::active());
    { nn::init::SkipInitGuard nested; }
    EXPECT_TRUE(nn::init::SkipInitGuard::active());
    nn::init::kaiming_uniform_(t);
    nn::init::zeros_(t);
    EXPECT_THROW(nn::init::kaiming_normal_(t, 0, "fan_sideways"), Error) << "still checked";
  }
  EXPECT_FALSE(nn::init::SkipInitGuard::active());
  for (float v : t.to_vector<float>()) EXPECT_EQ(v, 7.0f);
  nn::init::zeros_(t);
  for (float v : t.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}
