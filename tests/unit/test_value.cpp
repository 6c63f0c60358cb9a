// The Value tree: constructors, kind checks, accessors and their errors, dict
// order and keys, handle semantics, Python-style repr.
#include <gtest/gtest.h>

#include <cmath>

#include "wick/core/value.h"

using namespace wick;

TEST(IoValue, KindsAndAccessors) {
  EXPECT_TRUE(Value().is_none());
  EXPECT_TRUE(Value(nullptr).is_none());
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_EQ(Value(7).as_int(), 7);
  EXPECT_EQ(Value(int64_t(1) << 40).as_int(), int64_t(1) << 40);
  EXPECT_EQ(Value(uint8_t(200)).as_int(), 200);
  EXPECT_EQ(Value(0.5).as_float(), 0.5);
  EXPECT_EQ(Value(0.5f).as_float(), 0.5);
  EXPECT_EQ(Value("s").as_string(), "s");
  EXPECT_EQ(Value(std::string("s")).kind(), ValueKind::String);
  EXPECT_EQ(Value::bytes("\x01").as_bytes(), "\x01");
  EXPECT_EQ(Value(3).to_double(), 3.0);
  EXPECT_EQ(Value::list({1, "a"}).size(), 2u);
  EXPECT_TRUE(Value::tuple({}).is_tuple());
  Tensor t = ones({2});
  EXPECT_TRUE(Value(t).as_tensor().is_same(t));
  EXPECT_FALSE(Value(t).is_parameter());
  EXPECT_TRUE(Value::parameter(t).is_parameter());
  EXPECT_EQ(Value::parameter(t).type_name(), "Parameter");
  EXPECT_THROW(Value(uint64_t(1) << 63), Error);
}

TEST(IoValue, WrongKindNamesBoth) {
  try {
    Value(1.5).as_int();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Value: expected int, got float");
  }
  try {
    Value(Dict(true)).as_list();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Value: expected list, got OrderedDict");
  }
  EXPECT_THROW(Value(true).as_int(), Error);  // bool is not silently an int
  EXPECT_THROW(Value("x").to_double(), Error);
}

TEST(IoValue, DictKeepsInsertionOrderAndTakesIntKeys) {
  Dict d;
  d.set("b", 1);
  d.set("a", 2);
  d.set(0, "zero");
  d.set("b", 3);  // replacing keeps the place
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.keys()[0].as_string(), "b");
  EXPECT_EQ(d.at("b").as_int(), 3);
  EXPECT_EQ(d.at(0).as_string(), "zero");
  EXPECT_TRUE(d.contains(false));  // False == 0, as in Python
  EXPECT_FALSE(d.contains("0"));
  EXPECT_EQ(d.find("zz"), nullptr);
  EXPECT_TRUE(d.erase("a"));
  EXPECT_FALSE(d.erase("a"));
  EXPECT_EQ(d.at(0).as_string(), "zero");
  EXPECT_EQ(d.keys()[1].as_int(), 0);
  try {
    d.at("missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no key 'missing'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(d.set(1.5, 1), Error);
  EXPECT_THROW(d.set(Value::list(), 1), Error);
}

TEST(IoValue, IndexingFollowsPython) {
  Dict state;
  state.set(0, Dict());
  state.at(0).as_dict().set("step", 3);
  Value v(state);
  EXPECT_EQ(v[0]["step"].as_int(), 3);
  Value l = Value::list({10, 20, 30});
  EXPECT_EQ(l[-1].as_int(), 30);
  EXPECT_THROW(l[3], IndexError);
  EXPECT_THROW(l["x"], Error);
  EXPECT_THROW(Value(1)[0], Error);
  EXPECT_TRUE(v.contains(0));
}

TEST(IoValue, CopiesAreHandles) {
  Value a = Value::list({1});
  Value b = a;
  b.as_list().push_back(2);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(a.is(b));
  EXPECT_FALSE(a.is(Value::list({1, 2})));
  Value d{Dict()};
  Value e = d;
  e.as_dict().set("k", 1);
  EXPECT_TRUE(d.contains("k"));
}

TEST(IoValue, ReprIsPythons) {
  Dict d;
  d.set("epoch", 5);
  d.set("loss", 0.4);
  d.set("ok", true);
  d.set("none", Value());
  d.set(1, Value::tuple({1}));
  d.set("l", Value::list({1e-08, 0.001, 1e16, -0.0, 2.0}));
  EXPECT_EQ(Value(d).repr(),
            "{'epoch': 5, 'loss': 0.4, 'ok': True, 'none': None, 1: (1,), "
            "'l': [1e-08, 0.001, 1e+16, -0.0, 2.0]}");
  Dict od(true);
  EXPECT_EQ(Value(od).repr(), "OrderedDict()");
  od.set("a", Value::tuple({1, 2}));
  EXPECT_EQ(Value(od).repr(), "OrderedDict([('a', (1, 2))])");
  EXPECT_EQ(Value("it's").repr(), "\"it's\"");
  EXPECT_EQ(Value("a\n'\"").repr(), "'a\\n\\'\"'");
  EXPECT_EQ(Value::bytes("a\xff").repr(), "b'a\\xff'");
  EXPECT_EQ(Value(std::nan("")).repr(), "nan");
  EXPECT_EQ(Value(-INFINITY).repr(), "-inf");
}

TEST(IoValue, FlattenNamesLeavesByDottedPaths) {
  Dict state;
  Dict s0;
  s0.set("momentum_buffer", wick::zeros({2}));
  state.set(0, Value(s0));
  Dict group;
  group.set("lr", 0.01);
  group.set("betas", Value::tuple({0.9, 0.999}));
  group.set("params", Value::list({0}));
  Dict opt;
  opt.set("state", Value(state));
  opt.set("param_groups", Value::list({Value(group)}));
  opt.set("empty", Value(Dict()));
  auto flat = leaves(Value(opt));
  std::vector<std::string> names;
  for (const auto& [name, v] : flat) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"state.0.momentum_buffer", "param_groups.0.lr",
                                             "param_groups.0.betas.0", "param_groups.0.betas.1",
                                             "param_groups.0.params.0", "empty"}));
  EXPECT_TRUE(flat[0].second.is_tensor());
  EXPECT_EQ(flat[3].second.as_float(), 0.999);
  EXPECT_TRUE(flat[5].second.is_dict());
  auto root = leaves(Value(3));
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root[0].first, "");
}
