// The safe unpickler on hand-built pickles: every supported opcode, and hostile
// input (unknown globals, truncation, huge lengths, deep nesting, cycles), which
// must be a wick::FormatError naming the problem and its byte offset.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "io/pickle.h"
#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;
namespace iod = wick::io::detail;
using namespace std::string_literals;
using iod::StorageRef;

namespace {

std::span<const std::byte> span(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Storages handed out by key; each request is recorded.
struct Storages {
  std::vector<StorageRef> requests;
  std::shared_ptr<Storage> operator()(const StorageRef& ref) {
    requests.push_back(ref);
    auto s = Storage::allocate(size_t(ref.nbytes));
    for (size_t i = 0; i < s->nbytes(); ++i) s->data()[i] = std::byte(i);
    return s;
  }
};

Value unpickle(const std::string& bytes) {
  Storages st;
  return iod::unpickle(span(bytes), std::ref(st));
}

// The message of the FormatError that unpickling `bytes` throws.
std::string error_of(const std::string& bytes, iod::UnpickleOptions o = {}) {
  Storages st;
  try {
    iod::unpickle(span(bytes), std::ref(st), o);
  } catch (const FormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FormatError";
  return "";
}

std::string u32(uint32_t v) {
  return std::string(reinterpret_cast<const char*>(&v), 4);
}
std::string str(const std::string& s) {
  std::string out(1, 'X');
  out += u32(uint32_t(s.size()));
  out += s;
  return out;
}

// A torch-style tensor: _rebuild_tensor_v2(('storage', cls, key, 'cpu', numel),
// offset, size, stride, False, OrderedDict()).
std::string tensor(const std::string& cls, const std::string& key, int numel, int offset,
                   const std::string& size, const std::string& stride) {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage") + "ctorch\n" + cls + "\n" +
         str(key) + str("cpu") + "K" + char(numel) + "tQK" + char(offset) + size + stride + "\x89" +
         "ccollections\nOrderedDict\n)RtR";
}

}  // namespace

TEST(IoPickle, Scalars) {
  EXPECT_TRUE(unpickle("\x80\x02N.").is_none());
  EXPECT_TRUE(unpickle("\x80\x02\x88.").as_bool());
  EXPECT_FALSE(unpickle("\x80\x02\x89.").as_bool());
  EXPECT_EQ(unpickle("K\xff.").as_int(), 255);
  EXPECT_EQ(unpickle(std::string("M\x00\x01.", 4)).as_int(), 256);
  EXPECT_EQ(unpickle("J\xff\xff\xff\xff.").as_int(), -1);
  EXPECT_EQ(unpickle(std::string("J\x00\x00\x00\x80.", 6)).as_int(), INT32_MIN);
  EXPECT_EQ(unpickle(std::string("\x8a\x05\x40\x00\x00\x00\x01.", 8)).as_int(), 4294967360LL);
  EXPECT_EQ(unpickle("\x8a\x01\xff.").as_int(), -1);
  EXPECT_EQ(unpickle(std::string("\x8a\x00.", 3)).as_int(), 0);
  EXPECT_EQ(unpickle(std::string("\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.", 11)).as_int(),
            INT64_MIN);
  EXPECT_EQ(unpickle("G\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc.").as_float(), 0.001);
  EXPECT_TRUE(std::signbit(unpickle(std::string("G\x80\0\0\0\0\0\0\0.", 10)).as_float()));
  EXPECT_EQ(unpickle(str("h\xc3\xa9llo") + ".").as_string(), "h\xc3\xa9llo");
  EXPECT_EQ(unpickle("U\x03"
                     "abc.")
                .as_string(),
            "abc");
}

TEST(IoPickle, Containers) {
  Value t = unpickle("(K\x01K\x02K\x03K\x04t.");
  ASSERT_TRUE(t.is_tuple());
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(unpickle(").").size(), 0u);
  EXPECT_EQ(unpickle("K\x01\x85.").as_tuple().size(), 1u);
  EXPECT_EQ(unpickle("K\x01K\x02\x86.")[1].as_int(), 2);
  EXPECT_EQ(unpickle("K\x01K\x02K\x03\x87.")[-1].as_int(), 3);
  Value l = unpickle(
      "]q\x00"
      "(K\x01K\x02"
      "eK\x03"
      "a."s);
  ASSERT_TRUE(l.is_list());
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l[2].as_int(), 3);
  Value d = unpickle("}q\x00("s + str("a") + "K\x01K\x07" + str("seven") + "u" + str("b") + "Ns.");
  ASSERT_TRUE(d.is_dict());
  EXPECT_FALSE(d.as_dict().ordered());
  EXPECT_EQ(d["a"].as_int(), 1);
  EXPECT_EQ(d[7].as_string(), "seven");  // int keys, as in an optimizer's state
  EXPECT_TRUE(d["b"].is_none());
  EXPECT_EQ(d.as_dict().keys()[1].as_int(), 7);
}

TEST(IoPickle, MemoSharesObjects) {
  // [x, x] where x is one list: both items are the same object.
  Value v = unpickle(
      "](]q\x01"
      "K\x01"
      "ah\x01"
      "e.");
  EXPECT_TRUE(v[0].is(v[1]));
  // LONG_BINPUT / LONG_BINGET
  Value w = unpickle(str("s") + "r" + u32(300) + "j" + u32(300) + "\x86.");
  EXPECT_EQ(w[1].as_string(), "s");
}

TEST(IoPickle, OrderedDictWithMetadata) {
  std::string p =
      "\x80\x02"
      "ccollections\nOrderedDict\nq\x00)Rq\x01"s +
      str("w") + "K\x05s" + "}" + str("_metadata") + "h\x00)R"s + str("") + "}" + str("version") +
      "K\x02sssb.";
  Value v = unpickle(p);
  EXPECT_TRUE(v.as_dict().ordered());
  EXPECT_EQ(v["w"].as_int(), 5);
  EXPECT_EQ(v.as_dict().metadata()[""]["version"].as_int(), 2);
  EXPECT_EQ(v.type_name(), "OrderedDict");
}

TEST(IoPickle, CounterIsADictOfItsOwnKind) {
  // Python: pickle.dumps(Counter({'b': 2, 7: 1}), protocol=2)
  std::string p =
      "\x80\x02"
      "ccollections\nCounter\nq\x00}q\x01("s +
      str("b") + "K\x02K\x07K\x01u\x85q\x03Rq\x04."s;
  Value v = unpickle(p);
  EXPECT_TRUE(v.as_dict().counter());
  EXPECT_FALSE(v.as_dict().ordered());
  EXPECT_EQ(v.type_name(), "Counter");
  EXPECT_EQ(v.repr(), "Counter({'b': 2, 7: 1})");
  Value back = load_bytes(save_bytes(v));
  EXPECT_TRUE(back.as_dict().counter());
  EXPECT_EQ(back.repr(), v.repr());
  Dict empty;
  empty.set_counter(true);
  EXPECT_EQ(Value(empty).repr(), "Counter()");  // as Python prints it
  EXPECT_NE(error_of("\x80\x02"
                     "ccollections\nCounter\n]\x85R."s)
                .find("must be a dict"),
            std::string::npos);
}

TEST(IoPickle, TensorsFromPersistentIds) {
  Storages st;
  std::string p = "\x80\x02](" +
                  tensor("FloatStorage", "0", 12, 2, "K\x03K\x02\x86", "K\x01K\x03\x86") +
                  tensor("FloatStorage", "0", 12, 0, "K\x0c\x85", "K\x01\x85") + "e.";
  Value v = iod::unpickle(span(p), std::ref(st));
  ASSERT_EQ(st.requests.size(), 1u);  // one storage for both tensors
  EXPECT_EQ(st.requests[0].key, "0");
  EXPECT_EQ(st.requests[0].dtype, DType::Float32);
  EXPECT_EQ(st.requests[0].nbytes, 48);
  const Tensor& a = v[0].as_tensor();
  const Tensor& b = v[1].as_tensor();
  EXPECT_EQ(a.storage(), b.storage());
  EXPECT_EQ(a.sizes(), (Shape{3, 2}));
  EXPECT_EQ(a.strides(), (Shape{1, 3}));
  EXPECT_EQ(a.storage_offset(), 2);
  EXPECT_FALSE(a.requires_grad());
}

TEST(IoPickle, ParameterSizeBytesAndV3) {
  std::string param = "ctorch._utils\n_rebuild_parameter\n(" +
                      tensor("DoubleStorage", "1", 2, 0, "K\x02\x85", "K\x01\x85") +
                      "\x88"
                      "ccollections\nOrderedDict\n)RtR";
  Value p = unpickle(param + ".");
  EXPECT_TRUE(p.is_parameter());
  EXPECT_TRUE(p.as_tensor().requires_grad());
  EXPECT_EQ(p.as_tensor().dtype(), DType::Float64);
  Value n = unpickle("ctorch.nn.parameter\nParameter\n" +
                     tensor("FloatStorage", "0", 1, 0, ")", ")") + "\x89\x86\x81.");
  EXPECT_TRUE(n.is_parameter());
  EXPECT_FALSE(n.as_tensor().requires_grad());
  Value size = unpickle("ctorch\nSize\nK\x02K\x03\x86\x85R.");
  EXPECT_EQ(size[1].as_int(), 3);
  Value b = unpickle("c_codecs\nencode\n" + str("a\xc3\xbf") + str("latin1") + "\x86R.");
  EXPECT_EQ(b.as_bytes(), "a\xff");
  // 2.x _rebuild_tensor_v3: untyped storage (numel in bytes) plus a dtype.
  std::string v3 = "ctorch._utils\n_rebuild_tensor_v3\n((" + str("storage") +
                   "ctorch.storage\nUntypedStorage\n" + str("0") + str("cpu") +
                   "K\x08tQK\x00K\x02\x85K\x01\x85\x89"
                   "ccollections\nOrderedDict\n)R"s +
                   "ctorch\nint32\ntR.";
  Value t3 = unpickle(v3);
  EXPECT_EQ(t3.as_tensor().dtype(), DType::Int32);
  EXPECT_EQ(t3.as_tensor().numel(), 2);
  // Viewed as bool, an untyped storage must hold only 0 and 1 (this one holds
  // bytes 0, 1, 2, ...).
  std::string v3_bool = v3;
  v3_bool.replace(v3_bool.find("int32"), 5, "bool");
  std::string e = error_of(v3_bool);
  EXPECT_NE(e.find("viewed as bool holds byte 2 at 2"), std::string::npos) << e;
}

// What protocols 3 to 5 add: bytes, short and 8-byte strings, frames, MEMOIZE,
// STACK_GLOBAL and NEWOBJ_EX; out-of-band buffers are refused.
TEST(IoPickle, Protocols3To5) {
  auto u64 = [](uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  EXPECT_EQ(unpickle("\x80\x04\x8c\x03"
                     "abc.")
                .as_string(),
            "abc");
  EXPECT_EQ(unpickle("\x80\x04\x8d" + u64(2) + "\xc3\xa9.").as_string(), "\xc3\xa9");
  EXPECT_EQ(unpickle("\x80\x03"
                     "C\x02\x00\xff."s)
                .as_bytes(),
            "\x00\xff"s);
  EXPECT_EQ(unpickle("\x80\x03" + "B"s + u32(3) + "xyz.").as_bytes(), "xyz");
  EXPECT_EQ(unpickle("\x80\x04\x8e" + u64(1) + "z.").as_bytes(), "z");
  // A frame announces the bytes that follow; it may not claim more than remain.
  EXPECT_EQ(unpickle("\x80\x04\x95" + u64(4) +
                     "\x8c\x01"
                     "a.")
                .as_string(),
            "a");
  std::string e = error_of("\x80\x04\x95" + u64(100) + "N.");
  EXPECT_NE(e.find("frame of 100 bytes, but only 2 bytes remain"), std::string::npos) << e;
  // MEMOIZE numbers entries as Python does: the first is 0, the second 1.
  Value t = unpickle("\x80\x04(]\x94}\x94h\x01h\x00t."s);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_TRUE(t[0].is(t[3]) && t[0].is_list());
  EXPECT_TRUE(t[1].is(t[2]) && t[1].is_dict());
  // STACK_GLOBAL resolves through the same allow-list as GLOBAL.
  Value od = unpickle(
      "\x80\x04\x8c\x0b"
      "collections\x94\x8c\x0b"
      "OrderedDict\x94\x93)R.");
  EXPECT_TRUE(od.is_dict() && od.as_dict().ordered());
  e = error_of("\x80\x04\x8c\x02os\x8c\x06system\x93.");
  EXPECT_NE(e.find("'os.system'"), std::string::npos) << e;
  EXPECT_NE(e.find("STACK_GLOBAL at byte 14"), std::string::npos) << e;
  // ... also when the names come back from the memo.
  e = error_of("\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93."s);
  EXPECT_NE(e.find("'os.system'"), std::string::npos) << e;
  e = error_of("\x80\x04K\x01K\x02\x93.");
  EXPECT_NE(e.find("STACK_GLOBAL needs two str, got int and int"), std::string::npos) << e;
  // NEWOBJ_EX: a Parameter without keyword arguments, nothing else.
  const std::string param =
      "ctorch.nn.parameter\nParameter\n" + tensor("FloatStorage", "0", 1, 0, ")", ")") + "\x89\x86";
  EXPECT_TRUE(unpickle(param + "}\x92.").is_parameter());
  e = error_of(param + "}" + str("requires_grad") + "\x88s\x92.");
  EXPECT_NE(e.find("NEWOBJ_EX with keyword arguments"), std::string::npos) << e;
  e = error_of("ccollections\nOrderedDict\n)}\x92.");
  EXPECT_NE(e.find("NEWOBJ_EX is only allowed for torch.nn.parameter.Parameter"), std::string::npos)
      << e;
  // Out-of-band buffers cannot come from a file.
  e = error_of("\x80\x05\x97.");
  EXPECT_NE(e.find("out-of-band buffer"), std::string::npos) << e;
  EXPECT_NE(e.find("NEXT_BUFFER"), std::string::npos) << e;
  e = error_of("\x80\x05N\x98.");
  EXPECT_NE(e.find("READONLY_BUFFER"), std::string::npos) << e;
}

TEST(IoPickle, SetsFrozensetsAndBytearrays) {
  // Protocol 4: EMPTY_SET + ADDITEMS, and FROZENSET.
  Value v = unpickle("\x80\x04\x8f(K\x03K\x01\x90.");
  ASSERT_TRUE(v.is_set());
  EXPECT_FALSE(v.is_frozenset());
  EXPECT_EQ(v.repr(), "{3, 1}");
  v = unpickle("\x80\x04(" + str("a") + "\x91.");
  EXPECT_TRUE(v.is_frozenset());
  EXPECT_EQ(v.repr(), "frozenset({'a'})");
  // Protocol 2: builtins.set called with a list.
  v = unpickle(
      "\x80\x02"
      "c__builtin__\nset\n](K\x07K\x08"
      "e\x85R.");
  ASSERT_TRUE(v.is_set());
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(unpickle("\x80\x02"
                     "c__builtin__\nfrozenset\n]\x85R.")
                .repr(),
            "frozenset()");
  // BYTEARRAY8 and builtins.bytearray load as bytes.
  EXPECT_EQ(unpickle("\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00"
                     "ab."s)
                .as_bytes(),
            "ab");
  EXPECT_EQ(unpickle("\x80\x03"
                     "c__builtin__\nbytearray\nC\x01z\x85R.")
                .as_bytes(),
            "z");
  // A set cannot be added to once the memo handed it out again (no cycles).
  std::string e = error_of("\x80\x04\x8fq\x00(h\x00\x90."s);
  EXPECT_NE(e.find("already referenced"), std::string::npos) << e;
  e = error_of("\x80\x04](K\x01\x90.");
  EXPECT_NE(e.find("adding to a list"), std::string::npos) << e;
  // A set round-trips through the pickler as Python writes it below protocol 4.
  std::vector<iod::PickledStorage> storages;
  // (pickle.dumps({1, 2}, protocol=2) in Python.)
  EXPECT_EQ(iod::pickle(Value::set({1, 2}), storages),
            "\x80\x02"
            "c__builtin__\nset\nq\x00]q\x01(K\x01K\x02"
            "e\x85q\x02Rq\x03."s);
}

TEST(IoPickle, RecordsOnlyWhenAsked) {
  // An empty record of a TorchScript class, filled by BUILD.
  const std::string net =
      "\x80\x02"
      "c__torch__\nNet\n)\x81}" +
      str("training") + "\x88sb.";
  EXPECT_NE(error_of(net).find("TorchScript class '__torch__.Net'"), std::string::npos);
  iod::UnpickleOptions ts;
  ts.records = iod::Records::TorchScript;
  auto no_storage = [](const iod::StorageRef&) -> std::shared_ptr<Storage> { return nullptr; };
  auto bytes = [](const std::string& s) {
    return std::span(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  Value v = iod::unpickle(bytes(net), no_storage, ts);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().type, "__torch__.Net");
  EXPECT_TRUE(v.as_object().attributes.at("training").as_bool());
  // TorchScript records do not open the door to other classes.
  const std::string main_net =
      "\x80\x02"
      "c__main__\nNet\n)\x81.";
  EXPECT_THROW(iod::unpickle(bytes(main_net), no_storage, ts), FormatError);
  iod::UnpickleOptions any;
  any.records = iod::Records::Any;
  EXPECT_EQ(iod::unpickle(bytes(main_net), no_storage, any).as_object().type, "__main__.Net");
  // Records are never called, whatever the mode.
  const std::string call =
      "\x80\x02"
      "cos\nsystem\n" +
      str("true") + "\x85R.";
  try {
    iod::unpickle(bytes(call), no_storage, any);
    ADD_FAILURE() << "os.system was accepted";
  } catch (const FormatError& err) {
    EXPECT_NE(std::string(err.what()).find("calling os.system"), std::string::npos) << err.what();
  }
}

TEST(IoPickle, RefusesUnknownGlobals) {
  std::string e = error_of(
      "\x80\x02"
      "cposix\nsystem\n" +
      str("ls") + "\x85R.");
  EXPECT_NE(e.find("'posix.system'"), std::string::npos) << e;
  EXPECT_NE(e.find("GLOBAL at byte 2"), std::string::npos) << e;
  e = error_of("c__builtin__\neval\n.");
  EXPECT_NE(e.find("builtins.eval"), std::string::npos) << e;
  e = error_of("cos\nsystem\n.");
  EXPECT_NE(e.find("os.system"), std::string::npos) << e;
  // A pickled module names its class and says what to do instead.
  e = error_of(
      "\x80\x02"
      "c__main__\nNet\nq\x00)\x81."s);
  EXPECT_NE(e.find("__main__.Net"), std::string::npos) << e;
  EXPECT_NE(e.find("state_dict()"), std::string::npos) << e;
  e = error_of("ctorch.nn.modules.linear\nLinear\n.");
  EXPECT_NE(e.find("torch.nn.modules.linear.Linear"), std::string::npos) << e;
  e = error_of("ctorch\ndevice\n" + str("cpu") + "\x85R.");
  EXPECT_NE(e.find("not supported by wick"), std::string::npos) << e;
}

TEST(IoPickle, RefusesCallsAndOpcodesOutsideTheSubset) {
  EXPECT_NE(error_of("ccollections\nOrderedDict\n\x81.").find("NEWOBJ"), std::string::npos);
  EXPECT_NE(error_of("}}b.").find("BUILD is only allowed on an OrderedDict"), std::string::npos);
  EXPECT_NE(error_of("}K\x01"
                     "a.")
                .find("appending to a dict"),
            std::string::npos);
  EXPECT_NE(error_of("](K\x01K\x02u.").find("setting items in a list"), std::string::npos);
  EXPECT_NE(error_of("h\x05.").find("memo index 5 was never set"), std::string::npos);
  EXPECT_NE(error_of("(K\x01.").find("MARK without"), std::string::npos);
  EXPECT_NE(error_of("\x82\x01.").find("unsupported pickle opcode 0x82 (EXT1)"), std::string::npos);
  EXPECT_NE(error_of("K\x01K\x02R.").find("not an allowed global"), std::string::npos);
  EXPECT_NE(error_of("(" + str("module") + "K\x01K\x02K\x03K\x04tQ.").find("nn.Module"),
            std::string::npos);
  EXPECT_NE(error_of("(" + str("other") + "tQ.").find("persistent id"), std::string::npos);
  EXPECT_NE(error_of("K\x01K\x02.").find("2 items at STOP"), std::string::npos);
  EXPECT_NE(error_of("e.").find("no MARK"), std::string::npos);
  EXPECT_NE(error_of("(\x86.").find("needs 2 item(s)"), std::string::npos);
  // 9-byte ints do not fit wick's int64.
  EXPECT_NE(error_of(std::string("\x8a\x09") + std::string(9, '\x01') + ".").find("64 bits"),
            std::string::npos);
}

TEST(IoPickle, TruncationAndHugeLengths) {
  std::string e = error_of("X" + u32(0xffffffffu) + "abc");
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("BINUNICODE at byte 0"), std::string::npos) << e;
  EXPECT_NE(error_of("X\x05\x00"s).find("truncated"), std::string::npos);
  EXPECT_NE(error_of("K").find("truncated"), std::string::npos);
  EXPECT_NE(error_of("}").find("no STOP"), std::string::npos);
  EXPECT_NE(error_of("").find("no STOP"), std::string::npos);
  EXPECT_NE(error_of("ctorch\nFloat").find("newline"), std::string::npos);
  EXPECT_NE(error_of(str("\xff\xfe") + ".").find("UTF-8"), std::string::npos);
  // A storage larger than int64 bytes.
  std::string big = "((" + str("storage") + "ctorch\nDoubleStorage\n" + str("0") + str("cpu") +
                    "\x8a\x08" + std::string(7, '\xff') + "\x7ftQ.";
  EXPECT_NE(error_of(big).find("overflows"), std::string::npos);
}

TEST(IoPickle, TensorViewsMustFitTheirStorage) {
  std::string e = error_of(tensor("FloatStorage", "0", 4, 1, "K\x04\x85", "K\x01\x85") + ".");
  EXPECT_NE(e.find("over storage '0'"), std::string::npos) << e;
  EXPECT_NE(e.find("does not fit in storage of 4 float32 elements"), std::string::npos) << e;
  // An empty view may sit anywhere up to the end.
  EXPECT_EQ(unpickle(tensor("FloatStorage", "0", 4, 4, "K\x00\x85"s, "K\x01\x85") + ".")
                .as_tensor()
                .numel(),
            0);
  // Expanded (stride 0) views read one element.
  EXPECT_EQ(unpickle(tensor("FloatStorage", "0", 1, 0, "K\x05\x85", "K\x00\x85"s) + ".")
                .as_tensor()
                .numel(),
            5);
  // Overflowing extents are caught, not wrapped.
  std::string huge = "\x8a\x08" + std::string(7, '\xff') + "\x3f";
  e = error_of(tensor("FloatStorage", "0", 4, 0, "K\x02\x85", huge + "\x85") + ".");
  EXPECT_NE(e.find("does not fit"), std::string::npos) << e;
  e = error_of("ctorch._utils\n_rebuild_tensor_v2\n(" + str("x") + "K\x00))\x89}tR."s);
  EXPECT_NE(e.find("not a storage"), std::string::npos) << e;
  e = error_of(tensor("FloatStorage", "0", 4, 0, "K\x02\x85", "K\x01K\x01\x86") + ".");
  EXPECT_NE(e.find("differ in length"), std::string::npos) << e;
}

TEST(IoPickle, DepthIsBounded) {
  iod::UnpickleOptions o;
  o.max_depth = 50;
  // Lists nested 100 deep: ]]]...]aaa...a
  std::string deep = std::string(100, ']') + std::string(99, 'a') + ".";
  EXPECT_NE(error_of(deep, o).find("nesting deeper than 50"), std::string::npos);
  EXPECT_NE(error_of(std::string(100, '(') + ".", o).find("nested MARKs"), std::string::npos);
  std::string tuples = "N" + std::string(100, '\x85') + ".";
  EXPECT_NE(error_of(tuples, o).find("nesting deeper"), std::string::npos);
  // Within the limit it loads.
  std::string ok = std::string(40, ']') + std::string(39, 'a') + ".";
  EXPECT_TRUE(iod::unpickle(span(ok), Storages(), o).is_list());
}

TEST(IoPickle, SharedContainersAreFrozenSoNoCyclesForm) {
  // l = []; l.append(l) would be a cycle; the second reference freezes l.
  std::string e = error_of(
      "]q\x00h\x00"
      "a."s);
  EXPECT_NE(e.find("already referenced again"), std::string::npos) << e;
  // d = {}; x = [d]; d['x'] = x
  e = error_of(
      "}q\x00](h\x00"
      "eq\x01"
      "0"s);
  EXPECT_FALSE(e.empty());
  e = error_of("}q\x00"s + str("k") +
               "]h\x00"
               "as."s);
  EXPECT_NE(e.find("already referenced again"), std::string::npos) << e;
}

TEST(IoPickle, TruncatedRealPickleAlwaysFailsCleanly) {
  // Every prefix of a real torch data.pkl is an error, never a crash.
  std::string p =
      "\x80\x02"
      "ccollections\nOrderedDict\nq\x00)Rq\x01("s +
      str("a") + tensor("FloatStorage", "0", 12, 2, "K\x03K\x02\x86", "K\x01K\x03\x86") + str("b") +
      "G\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc" + "u.";
  ASSERT_TRUE(unpickle(p).is_dict());
  for (size_t n = 0; n < p.size(); ++n) {
    Storages st;
    EXPECT_THROW(iod::unpickle(span(p.substr(0, n)), std::ref(st)), FormatError) << n;
  }
  // Flipped bytes: an error or a value, never a crash (run under the sanitizers).
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string q = p;
    q[rng() % q.size()] = char(rng());
    q[rng() % q.size()] = char(rng());
    Storages st;
    try {
      iod::unpickle(span(q), std::ref(st));
    } catch (const Error&) {
    }
  }
}

TEST(IoPickle, RepeatedReferencesCannotExpandExponentially) {
  // t0 = []; t(i+1) = (t(i), t(i)): 60 levels would be 2^60 nodes to walk.
  std::string p = "]q\x00"s;
  for (int i = 0; i < 60; ++i) {
    p += 'h';
    p += char(i);
    p += 'h';
    p += char(i);
    p += "\x86q";
    p += char(i + 1);
  }
  p += '.';
  std::string e = error_of(p);
  EXPECT_NE(e.find("expands to more than"), std::string::npos) << e;
  // Modest sharing is fine: one list referenced from 1000 places.
  std::string ok = "](]q\x01"s;
  for (int i = 0; i < 1000; ++i) ok += "h\x01";
  ok += "e.";
  EXPECT_EQ(unpickle(ok).size(), 1001u);
}

// A refused global names itself, the opcode and byte offset, and - for the
// names common in real files - what typically writes it and what to save.
TEST(IoPickle, RefusedGlobalsSayWhatWroteThem) {
  struct Case {
    const char* module;
    const char* name;
    const char* says;
  };
  const Case cases[] = {
      {"numpy.core.multiarray", "_reconstruct", "torch.from_numpy"},
      {"numpy", "dtype", "NumPy"},
      {"argparse", "Namespace", "vars(args)"},
      {"torch.optim.sgd", "SGD", "optimizer.state_dict()"},
      {"torch.optim.lr_scheduler", "StepLR", "scheduler.state_dict()"},
      {"torch.cuda.amp.grad_scaler", "GradScaler", "scaler.state_dict()"},
      {"omegaconf.dictconfig", "DictConfig", "OmegaConf.to_container"},
      {"pytorch_lightning.utilities.parsing", "AttributeDict", "'state_dict' entry"},
      {"transformers.training_args", "TrainingArguments", "save_pretrained"},
      {"torch._utils", "_rebuild_qtensor", "t.dequantize()"},
      {"torch._utils", "_rebuild_sparse_tensor", "t.to_dense()"},
      {"torch._tensor", "_rebuild_from_type_v2", "as_subclass(torch.Tensor)"},
      {"torch", "device", "str(device)"},
      {"torch", "quint8", "t.dequantize()"},
      {"os", "system", "runs code"},
      {"subprocess", "Popen", "runs code"},
      {"builtins", "eval", "runs code"},
      {"__builtin__", "getattr", "runs code"},
  };
  for (const Case& c : cases) {
    const std::string full = std::string(c.module) + "." + c.name;
    std::string e = error_of("\x80\x02K\x01"s + "c" + c.module + "\n" + c.name + "\n.");
    const std::string shown =
        std::string(c.module) == "__builtin__" ? "builtins." + std::string(c.name) : full;
    EXPECT_NE(e.find(shown), std::string::npos) << full << ": " << e;
    EXPECT_NE(e.find("GLOBAL at byte 4"), std::string::npos) << full << ": " << e;
    EXPECT_NE(e.find(c.says), std::string::npos) << full << ": " << e;
  }
  // A whole model keeps its own advice; an unknown name gets none.
  std::string e = error_of("\x80\x02"s + "c__main__\nNet\n.");
  EXPECT_NE(e.find("model.state_dict()"), std::string::npos) << e;
  e = error_of("\x80\x02"s + "cmylib\nhelper\n.");
  EXPECT_NE(e.find("unsupported global 'mylib.helper'"), std::string::npos) << e;
  EXPECT_EQ(e.find("typically"), std::string::npos) << e;
  // Calling a recorded class in a whole model names the hint too.
  iod::UnpickleOptions any;
  any.records = iod::Records::Any;
  e = error_of(
      "\x80\x02"
      "cos\nsystem\nX\x02\x00\x00\x00id\x85R."s,
      any);
  EXPECT_NE(e.find("calling os.system"), std::string::npos) << e;
  EXPECT_NE(e.find("runs code"), std::string::npos) << e;
}
