#include "weights/pickle.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "gtest/gtest.h"

namespace graft {
namespace {

using pickle::Kind;
using pickle::Unpickler;
using pickle::Value;

// A string literal's bytes, embedded NULs included.
template <size_t N>
std::string B(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

bool allow_all(std::string_view) { return true; }
bool allow_none(std::string_view) { return false; }

// Parses one pickle from `bytes`; the Unpickler is kept so the values stay alive.
struct Parsed {
  explicit Parsed(const std::string& bytes, bool (*allowed)(std::string_view) = allow_all)
      : data(bytes), unpickler(reinterpret_cast<const unsigned char*>(data.data()), data.size(), allowed, "test") {}
  const Value& load() {
    size_t offset = 0;
    const Value& v = unpickler.load(offset);
    EXPECT_EQ(offset, data.size());
    return v;
  }
  std::string data;
  Unpickler unpickler;
};

const Value& field(const Value& dict, const std::string& key) {
  for (size_t i = 0; i < dict.dict_size(); ++i) {
    if (dict.key(i).text == key) return dict.value(i);
  }
  throw std::runtime_error("no key " + key);
}

std::string error_of(const std::string& bytes, bool (*allowed)(std::string_view) = allow_all) {
  try {
    Parsed(bytes, allowed).load();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Unpickler, ReadsWhatPythonWritesWithProtocol4) {
  // pickle.dumps({'ints': [0, 255, 65535, -1, 2**31-1, -2**31, 2**40, -2**63, 2**63-1], 'big': 2**70,
  //               'negbig': -2**70, 'f': [3.5, -0.0], 'flags': (True, False, None), 's': 'hé',
  //               'b': b'\x00\x01', 'nested': ((1,), (1, 2), (1, 2, 3), (1, 2, 3, 4))}, protocol=4)
  const std::string bytes = B(
      "\x80\x04\x95\xca\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x04\x69\x6e\x74\x73\x94\x5d\x94\x28\x4b\x00"
      "\x4b\xff\x4d\xff\xff\x4a\xff\xff\xff\xff\x4a\xff\xff\xff\x7f\x4a\x00\x00\x00\x80\x8a\x06\x00\x00\x00\x00"
      "\x00\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x65\x8c\x03\x62"
      "\x69\x67\x94\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x40\x8c\x06\x6e\x65\x67\x62\x69\x67\x94\x8a\x09\x00"
      "\x00\x00\x00\x00\x00\x00\x00\xc0\x8c\x01\x66\x94\x5d\x94\x28\x47\x40\x0c\x00\x00\x00\x00\x00\x00\x47\x80"
      "\x00\x00\x00\x00\x00\x00\x00\x65\x8c\x05\x66\x6c\x61\x67\x73\x94\x88\x89\x4e\x87\x94\x8c\x01\x73\x94\x8c"
      "\x03\x68\xc3\xa9\x94\x8c\x01\x62\x94\x43\x02\x00\x01\x94\x8c\x06\x6e\x65\x73\x74\x65\x64\x94\x28\x4b\x01"
      "\x85\x94\x4b\x01\x4b\x02\x86\x94\x4b\x01\x4b\x02\x4b\x03\x87\x94\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74"
      "\x94\x74\x94\x75\x2e");
  Parsed p(bytes);
  const Value& root = p.load();
  ASSERT_TRUE(root.is(Kind::dict));
  EXPECT_EQ(root.dict_size(), 8u);
  const std::vector<int64_t> ints = {0, 255, 65535, -1, 2147483647, -2147483648LL, 1LL << 40, INT64_MIN, INT64_MAX};
  const Value& list = field(root, "ints");
  ASSERT_EQ(list.items.size(), ints.size());
  for (size_t i = 0; i < ints.size(); ++i) {
    EXPECT_TRUE(list.items[i]->is(Kind::integer));
    EXPECT_EQ(list.items[i]->integer, ints[i]) << i;
  }
  EXPECT_TRUE(field(root, "big").is(Kind::big_integer));
  EXPECT_EQ(field(root, "big").text, B("\0\0\0\0\0\0\0\0\x40"));
  EXPECT_EQ(field(root, "negbig").text, B("\0\0\0\0\0\0\0\0\xc0"));
  EXPECT_EQ(field(root, "f").items[0]->floating, 3.5);
  EXPECT_TRUE(std::signbit(field(root, "f").items[1]->floating));
  const Value& flags = field(root, "flags");
  EXPECT_TRUE(flags.is(Kind::tuple));
  EXPECT_TRUE(flags.items[0]->boolean);
  EXPECT_FALSE(flags.items[1]->boolean);
  EXPECT_TRUE(flags.items[2]->is(Kind::none));
  EXPECT_EQ(field(root, "s").text, "h\xc3\xa9");
  EXPECT_TRUE(field(root, "b").is(Kind::bytes));
  EXPECT_EQ(field(root, "b").text, B("\0\1"));
  const Value& nested = field(root, "nested");
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(nested.items[i]->items.size(), i + 1);
}

TEST(Unpickler, HandlesTheOtherOpcodesTorchFilesUse) {
  // PROTO 2, MARK, BINSTRING 'ab', SHORT_BINSTRING 'c', SHORT_BINBYTES 'z', LONG4 -2, BININT1 9, DUP,
  // POP, LONG_BINPUT 70000, LONG_BINGET 70000, LIST; EMPTY_LIST, BINPUT 1, BININT1 5, APPEND;
  // MARK, 1, 2, DICT; TUPLE3.
  const std::string bytes = B("\x80\x02(T\x02\x00\x00\x00" "abU\x01" "cC\x01z\x8b\x01\x00\x00\x00\xfe") +
                            B("K\x09" "20r\x70\x11\x01\x00j\x70\x11\x01\x00l") +
                            B("]q\x01K\x05" "a(K\x01K\x02" "d\x87.");
  Parsed p(bytes);
  const Value& root = p.load();
  ASSERT_TRUE(root.is(Kind::tuple));
  const Value& list = *root.items[0];
  ASSERT_EQ(list.items.size(), 6u);
  EXPECT_EQ(list.items[0]->text, "ab");
  EXPECT_EQ(list.items[1]->text, "c");
  EXPECT_TRUE(list.items[2]->is(Kind::bytes));
  EXPECT_EQ(list.items[3]->integer, -2);
  EXPECT_EQ(list.items[4]->integer, 9);
  EXPECT_EQ(list.items[5], list.items[4]);  // memo: the same value
  EXPECT_EQ(root.items[1]->kind, Kind::list);
  EXPECT_EQ(root.items[1]->items[0]->integer, 5);
  ASSERT_TRUE(root.items[2]->is(Kind::dict));
  EXPECT_EQ(root.items[2]->key(0).integer, 1);
  EXPECT_EQ(root.items[2]->value(0).integer, 2);
}

TEST(Unpickler, RecordsCallsWithoutMakingThem) {
  // torch 0.3's Parameter: GLOBAL, EMPTY_TUPLE, NEWOBJ, then BUILD with the tuple (BINPERSID '7',
  // None, True); then an OrderedDict() REDUCE, which becomes an empty dict.
  const std::string bytes = B(
      "\x80\x02(ctorch.nn.parameter\nParameter\n)\x81(X\x01\x00\x00\x00" "7QN\x88tb"
      "ccollections\nOrderedDict\n)Rl.");
  Parsed p(bytes);
  const Value& root = p.load();
  ASSERT_EQ(root.items.size(), 2u);
  const Value& param = *root.items[0];
  EXPECT_TRUE(param.is(Kind::call));
  EXPECT_EQ(param.callable_name(), "torch.nn.parameter.Parameter");
  ASSERT_NE(param.state, nullptr);
  EXPECT_TRUE(param.state->items[0]->is(Kind::persistent_id));
  EXPECT_EQ(param.state->items[0]->items[0]->text, "7");
  EXPECT_TRUE(root.items[1]->is(Kind::dict));
}

TEST(Unpickler, RefusesGlobalsOutsideTheWhitelistNamingThem) {
  // The classic exploit: os.system('echo pwned'), with GLOBAL (protocol 2) and STACK_GLOBAL (protocol 4).
  const std::string global_form = B("\x80\x02" "cos\nsystem\nX\x0a\x00\x00\x00" "echo pwned\x85R.");
  EXPECT_NE(error_of(global_form, allow_none).find("refusing to load global 'os.system'"), std::string::npos)
      << error_of(global_form, allow_none);
  const std::string stack_form =
      B("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x03" "1+1\x85R.");
  EXPECT_NE(error_of(stack_form, allow_none).find("refusing to load global 'builtins.eval'"), std::string::npos)
      << error_of(stack_form, allow_none);
  // A whitelist that allows only OrderedDict refuses the rest.
  auto only_ordered_dict = [](std::string_view name) { return name == "collections.OrderedDict"; };
  std::string data = B("\x80\x02" "cposix\nsystem\n.");
  Unpickler u(reinterpret_cast<const unsigned char*>(data.data()), data.size(), only_ordered_dict, "f.pth");
  size_t offset = 0;
  try {
    u.load(offset);
    ADD_FAILURE() << "posix.system was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f.pth, byte 2: refusing to load global 'posix.system'"), std::string::npos)
        << e.what();
  }
}

TEST(Unpickler, MalformedStreamsAreErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "truncated"},
      {B("\x80\x02"), "truncated"},
      {B("\x80\x02X\xff\xff\xff\x7f" "abc"), "truncated"},
      {B("\x80\x02\x95\xff\x00\x00\x00\x00\x00\x00\x00N."), "truncated"},
      {B("\x80\x02."), "stack is empty"},
      {B("\x80\x02h\x05."), "memo entry 5"},
      {B("\x80\x02Na."), "stack is empty"},
      {B("\x80\x02(Na."), "stack is empty"},
      {B("\x80\x02Nu."), "MARK"},
      {B("\x80\x02}K\x01" "a."), "adding items to a dict"},
      {B("\x80\x02(K\x01" "d."), "no value"},
      {B("\x80\x02NN\x81."), "NEWOBJ"},
      {B("\x80\x02K\x01)R."), "callable is a int"},
      {B("\x80\x02" "I12\n."), "unsupported pickle opcode 'I'"},
      {B("\x80\x09N."), "protocol 9"},
      {B("\x80\x02K\x01N" "b."), "BUILD on a int"},
      {B("\x80\x02" "cos\nsys"), "truncated"},
  };
  for (const auto& [bytes, fragment] : cases) {
    const std::string message = error_of(bytes);
    EXPECT_NE(message.find(fragment), std::string::npos) << "pickle of " << bytes.size() << " bytes: '" << message
                                                         << "' lacks '" << fragment << "'";
  }
}

TEST(Unpickler, SalvageAddsThePendingEntriesOfACutPickle) {
  // {'a': 1, 'b': {'c': 2, 'd': ...cut
  const std::string bytes =
      B("\x80\x02}(X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "b}(X\x01\x00\x00\x00" "cK\x02X\x01");
  Parsed p(bytes);
  EXPECT_THROW(p.load(), Error);
  const Value* partial = p.unpickler.salvage();
  ASSERT_NE(partial, nullptr);
  ASSERT_EQ(partial->dict_size(), 2u);
  EXPECT_EQ(partial->value(0).integer, 1);
  ASSERT_EQ(partial->value(1).dict_size(), 1u);
  EXPECT_EQ(partial->value(1).key(0).text, "c");
}

TEST(Unpickler, HostileSizesFailFast) {
  const auto start = std::chrono::steady_clock::now();
  // A 2 GiB string length, an 8-byte length near 2^64, a huge LONG4, a billion-entry memo index.
  EXPECT_NE(error_of(B("\x80\x02X\xff\xff\xff\x7f")).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(B("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff")).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(B("\x80\x02\x8b\xff\xff\xff\x7f")).find("truncated"), std::string::npos);
  EXPECT_EQ(error_of(B("\x80\x02Nr\xff\xff\xff\x7fj\xff\xff\xff\x7f.")), "");  // sparse memo, no huge table
  // A million nested tuples parse without recursion.
  std::string deep = B("\x80\x02)") + std::string(1'000'000, '\x85') + ".";
  Parsed p(deep);
  const Value* v = &p.load();
  int depth = 0;
  while (!v->items.empty()) {
    v = v->items[0];
    ++depth;
  }
  EXPECT_EQ(depth, 1'000'000);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace graft
