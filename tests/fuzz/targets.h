// The entry code of the fuzz targets, one function per parser: shared by the
// libFuzzer binaries (tests/fuzz/<target>.cpp, built with -DWICK_FUZZ=ON) and
// by the regression test (tests/unit/test_fuzz_regressions.cpp), which replays
// tests/fuzz/seeds/ and tests/fuzz/regressions/ through the same functions.
//
// Each function parses the bytes and, when they parse, walks the result as a
// user would (every path of the value tree, every small tensor's elements).
// A wick::Error is the expected outcome for malformed input and is swallowed
// (the function returns false; true when the bytes parsed); anything else -
// another exception, a crash, a sanitizer report - escapes and fails the
// fuzzer or the test.
#pragma once

#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "io/legacy.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "wick/core/error.h"
#include "wick/core/tensor.h"
#include "wick/core/value.h"
#include "wick/data/idx.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"
#include "wick/io/sharded.h"

namespace wick::fuzz {

namespace detail {

inline std::span<const std::byte> bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

// Reads a tensor's elements through its view (sizes, strides, offset), so that
// a view reaching outside its storage is caught by ASan. Tensors that expand a
// small storage into many elements (stride 0) are legal and skipped.
inline void touch(const Tensor& t) {
  if (t.numel() <= (int64_t(1) << 16)) (void)t.clone();
}

inline void walk(const Value& v) {
  for (const auto& [path, leaf] : leaves(v))
    if (leaf.is_tensor()) touch(leaf.as_tensor());
}

}  // namespace detail

/// One pickle (data.pkl), with storages made on demand (at most 64 KiB each).
inline bool fuzz_unpickle(const uint8_t* data, size_t size) {
  auto resolve = [](const io::detail::StorageRef& ref) {
    if (ref.nbytes > (int64_t(1) << 16)) throw Error("fuzz: storage too large");
    auto s = Storage::allocate(size_t(ref.nbytes));
    std::memset(s->data(), 0, s->nbytes());  // zero: valid for every dtype, bool included
    return s;
  };
  // Each input in every records mode: plain, TorchScript classes, any class.
  bool loaded = false;
  for (auto records :
       {io::detail::Records::None, io::detail::Records::TorchScript, io::detail::Records::Any}) {
    io::detail::UnpickleOptions options;
    options.max_depth = 200;
    options.what = "fuzz.pkl";
    options.records = records;
    try {
      detail::walk(io::detail::unpickle(detail::bytes(data, size), resolve, options));
      loaded = true;
    } catch (const Error&) {
    }
  }
  return loaded;
}

/// A torch.save file (zip, or legacy through the same dispatch) from memory;
/// when it loads, again with CRC checks and a float64 conversion.
inline bool fuzz_pt_zip(const uint8_t* data, size_t size) {
  try {
    detail::walk(io::load_bytes(detail::bytes(data, size)));
    io::LoadOptions checked;
    checked.verify_crc = true;
    checked.floating_dtype = DType::Float64;
    detail::walk(io::load_bytes(detail::bytes(data, size), checked));
  } catch (const Error&) {
  }
  // Read as a pickled whole model (records for any class).
  try {
    io::LoadOptions extract;
    extract.extract_state_dict = true;
    detail::walk(io::load_bytes(detail::bytes(data, size), extract));
  } catch (const Error&) {
    return false;
  }
  return true;
}

/// A legacy-format torch.save stream from memory.
inline bool fuzz_pt_legacy(const uint8_t* data, size_t size) {
  try {
    auto src = io::detail::Source::memory(detail::bytes(data, size), "fuzz.pt");
    detail::walk(io::detail::load_legacy(src, 200));
  } catch (const Error&) {
  }
  try {
    auto src = io::detail::Source::memory(detail::bytes(data, size), "fuzz.pt");
    detail::walk(io::detail::load_legacy(src, 200, /*extract_state_dict=*/true));
  } catch (const Error&) {
    return false;
  }
  return true;
}

/// A safetensors file from memory.
inline bool fuzz_safetensors(const uint8_t* data, size_t size) {
  try {
    io::SafetensorsFile f = io::load_safetensors_bytes(detail::bytes(data, size));
    for (const auto& [name, t] : f.tensors) detail::touch(t.as_tensor());
  } catch (const Error&) {
    return false;
  }
  return true;
}

/// An IDX file (raw or gzip) from memory.
inline bool fuzz_idx(const uint8_t* data, size_t size) {
  try {
    detail::touch(data::parse_idx({data, size}, "fuzz.idx"));
  } catch (const Error&) {
    return false;
  }
  return true;
}

namespace detail {

// A directory holding two safetensors shards (keys a, b; c) that fuzzed
// indexes refer to, made once per process and removed at its end.
struct ShardDir {
  std::filesystem::path dir;
  ShardDir() {
    dir =
        std::filesystem::temp_directory_path() / ("wick-fuzz-index-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    Dict one(true), two(true);
    one.set("a", zeros({2}));
    one.set("b", zeros({1}));
    two.set("c", zeros({3}));
    io::SaveOptions quick;
    quick.fsync = false;
    io::save_safetensors(one, (dir / "model-00001-of-00002.safetensors").string(), {}, quick);
    io::save_safetensors(two, (dir / "model-00002-of-00002.safetensors").string(), {}, quick);
  }
  ~ShardDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace detail

/// A sharded checkpoint's index (model.safetensors.index.json) over two
/// fixed shards: resolved, loaded and verified.
inline bool fuzz_sharded_index(const uint8_t* data, size_t size) {
  static detail::ShardDir shards;
  const std::string index = (shards.dir / "fuzz.index.json").string();
  {
    std::ofstream f(index, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  (void)io::verify_sharded(index);
  try {
    io::ShardedCheckpoint c = io::load_sharded(index);
    for (const auto& [name, t] : c.tensors) detail::touch(t.as_tensor());
  } catch (const Error&) {
    return false;
  }
  return true;
}

}  // namespace wick::fuzz
