// models::create: every name builds the model its typed builder builds
// (same state_dict keys and shapes), options reach the model, and an unknown
// name is an error that lists the known ones and suggests the closest.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "wick/core/error.h"
#include "wick/models/models.h"

using namespace wick;

namespace {

std::string error_of(std::string_view name) {
  try {
    models::create(name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ModelsRegistry, NamesAreSortedAndUnique) {
  const auto& names = models::architectures();
  ASSERT_FALSE(names.empty());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "resnet50"), names.end());
}

TEST(ModelsRegistry, CreateEqualsTheTypedBuilder) {
  auto net = models::create("resnet18", {.num_classes = 7});
  const nn::StateDict expected = models::resnet18({.num_classes = 7}).state_dict();
  const nn::StateDict actual = net->state_dict();
  ASSERT_EQ(actual.keys(), expected.keys());
  for (const auto& [key, t] : expected) EXPECT_EQ(actual.at(key).sizes(), t.sizes()) << key;
  EXPECT_EQ(actual.at("fc.weight").sizes(), (std::vector<int64_t>{7, 512}));
}

TEST(ModelsRegistry, DropoutReachesTheClassifier) {
  auto net = models::create("alexnet", {.num_classes = 3, .dropout = 0.25});
  auto& alex = dynamic_cast<models::AlexNet&>(*net);
  std::ostringstream os;
  os << alex.classifier;
  EXPECT_NE(os.str().find("p=0.25"), std::string::npos) << os.str();
}

TEST(ModelsRegistry, UnknownNameListsKnownAndSuggests) {
  const std::string e = error_of("resnet_50");
  EXPECT_NE(e.find("unknown architecture 'resnet_50'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'resnet50'?"), std::string::npos) << e;
  EXPECT_NE(e.find("vgg16_bn"), std::string::npos) << e;
  const std::string far = error_of("transformer");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  EXPECT_NE(far.find("known:"), std::string::npos) << far;
}
