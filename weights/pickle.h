#pragma once
// A restricted unpickler for the pickle streams torch.save writes (protocols 2 to 5).
//
// It runs no code. A pickle names Python objects with GLOBAL / STACK_GLOBAL; the caller says which
// names are allowed, and any other (os.system, builtins.eval, ...) is an Error naming it. Calls
// (REDUCE, NEWOBJ) are recorded as `call` values, not made: the caller interprets the few it knows.
// The one call evaluated here is `collections.OrderedDict()`, which becomes an empty dict so that
// the SETITEMS after it can fill it.
//
// Hostile input is bounded: every length is checked against the bytes left, the number of values
// is capped, and the machine is a loop (no recursion). Values form a graph (the memo lets a pickle
// refer to a value twice, even build a cycle), so walkers must bound their own depth.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace graft::pickle {

enum class Kind : uint8_t {
  none,
  boolean,
  integer,
  big_integer,  // an int that does not fit in 64 bits (torch's legacy magic number is one)
  floating,
  string,  // str, and Python 2 str (BINSTRING)
  bytes,
  tuple,
  list,
  dict,
  global,         // a name such as "collections.OrderedDict"
  call,           // REDUCE or NEWOBJ: callable(args), plus the BUILD state if any
  persistent_id,  // BINPERSID: an id the file format resolves (torch: storages, tensors)
};

// "None", "int", "str", "tuple", ... (Python's names, for messages).
const char* kind_name(Kind kind);

struct Value {
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  // string and bytes: the contents; global: "module.name";
  // big_integer: the little-endian two's-complement bytes.
  std::string text;
  // tuple and list: the elements; dict: keys and values interleaved (k0, v0, k1, v1, ...);
  // call: {callable, args tuple}; persistent_id: {id}.
  std::vector<Value*> items;
  Value* state = nullptr;  // call: the object BUILD gave it, null when none

  bool is(Kind k) const { return kind == k; }
  size_t dict_size() const { return items.size() / 2; }
  const Value& key(size_t i) const { return *items[2 * i]; }
  const Value& value(size_t i) const { return *items[2 * i + 1]; }
  // call: the callable's name when it is a global, "" otherwise.
  std::string_view callable_name() const;
  const Value& args() const { return *items[1]; }  // call only
};

class Unpickler {
 public:
  // Reads pickles from [data, data + size). `allowed("module.name")` says which globals a pickle
  // may name. `where` starts every error message (say, the file and the part being read).
  Unpickler(const unsigned char* data, size_t size, std::function<bool(std::string_view)> allowed, std::string where);

  // Reads the pickle that starts at `offset`; on return `offset` is just past its STOP opcode.
  // The value lives as long as this Unpickler. Errors name the byte where reading stopped.
  const Value& load(size_t& offset);

  // After load() failed: the outermost object under construction, with the entries that were
  // pushed but not yet added (the pending SETITEMS / APPENDS) added. For listing what a cut
  // pickle holds; null when nothing was built.
  const Value* salvage();

 private:
  Value* make(Kind kind);
  [[noreturn]] void fail_at(const std::string& what) const;
  void need(size_t n) const;
  uint64_t read_uint(size_t n);
  std::string_view read_bytes(size_t n);
  std::string_view read_line();
  Value* pop();
  Value* top() const;
  std::vector<Value*> pop_to_mark();
  Value* memo_get(uint64_t index) const;
  void memo_put(uint64_t index);
  void push_global(std::string_view module, std::string_view name);
  void push_integer_bytes(std::string_view little_endian);
  Value* pop_text(const char* what);
  void reduce(Value* callable, Value* args);
  void extend(Value* container, Kind expected, const std::vector<Value*>& items);
  bool step();  // executes one opcode; false after STOP

  const unsigned char* data_;
  size_t size_;
  std::function<bool(std::string_view)> allowed_;
  std::string where_;

  size_t pos_ = 0;
  size_t op_start_ = 0;
  std::deque<Value> values_;  // owns every value; a deque keeps their addresses stable
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<uint64_t, Value*> memo_;
  Value* result_ = nullptr;
};

}  // namespace graft::pickle
