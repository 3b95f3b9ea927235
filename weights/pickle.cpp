#include "weights/pickle.h"

#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace graft::pickle {
namespace {

// A pickle can hold at most this many values (about 80 bytes each): hostile input stays bounded.
constexpr size_t kMaxValues = 10'000'000;
constexpr size_t kMaxGlobalName = 1024;

// The opcodes read here, with pickletools' names.
enum Op : unsigned char {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  BININT = 'J',
  BININT1 = 'K',
  BININT2 = 'M',
  NONE = 'N',
  BINPERSID = 'Q',
  PERSID = 'P',
  REDUCE = 'R',
  BINSTRING = 'T',
  SHORT_BINSTRING = 'U',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  BINGET = 'h',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  PROTO = 0x80,
  NEWOBJ = 0x81,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
  BYTEARRAY8 = 0x96,
};

std::string printable_opcode(unsigned char op) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", op);
  if (op >= 0x20 && op < 0x7f) return concat("'", static_cast<char>(op), "' (", hex, ")");
  return hex;
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::big_integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::tuple: return "tuple";
    case Kind::list: return "list";
    case Kind::dict: return "dict";
    case Kind::global: return "global";
    case Kind::call: return "object";
    case Kind::persistent_id: return "persistent id";
  }
  return "?";
}

std::string_view Value::callable_name() const {
  return kind == Kind::call && items[0]->kind == Kind::global ? std::string_view(items[0]->text) : "";
}

Unpickler::Unpickler(const unsigned char* data, size_t size, std::function<bool(std::string_view)> allowed,
                     std::string where)
    : data_(data), size_(size), allowed_(std::move(allowed)), where_(std::move(where)) {}

void Unpickler::fail_at(const std::string& what) const { fail(where_, ", byte ", op_start_, ": ", what); }

Value* Unpickler::make(Kind kind) {
  if (values_.size() >= kMaxValues) fail_at(concat("the pickle holds more than ", kMaxValues, " values"));
  values_.emplace_back();
  values_.back().kind = kind;
  return &values_.back();
}

void Unpickler::need(size_t n) const {
  if (n > size_ - pos_) {
    fail_at(concat("truncated pickle: ", n, " more bytes needed at byte ", pos_, " but the data ends at byte ", size_,
                   " (the file is cut short or damaged)"));
  }
}

uint64_t Unpickler::read_uint(size_t n) {
  need(n);
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | data_[pos_ + i];
  pos_ += n;
  return v;
}

std::string_view Unpickler::read_bytes(size_t n) {
  need(n);
  std::string_view s(reinterpret_cast<const char*>(data_ + pos_), n);
  pos_ += n;
  return s;
}

std::string_view Unpickler::read_line() {
  const size_t limit = std::min(size_ - pos_, kMaxGlobalName + 1);
  const void* newline = std::memchr(data_ + pos_, '\n', limit);
  if (!newline) {
    if (limit == size_ - pos_) need(limit + 1);
    fail_at(concat("a name in the pickle is longer than ", kMaxGlobalName, " bytes"));
  }
  const size_t n = static_cast<const unsigned char*>(newline) - (data_ + pos_);
  std::string_view s = read_bytes(n);
  ++pos_;
  return s;
}

// A MARK fences off the stack below it, as in Python's unpickler.
Value* Unpickler::top() const {
  if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
    fail_at("malformed pickle: an opcode needs a value but the stack is empty");
  }
  return stack_.back();
}

Value* Unpickler::pop() {
  Value* v = top();
  stack_.pop_back();
  return v;
}

std::vector<Value*> Unpickler::pop_to_mark() {
  if (marks_.empty()) fail_at("malformed pickle: an opcode needs a MARK but there is none");
  const size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<Value*> items(stack_.begin() + static_cast<ptrdiff_t>(mark), stack_.end());
  stack_.resize(mark);
  return items;
}

Value* Unpickler::memo_get(uint64_t index) const {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail_at(concat("malformed pickle: memo entry ", index, " is read before it is written"));
  return it->second;
}

void Unpickler::memo_put(uint64_t index) {
  if (memo_.size() >= kMaxValues) fail_at(concat("the pickle memo holds more than ", kMaxValues, " entries"));
  memo_[index] = top();
}

void Unpickler::push_global(std::string_view module, std::string_view name) {
  std::string qualified = concat(module, ".", name);
  if (!allowed_(qualified)) {
    fail_at(concat("refusing to load global '", qualified,
                   "': weights are read as data, and a checkpoint may only name OrderedDict, torch's "
                   "tensor and parameter rebuild functions and its storage and tensor types. This "
                   "file would run code or build other Python objects; save model.state_dict() "
                   "instead, or convert it to safetensors with PyTorch"));
  }
  Value* v = make(Kind::global);
  v->text = std::move(qualified);
  stack_.push_back(v);
}

void Unpickler::push_integer_bytes(std::string_view bytes) {
  // Drop the high bytes that only repeat the sign; what is left decides whether it fits in 64 bits.
  size_t n = bytes.size();
  const bool negative = n > 0 && (static_cast<unsigned char>(bytes[n - 1]) & 0x80);
  const unsigned char fill = negative ? 0xff : 0x00;
  auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  while (n > 1 && byte(n - 1) == fill && ((byte(n - 2) & 0x80) != 0) == negative) --n;
  if (n > 8) {
    Value* v = make(Kind::big_integer);
    v->text = std::string(bytes.substr(0, n));
    stack_.push_back(v);
    return;
  }
  uint64_t u = negative ? ~uint64_t{0} : 0;
  for (size_t i = n; i-- > 0;) u = (u << 8) | static_cast<unsigned char>(bytes[i]);
  Value* v = make(Kind::integer);
  v->integer = static_cast<int64_t>(u);
  stack_.push_back(v);
}

Value* Unpickler::pop_text(const char* what) {
  Value* v = pop();
  if (!v->is(Kind::string)) fail_at(concat("malformed pickle: ", what, " is a ", kind_name(v->kind), ", not a str"));
  return v;
}

void Unpickler::reduce(Value* callable, Value* args) {
  if (!callable->is(Kind::global)) {
    fail_at(concat("malformed pickle: a call's callable is a ", kind_name(callable->kind), ", not a global"));
  }
  if (!args->is(Kind::tuple)) {
    fail_at(concat("malformed pickle: the arguments of ", callable->text, " are a ", kind_name(args->kind),
                   ", not a tuple"));
  }
  if (callable->text == "collections.OrderedDict") {
    if (!args->items.empty()) fail_at("OrderedDict with constructor arguments is not supported");
    stack_.push_back(make(Kind::dict));
    return;
  }
  Value* v = make(Kind::call);
  v->items = {callable, args};
  stack_.push_back(v);
}

void Unpickler::extend(Value* container, Kind expected, const std::vector<Value*>& items) {
  if (!container->is(expected)) {
    fail_at(concat("malformed pickle: adding items to a ", kind_name(container->kind), " where a ", kind_name(expected),
                   " was expected"));
  }
  if (expected == Kind::dict && items.size() % 2 != 0) fail_at("malformed pickle: a dict key has no value");
  container->items.insert(container->items.end(), items.begin(), items.end());
}

bool Unpickler::step() {
  op_start_ = pos_;
  const unsigned char op = static_cast<unsigned char>(read_uint(1));
  switch (op) {
    case PROTO: {
      const uint64_t protocol = read_uint(1);
      if (protocol > 5) fail_at(concat("unsupported pickle protocol ", protocol, " (graft reads 2 to 5)"));
      break;
    }
    case FRAME: {
      const uint64_t length = read_uint(8);
      need(std::min<uint64_t>(length, size_ - pos_ + 1));  // a frame longer than the data means a cut file
      break;
    }
    case STOP: result_ = pop(); return false;
    case MARK: marks_.push_back(stack_.size()); break;
    case POP: pop(); break;
    case POP_MARK: pop_to_mark(); break;
    case DUP: stack_.push_back(top()); break;

    case NONE: stack_.push_back(make(Kind::none)); break;
    case NEWTRUE:
    case NEWFALSE: {
      Value* v = make(Kind::boolean);
      v->boolean = op == NEWTRUE;
      stack_.push_back(v);
      break;
    }
    case BININT1:
    case BININT2:
    case BININT: {
      const size_t n = op == BININT1 ? 1 : op == BININT2 ? 2 : 4;
      const uint64_t raw = read_uint(n);
      Value* v = make(Kind::integer);
      v->integer = n == 4 ? static_cast<int64_t>(static_cast<int32_t>(raw)) : static_cast<int64_t>(raw);
      stack_.push_back(v);
      break;
    }
    case LONG1: push_integer_bytes(read_bytes(read_uint(1))); break;
    case LONG4: {
      const auto n = static_cast<int32_t>(read_uint(4));
      if (n < 0) fail_at("malformed pickle: negative LONG4 length");
      push_integer_bytes(read_bytes(static_cast<size_t>(n)));
      break;
    }
    case BINFLOAT: {
      need(8);
      uint64_t bits = 0;  // big-endian
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + i];
      pos_ += 8;
      Value* v = make(Kind::floating);
      std::memcpy(&v->floating, &bits, 8);
      stack_.push_back(v);
      break;
    }
    case SHORT_BINUNICODE:
    case BINUNICODE:
    case BINUNICODE8:
    case SHORT_BINSTRING:
    case BINSTRING:
    case SHORT_BINBYTES:
    case BINBYTES:
    case BINBYTES8:
    case BYTEARRAY8: {
      const size_t width = (op == SHORT_BINUNICODE || op == SHORT_BINSTRING || op == SHORT_BINBYTES) ? 1
                           : (op == BINUNICODE8 || op == BINBYTES8 || op == BYTEARRAY8)              ? 8
                                                                                                     : 4;
      const uint64_t length = read_uint(width);
      need(length);
      const bool is_text =
          op == SHORT_BINUNICODE || op == BINUNICODE || op == BINUNICODE8 || op == SHORT_BINSTRING || op == BINSTRING;
      Value* v = make(is_text ? Kind::string : Kind::bytes);
      v->text = std::string(read_bytes(length));
      stack_.push_back(v);
      break;
    }

    case EMPTY_TUPLE: stack_.push_back(make(Kind::tuple)); break;
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      const size_t n = op - TUPLE1 + 1;
      Value* v = make(Kind::tuple);
      v->items.resize(n);
      for (size_t i = n; i-- > 0;) v->items[i] = pop();
      stack_.push_back(v);
      break;
    }
    case TUPLE: {
      Value* v = make(Kind::tuple);
      v->items = pop_to_mark();
      stack_.push_back(v);
      break;
    }
    case EMPTY_LIST: stack_.push_back(make(Kind::list)); break;
    case LIST: {
      Value* v = make(Kind::list);
      v->items = pop_to_mark();
      stack_.push_back(v);
      break;
    }
    case EMPTY_DICT: stack_.push_back(make(Kind::dict)); break;
    case DICT: {
      Value* v = make(Kind::dict);
      extend(v, Kind::dict, pop_to_mark());
      stack_.push_back(v);
      break;
    }
    case APPEND: {
      Value* item = pop();
      extend(top(), Kind::list, {item});
      break;
    }
    case APPENDS: {
      std::vector<Value*> items = pop_to_mark();
      extend(top(), Kind::list, items);
      break;
    }
    case SETITEMS: {
      std::vector<Value*> items = pop_to_mark();
      extend(top(), Kind::dict, items);
      break;
    }
    case SETITEM: {
      Value* value = pop();
      Value* key = pop();
      extend(top(), Kind::dict, {key, value});
      break;
    }

    case BINPUT: memo_put(read_uint(1)); break;
    case LONG_BINPUT: memo_put(read_uint(4)); break;
    case MEMOIZE: memo_put(memo_.size()); break;
    case BINGET: stack_.push_back(memo_get(read_uint(1))); break;
    case LONG_BINGET: stack_.push_back(memo_get(read_uint(4))); break;

    case GLOBAL: {
      const std::string_view module = read_line();
      const std::string_view name = read_line();
      push_global(module, name);
      break;
    }
    case STACK_GLOBAL: {
      Value* name = pop_text("STACK_GLOBAL's name");
      Value* module = pop_text("STACK_GLOBAL's module");
      push_global(module->text, name->text);
      break;
    }
    case REDUCE: {
      Value* args = pop();
      Value* callable = pop();
      reduce(callable, args);
      break;
    }
    case NEWOBJ:
    case NEWOBJ_EX: {
      if (op == NEWOBJ_EX) {
        Value* kwargs = pop();
        if (!kwargs->is(Kind::dict) || !kwargs->items.empty())
          fail_at("NEWOBJ_EX with keyword arguments is not supported");
      }
      Value* args = pop();
      Value* cls = pop();
      if (!cls->is(Kind::global) || !args->is(Kind::tuple))
        fail_at("malformed pickle: NEWOBJ needs a class and a tuple");
      Value* v = make(Kind::call);
      v->items = {cls, args};
      stack_.push_back(v);
      break;
    }
    case BUILD: {
      Value* state = pop();
      Value* object = top();
      // nn.Module.state_dict() sets attributes (_metadata: per-module versions) on its
      // OrderedDict through BUILD; they hold no tensors, so a dict ignores them.
      if (object->is(Kind::dict)) break;
      if (!object->is(Kind::call) || object->state) {
        fail_at(concat("malformed pickle: BUILD on a ", kind_name(object->kind)));
      }
      object->state = state;
      break;
    }
    case BINPERSID:
    case PERSID: {
      Value* id = nullptr;
      if (op == PERSID) {
        id = make(Kind::string);
        id->text = std::string(read_line());
      } else {
        id = pop();
      }
      Value* v = make(Kind::persistent_id);
      v->items = {id};
      stack_.push_back(v);
      break;
    }
    default:
      fail_at(concat("unsupported pickle opcode ", printable_opcode(op),
                     "; graft reads the binary pickles (protocol 2 to 5) that torch.save writes"));
  }
  return true;
}

const Value& Unpickler::load(size_t& offset) {
  pos_ = offset;
  stack_.clear();
  marks_.clear();
  memo_.clear();
  result_ = nullptr;
  if (pos_ > size_) pos_ = size_;
  while (step()) {
  }
  offset = pos_;
  return *result_;
}

const Value* Unpickler::salvage() {
  // Close the open MARKs from the innermost out, adding what each holds to the container below it.
  while (!marks_.empty()) {
    const size_t mark = std::min(marks_.back(), stack_.size());
    marks_.pop_back();
    if (mark > 0) {
      Value* container = stack_[mark - 1];
      std::vector<Value*> items(stack_.begin() + static_cast<ptrdiff_t>(mark), stack_.end());
      if (container->is(Kind::dict) && items.size() % 2 != 0) items.pop_back();
      if (container->is(Kind::dict) || container->is(Kind::list)) {
        container->items.insert(container->items.end(), items.begin(), items.end());
      }
    }
    stack_.resize(mark);
  }
  return stack_.empty() ? nullptr : stack_.front();
}

}  // namespace graft::pickle
