// The C++ half of the checkpoint interop tests (interop.py is the Python half,
// run with PyTorch 1.13):
//
//   wick_io_interop describe FILE [--copy] [--extract-state-dict]
//                                            print FILE's value tree as JSON
//   wick_io_interop resave IN OUT [1.13|2]   load IN, save it to OUT
//   wick_io_interop seed-net FILE            load FILE strictly into the recipe's Net
//                                            and print its output on a fixed input
//                                            (arange(3072)/3072 as 1x3x32x32), JSON
//   wick_io_interop convert IN OUT DTYPE     load IN (a dict), save its tensors .to(DTYPE)
//   wick_io_interop write DIR                write wick's own corpus: DIR/NAME.pt
//                                            and DIR/NAME.json (its description)
//
// A description lists every leaf with its kind and value (floats as bit
// patterns), every tensor with dtype, shape, strides, offset, requires_grad,
// the SHA-256 of its whole storage, and ids that number distinct tensors,
// storages, lists and dicts in first-met order, so that sharing is compared too.
// interop.py computes the same description of what torch.load returns.
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "io/test_sha256.h"
#include "seed_net.h"
#include "wick/core/random.h"
#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;
using json = nlohmann::json;

namespace {

struct Describer {
  std::unordered_map<const void*, int> storages, tensors, containers;

  static int id_of(std::unordered_map<const void*, int>& ids, const void* p) {
    return ids.emplace(p, int(ids.size())).first->second;
  }

  json operator()(const Value& v) {
    switch (v.kind()) {
      case ValueKind::None:
        return {{"type", "None"}};
      case ValueKind::Bool:
        return {{"type", "bool"}, {"value", v.as_bool()}};
      case ValueKind::Int:
        return {{"type", "int"}, {"value", std::to_string(v.as_int())}};
      case ValueKind::Float: {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx",
                      static_cast<unsigned long long>(std::bit_cast<uint64_t>(v.as_float())));
        return {{"type", "float"}, {"bits", buf}};
      }
      case ValueKind::String:
        return {{"type", "str"}, {"value", v.as_string()}};
      case ValueKind::Bytes: {
        std::string hex;
        char buf[3];
        for (unsigned char c : v.as_bytes()) {
          std::snprintf(buf, sizeof buf, "%02x", c);
          hex += buf;
        }
        return {{"type", "bytes"}, {"hex", hex}};
      }
      case ValueKind::Tensor: {
        const Tensor& t = v.as_tensor();
        const auto& s = t.storage();
        return {{"type", v.is_parameter() ? "Parameter" : "Tensor"},
                {"dtype", std::string(dtype_name(t.dtype()))},
                {"shape", t.sizes()},
                {"stride", t.strides()},
                {"offset", t.storage_offset()},
                {"requires_grad", t.requires_grad()},
                {"tensor", id_of(tensors, t.impl_ptr().get())},
                {"storage", id_of(storages, s.get())},
                {"storage_nbytes", s->nbytes()},
                {"sha256", wick::test::sha256(reinterpret_cast<const unsigned char*>(s->data()),
                                              s->nbytes())}};
      }
      case ValueKind::List:
      case ValueKind::Tuple: {
        json items = json::array();
        for (const Value& x : v.as_sequence()) items.push_back((*this)(x));
        json out = {{"type", v.type_name()}, {"items", items}};
        if (v.is_list()) out["id"] = id_of(containers, &v.as_sequence());
        return out;
      }
      case ValueKind::Dict: {
        const Dict& d = v.as_dict();
        json out = {{"type", v.type_name()}, {"id", id_of(containers, &d)}};
        json items = json::array();
        for (const auto& [k, x] : d) items.push_back(json::array({(*this)(k), (*this)(x)}));
        out["items"] = items;
        if (!d.metadata().is_none()) out["metadata"] = (*this)(d.metadata());
        return out;
      }
      case ValueKind::Set: {
        json items = json::array();
        for (const Value& x : v.as_set()) items.push_back((*this)(x));
        return {{"type", v.type_name()}, {"items", items}};
      }
      case ValueKind::Object:
        return {{"type", "object"}, {"class", v.as_object().type}};
    }
    return {};
  }
};

// Deterministic bytes for a tensor of any dtype (bools 0/1, floats any bits).
Tensor patterned(const Shape& sizes, DType dtype, uint32_t seed) {
  Tensor t = empty(sizes, {.dtype = dtype});
  auto* p = static_cast<unsigned char*>(t.data_ptr());
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.nbytes(); ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = dtype == DType::Bool ? (x >> 16) & 1 : uint8_t(x >> 16);
  }
  return t;
}

const DType kDTypes[] = {DType::Float32, DType::Float64, DType::Float16,   DType::BFloat16,
                         DType::Int8,    DType::Int16,   DType::Int32,     DType::Int64,
                         DType::UInt8,   DType::Bool,    DType::Complex64, DType::Complex128};

Dict metadata_for(std::initializer_list<std::pair<const char*, int>> modules) {
  Dict meta(true);
  for (auto [name, version] : modules) {
    Dict v;
    v.set("version", version);
    meta.set(name, Value(v));
  }
  return meta;
}

// The corpus wick writes for torch to read. Names ending in "_wo" hold no
// floats or bytes, so torch 1.13's weights_only loader must accept them too.
std::vector<std::pair<std::string, Value>> corpus() {
  std::vector<std::pair<std::string, Value>> out;
  {
    Dict d(true);
    uint32_t seed = 1;
    for (DType t : kDTypes) {
      d.set(std::string(dtype_name(t)), patterned({3, 4}, t, seed++));
      d.set(std::string(dtype_name(t)) + "_0dim", patterned({}, t, seed++));
      d.set(std::string(dtype_name(t)) + "_empty", patterned({0, 5}, t, seed++));
    }
    out.emplace_back("all_dtypes_wo", Value(d));
  }
  {
    Dict d(true);
    Tensor base = patterned({4, 6}, DType::Float32, 7);
    d.set("base", base);
    d.set("row_slice", base.slice(0, 1, 3));
    d.set("col_slice", base.slice(1, 2, 5));
    d.set("stepped", base.slice(1, 0, 6, 2));
    d.set("transposed", base.t());
    d.set("tied_a", base);
    d.set("tied_b", base);
    d.set("same_storage_new_tensor", base.view({24}));
    d.set("expanded", patterned({3, 1}, DType::Float64, 8).expand({3, 5}));
    d.set("slice_only", patterned({12}, DType::Int64, 9).slice(0, 2, 4));
    d.set("selected", patterned({2, 3, 4}, DType::Int16, 10).select(1, 2));
    d.set("permuted", patterned({2, 3, 4}, DType::BFloat16, 11).permute({2, 0, 1}));
    d.set("empty_1d", empty({0}));
    d.set("empty_3d", empty({2, 0, 3}));
    d.set_metadata(Value(metadata_for({{"", 1}, {"0", 1}, {"1", 2}})));
    out.emplace_back("views_wo", Value(d));
  }
  {
    Dict d;
    Tensor p = patterned({2, 2}, DType::Float32, 12);
    p.requires_grad_(true);
    d.set("param", Value::parameter(p));
    d.set("param_again", Value::parameter(p));  // one tensor: one Parameter object
    Tensor q = patterned({3}, DType::Float64, 13);
    d.set("frozen_param", Value::parameter(q));
    Tensor r = patterned({2}, DType::Float32, 14);
    r.requires_grad_(true);
    d.set("requires_grad", r);
    out.emplace_back("parameters_wo", Value(d));
  }
  {
    Dict ckpt;
    ckpt.set("epoch", 5);
    Dict sd(true);
    sd.set("fc.weight", patterned({3, 4}, DType::Float32, 20));
    sd.set("fc.bias", patterned({3}, DType::Float32, 21));
    sd.set("bn.running_mean", patterned({3}, DType::Float32, 22));
    sd.set("bn.num_batches_tracked", full({}, 7, {.dtype = DType::Int64}));
    sd.set_metadata(Value(metadata_for({{"", 1}, {"fc", 1}, {"bn", 2}})));
    ckpt.set("model_state_dict", Value(sd));
    Dict state;
    for (int i = 0; i < 2; ++i) {
      Dict s;
      s.set("step", full({}, 3.0));
      s.set("exp_avg", patterned({3}, DType::Float32, uint32_t(30 + i)));
      state.set(i, Value(s));
    }
    Dict group;
    group.set("lr", 0.001);
    group.set("betas", Value::tuple({0.9, 0.999}));
    group.set("eps", 1e-08);
    group.set("weight_decay", 0);
    group.set("amsgrad", false);
    group.set("foreach", Value());
    group.set("params", Value::list({0, 1}));
    Dict opt;
    opt.set("state", Value(state));
    opt.set("param_groups", Value::list({Value(group)}));
    ckpt.set("optimizer_state_dict", Value(opt));
    ckpt.set("loss", 0.4);
    ckpt.set("floats", Value::list({std::nan(""), INFINITY, -INFINITY, -0.0, 1e-308, 5e-324}));
    ckpt.set("ints", Value::list({0, 255, 256, 65535, 65536, -1, -256, 2147483647, 2147483648LL,
                                  -2147483648LL, -2147483649LL, int64_t(1) << 40,
                                  -(int64_t(1) << 40), INT64_MAX, INT64_MIN}));
    ckpt.set("text", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x99\x82");
    ckpt.set("raw", Value::bytes(std::string("\x00\x01\x7f\x80\xff", 5)));
    ckpt.set("empty_raw", Value::bytes(""));
    ckpt.set("nested", Value::tuple({1, Value::tuple({}), Value::list({Value(), true, "x"}),
                                     Value::tuple({"a", "b", "c", "d"})}));
    Value shared = Value::list({1, 2});
    ckpt.set("shared_list", Value::list({shared, shared}));
    ckpt.set("empty_dict", Value(Dict()));
    ckpt.set("empty_ordered", Value(Dict(true)));
    Dict counter;  // MultiStepLR's milestones
    counter.set_counter(true);
    counter.set(2, 1);
    counter.set(4, 2);
    ckpt.set("counter", Value(counter));
    out.emplace_back("checkpoint", Value(ckpt));
  }
  {
    // More than 1000 entries (two SETITEMS batches), more than 256 memo entries.
    Dict d(true);
    for (int i = 0; i < 1500; ++i)
      d.set("layer" + std::to_string(i) + ".weight", full({1}, i, {.dtype = DType::Int32}));
    out.emplace_back("big_dict_wo", Value(d));
  }
  {
    // More than 65,535 records: ZIP64 end records carry the count.
    Value l = Value::list();
    for (int i = 0; i < 70000; ++i) l.as_list().push_back(full({}, i, {.dtype = DType::Int32}));
    out.emplace_back("zip64_records_wo", l);
  }
  return out;
}

int usage() {
  std::cerr << "usage: wick_io_interop describe FILE [--copy] [--extract-state-dict] | "
               "seed-net FILE | resave IN OUT [1.13|2] | write DIR | convert IN OUT DTYPE\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) return usage();
    std::string cmd = argv[1];
    if (cmd == "describe") {
      LoadOptions o;
      o.verify_crc = true;
      for (int i = 3; i < argc; ++i) {
        if (std::string(argv[i]) == "--copy") o.mmap = false;
        if (std::string(argv[i]) == "--extract-state-dict") o.extract_state_dict = true;
      }
      std::cout << Describer()(load(argv[2], o)).dump() << "\n";
      return 0;
    }
    if (cmd == "seed-net") {
      wick::testing::SeedNet net;
      net.load_state_dict(load(argv[2]));
      net.eval();
      Tensor x = (arange(3072, DType::Float32) / 3072.0).view({1, 3, 32, 32});
      Tensor y = net(x).contiguous();
      json out = json::array();
      for (int64_t i = 0; i < y.numel(); ++i) out.push_back(y.data<float>()[i]);
      std::cout << out.dump() << "\n";
      return 0;
    }
    if (cmd == "resave" && argc >= 4) {
      SaveOptions o;
      if (argc > 4 && std::string(argv[4]) == "1.13") o.layout = ZipLayout::Torch1_13;
      save(load(argv[2]), argv[3], o);
      return 0;
    }
    if (cmd == "convert" && argc == 5) {
      // Every tensor of a dict, converted with Tensor::to.
      Value in = load(argv[2]);
      Dict out(true);
      for (const auto& [k, v] : in.as_dict())
        out.set(k, v.is_tensor() ? Value(v.as_tensor().to(dtype_from_name(argv[4]))) : v);
      save(Value(out), argv[3]);
      return 0;
    }
    if (cmd == "write") {
      std::string dir = argv[2];
      for (const auto& [name, value] : corpus()) {
        save(value, dir + "/" + name + ".pt");
        std::ofstream(dir + "/" + name + ".json") << Describer()(value).dump() << "\n";
      }
      return 0;
    }
    return usage();
  } catch (const Error& e) {
    std::cerr << "wick error: " << e.what() << "\n";
    return 1;
  }
}
