// save -> load gives back the same value tree: structure, kinds, bits of every
// tensor, and the same sharing (views of one storage, one tensor under two
// keys). Saves are atomic: a failed save leaves the old file and no temporary.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "wick/core/random.h"
#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;
namespace fs = std::filesystem;

namespace {

// Structural equality that also demands the same sharing pattern: a tensor
// (or storage) seen twice in `a` must be the same one twice in `b`.
struct Same {
  std::map<const void*, const void*> impls, storages;

  bool bijective(std::map<const void*, const void*>& m, const void* x, const void* y) {
    auto [it, inserted] = m.emplace(x, y);
    return it->second == y;
  }

  void operator()(const Value& a, const Value& b, const std::string& path) {
    SCOPED_TRACE(path);
    ASSERT_EQ(a.type_name(), b.type_name());
    switch (a.kind()) {
      case ValueKind::None:
        return;
      case ValueKind::Bool:
        EXPECT_EQ(a.as_bool(), b.as_bool());
        return;
      case ValueKind::Int:
        EXPECT_EQ(a.as_int(), b.as_int());
        return;
      case ValueKind::Float:
        EXPECT_EQ(std::bit_cast<uint64_t>(a.as_float()), std::bit_cast<uint64_t>(b.as_float()));
        return;
      case ValueKind::String:
        EXPECT_EQ(a.as_string(), b.as_string());
        return;
      case ValueKind::Bytes:
        EXPECT_EQ(a.as_bytes(), b.as_bytes());
        return;
      case ValueKind::Tensor: {
        const Tensor& x = a.as_tensor();
        const Tensor& y = b.as_tensor();
        EXPECT_EQ(x.dtype(), y.dtype());
        EXPECT_EQ(x.sizes(), y.sizes());
        EXPECT_EQ(x.strides(), y.strides());
        EXPECT_EQ(x.storage_offset(), y.storage_offset());
        EXPECT_EQ(x.requires_grad(), y.requires_grad());
        EXPECT_TRUE(bijective(impls, x.impl_ptr().get(), y.impl_ptr().get()));
        EXPECT_TRUE(bijective(storages, x.storage().get(), y.storage().get()));
        ASSERT_EQ(x.storage()->nbytes(), y.storage()->nbytes());
        EXPECT_EQ(std::memcmp(x.storage()->data(), y.storage()->data(), x.storage()->nbytes()), 0);
        return;
      }
      case ValueKind::List:
      case ValueKind::Tuple:
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i)
          (*this)(a.as_sequence()[i], b.as_sequence()[i], path + "[" + std::to_string(i) + "]");
        return;
      case ValueKind::Set:
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i)
          (*this)(a.as_set()[i], b.as_set()[i], path + "{" + std::to_string(i) + "}");
        return;
      case ValueKind::Object:
        ADD_FAILURE() << "an Object cannot be saved, so it cannot round-trip";
        return;
      case ValueKind::Dict: {
        const Dict& x = a.as_dict();
        const Dict& y = b.as_dict();
        ASSERT_EQ(x.size(), y.size());
        for (size_t i = 0; i < x.size(); ++i) {
          (*this)(x.items()[i].first, y.items()[i].first, path + ".key");
          (*this)(x.items()[i].second, y.items()[i].second, path + "." + x.items()[i].first.repr());
        }
        EXPECT_EQ(x.metadata().is_none(), y.metadata().is_none());
        if (!x.metadata().is_none()) (*this)(x.metadata(), y.metadata(), path + "._metadata");
        return;
      }
    }
  }
};

// Every kind, every dtype, views, sharing, nesting.
Value everything() {
  Dict sd(true);
  Tensor base = arange(24, DType::Float32).view({4, 6});
  sd.set("base", base);
  sd.set("row_slice", base.slice(0, 1, 3));
  sd.set("col_slice", base.slice(1, 2, 5));
  sd.set("transposed", base.t());
  sd.set("tied", base);  // the same tensor object twice
  sd.set("expanded", arange(3, DType::Float32).view({3, 1}).expand({3, 4}));
  sd.set("scalar", scalar_tensor(2.5));
  sd.set("empty", empty({0, 7}));
  sd.set("slice_only", arange(12, DType::Float64).slice(0, 2, 4));
  DType dtypes[] = {DType::Float32, DType::Float64, DType::Float16,   DType::BFloat16,
                    DType::Int8,    DType::Int16,   DType::Int32,     DType::Int64,
                    DType::UInt8,   DType::Bool,    DType::Complex64, DType::Complex128};
  for (DType t : dtypes)
    sd.set(std::string(dtype_name(t)), arange(12, DType::Int64).view({3, 4}).to(t));
  Dict meta(true);
  Dict version;
  version.set("version", 1);
  meta.set("", Value(version));
  sd.set_metadata(Value(meta));

  Dict state;
  Dict p0;
  p0.set("momentum_buffer", randn({2, 2}));
  p0.set("step", 3);
  state.set(0, Value(p0));
  Dict opt;
  opt.set("state", Value(state));
  Dict group;
  group.set("lr", 0.001);
  group.set("betas", Value::tuple({0.9, 0.999}));
  group.set("nesterov", false);
  group.set("foreach", Value());
  group.set("params", Value::list({0, 1}));
  opt.set("param_groups", Value::list({Value(group)}));

  Dict ckpt;
  ckpt.set("epoch", 5);
  ckpt.set("model_state_dict", Value(sd));
  ckpt.set("optimizer_state_dict", Value(opt));
  ckpt.set("loss", 0.4);
  ckpt.set("floats", Value::list({std::nan(""), INFINITY, -INFINITY, -0.0, 1e-308}));
  ckpt.set("ints", Value::list({0, 255, 256, 65535, 65536, -1, 2147483647, 2147483648LL,
                                int64_t(1) << 40, -(int64_t(1) << 40), INT64_MAX, INT64_MIN}));
  ckpt.set("text", "héllo wörld ✓");
  ckpt.set("raw", Value::bytes(std::string("\x00\x01\xff", 3)));
  ckpt.set("empty_raw", Value::bytes(""));
  ckpt.set("tuple", Value::tuple({1, Value::tuple({}), Value::tuple({"a", "b", "c", "d"})}));
  Tensor w = randn({2, 2});
  w.requires_grad_(true);
  ckpt.set("param", Value::parameter(w));
  ckpt.set("grad_tensor", randn({3}).requires_grad_(true));
  Value shared = Value::list({1, 2});
  ckpt.set("shared", Value::list({shared, shared}));
  ckpt.set("set", Value::set({1, "two", Value::tuple({3})}));
  ckpt.set("empty_set", Value::set());
  ckpt.set("frozenset", Value::set({"a"}, /*frozen=*/true));
  return Value(ckpt);
}

std::string temp_dir() {
  fs::path d = fs::temp_directory_path() / ("wick_io_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string();
}

}  // namespace

TEST(IoRoundTrip, BytesGiveBackTheSameTree) {
  Value v = everything();
  Value back = load_bytes(save_bytes(v));
  Same()(v, back, "ckpt");
  EXPECT_TRUE(back["shared"][0].is(back["shared"][1]));
  // The same tensor under two keys is one object again; views share storage.
  const Value& sd = back["model_state_dict"];
  EXPECT_TRUE(sd["tied"].as_tensor().is_same(sd["base"].as_tensor()));
  EXPECT_EQ(sd["row_slice"].as_tensor().storage(), sd["base"].as_tensor().storage());
  EXPECT_EQ(sd["slice_only"].as_tensor().storage()->nbytes(), 96u);  // whole storage saved
}

TEST(IoRoundTrip, FilesMappedAndCopied) {
  std::string dir = temp_dir();
  std::string path = dir + "/ckpt.pt";
  Value v = everything();
  save(v, path);
  Same()(v, load(path), "mapped");
  Same()(
      v,
      load(path,
           LoadOptions{.mmap = false, .verify_crc = true, .floating_dtype = {}, .max_depth = 1000}),
      "copied");
  SaveOptions o;
  o.layout = ZipLayout::Torch1_13;
  o.fsync = false;
  save(v, path, o);
  Same()(v, load(path), "1.13 layout");
  fs::remove_all(dir);
}

TEST(IoRoundTrip, ArchiveFolderIsTheFileStem) {
  std::string dir = temp_dir();
  Dict d;
  d.set("x", 1);
  save(Value(d), dir + "/model.tar.gz");
  std::ifstream f(dir + "/model.tar.gz", std::ios::binary);
  std::string head(64, '\0');
  f.read(head.data(), 64);
  EXPECT_EQ(head.substr(30, 18), "model.tar/data.pkl");
  fs::remove_all(dir);
}

TEST(IoRoundTrip, FailedSaveKeepsTheOldFileAndLeavesNoTemporary) {
  std::string dir = temp_dir();
  std::string path = dir + "/keep.pt";
  Dict d;
  d.set("x", ones({3}));
  save(Value(d), path);
  auto before = fs::file_size(path);
  Dict bad;
  bad.set("x", zeros({1000}));
  bad.set("bad", std::string("\xff\xfe"));  // not UTF-8: refused while pickling
  EXPECT_THROW(save(Value(bad), path), Error);
  EXPECT_EQ(fs::file_size(path), before);
  EXPECT_EQ(load(path)["x"].as_tensor().to_vector<float>(), (std::vector<float>{1, 1, 1}));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(save(Value(d), dir + "/no/such/dir/x.pt"), Error);
  fs::remove_all(dir);
}

TEST(IoRoundTrip, SavingThroughASymlinkReplacesItsTarget) {
  // As torch.save, which writes into the file the link points to.
  std::string dir = temp_dir();
  fs::create_directories(dir + "/run3");
  Dict d;
  d.set("x", ones({2}));
  save(Value(d), dir + "/run3/ckpt.pt");
  fs::create_symlink("run3/ckpt.pt", dir + "/latest.pt");
  d.set("x", zeros({2}));
  save(Value(d), dir + "/latest.pt");
  EXPECT_TRUE(fs::is_symlink(dir + "/latest.pt"));
  EXPECT_EQ(load(dir + "/run3/ckpt.pt")["x"].as_tensor().to_vector<float>(),
            (std::vector<float>{0, 0}));
  // A link to a file that does not exist yet creates that file.
  fs::create_symlink(dir + "/run4.pt", dir + "/next.pt");
  save(Value(d), dir + "/next.pt");
  EXPECT_TRUE(fs::is_symlink(dir + "/next.pt"));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir + "/run4.pt")));
  // A loop of links is an error, not a hang.
  fs::create_symlink("loop_b.pt", dir + "/loop_a.pt");
  fs::create_symlink("loop_a.pt", dir + "/loop_b.pt");
  EXPECT_THROW(save(Value(d), dir + "/loop_a.pt"), Error);
  fs::remove_all(dir);
}

TEST(IoRoundTrip, RefusesToSaveAnObjectRecord) {
  Dict d;
  d.set("module", Value::object(Object{"__torch__.Net", Dict(), false}));
  try {
    save_bytes(Value(d));
    FAIL() << "an Object record was saved";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'__torch__.Net' cannot be saved"), std::string::npos)
        << e.what();
  }
}

TEST(IoRoundTrip, RefusesWhatTorchCannotSave) {
  Value l = Value::list();
  l.as_list().push_back(l);  // a list containing itself
  EXPECT_THROW(save_bytes(l), Error);
  l.as_list().clear();
  Tensor b = zeros({4}, {.dtype = DType::Int32});
  // The same storage viewed as another dtype.
  Tensor as_float = make_tensor(b.storage(), DType::Float32, b.sizes(), b.strides());
  Dict d;
  d.set("a", b);
  d.set("b", as_float);
  try {
    save_bytes(Value(d));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("viewed both as int32 and as float32"), std::string::npos);
  }
}

TEST(IoRoundTrip, LargeDictsUseSeveralBatchesAndLongMemo) {
  Dict d(true);
  for (int i = 0; i < 2500; ++i) d.set(std::string("k").append(std::to_string(i)), full({1}, i));
  Value back = load_bytes(save_bytes(Value(d)));
  ASSERT_EQ(back.size(), 2500u);
  EXPECT_EQ(back["k2499"].as_tensor().item<float>(), 2499.f);
  EXPECT_EQ(back.as_dict().keys()[1000].as_string(), "k1000");
}
