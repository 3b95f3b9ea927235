#include "weights/pth_contents.h"

#include <array>
#include <cstring>
#include <unordered_set>

namespace graft::pth_detail {
namespace {

using pickle::Kind;
using pickle::Value;

constexpr int kMaxDepth = 64;             // nesting of dicts and lists in a checkpoint
constexpr size_t kMaxVisits = 1'000'000;  // containers and tensors visited (a shared graph can be huge)
constexpr size_t kMaxDims = 64;

template <class T>
int64_t widen_from(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<int64_t>(v);
}

struct NamedType {
  const char* prefix;  // the class name without "Storage" / "Tensor"
  ElementType type;
};

const std::array<NamedType, 12> kTypes = {{
    {"Float", {"float32", 4, DType::f32, nullptr}},
    {"Double", {"float64", 8, DType::f64, nullptr}},
    {"Half", {"float16", 2, DType::f16, nullptr}},
    {"BFloat16", {"bfloat16", 2, DType::bf16, nullptr}},
    {"Long", {"int64", 8, DType::i64, nullptr}},
    {"Int", {"int32", 4, DType::i64, widen_from<int32_t>}},
    {"Short", {"int16", 2, DType::i64, widen_from<int16_t>}},
    {"Char", {"int8", 1, DType::i64, widen_from<int8_t>}},
    {"Byte", {"uint8", 1, DType::i64, widen_from<uint8_t>}},
    {"Bool", {"bool", 1, DType::i64, widen_from<uint8_t>}},
    {"ComplexFloat", {"complex64", 8, std::nullopt, nullptr}},
    {"ComplexDouble", {"complex128", 16, std::nullopt, nullptr}},
}};

const std::array<std::string_view, 6> kFunctions = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch.nn.parameter.Parameter",
};

bool is_rebuild_tensor(std::string_view f) {
  return f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor";
}
bool is_parameter(std::string_view f) {
  return f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state" ||
         f == "torch.nn.parameter.Parameter";
}

void check_view_shape(const TensorRecord& t) {
  GRAFT_CHECK(t.shape.size() == t.strides.size(), "it has ", t.shape.size(), " sizes but ", t.strides.size(),
              " strides");
  GRAFT_CHECK(t.shape.size() <= kMaxDims, "it has ", t.shape.size(), " dimensions");
  GRAFT_CHECK(t.offset >= 0, "negative storage offset ", t.offset);
  for (size_t i = 0; i < t.shape.size(); ++i) {
    GRAFT_CHECK(t.shape[i] >= 0 && t.strides[i] >= 0, "size ", shape_str(t.shape), " with strides ",
                shape_str(t.strides), " has a negative entry");
  }
}

// Walks the saved object, naming each tensor by its path of dict keys and list indices.
class Collector {
 public:
  Collector(PersistentIds& ids, Contents& out) : ids_(ids), out_(out) {}

  void collect(const Value& v, const std::string& name, int depth) {
    switch (v.kind) {
      case Kind::dict:
      case Kind::list:
      case Kind::tuple:
      case Kind::call:
      case Kind::persistent_id:
      case Kind::global: break;
      default: return;  // numbers, strings, None: not weights
    }
    GRAFT_CHECK(depth <= kMaxDepth, "the saved object nests deeper than ", kMaxDepth, " levels at '", name, "'");
    GRAFT_CHECK(++visits_ <= kMaxVisits, "the saved object's graph is too large (over ", kMaxVisits,
                " containers and tensors to visit)");
    if (v.is(Kind::dict)) {
      for (size_t i = 0; i < v.dict_size(); ++i) collect(v.value(i), join(name, key_name(v.key(i), name)), depth + 1);
    } else if (v.is(Kind::list) || v.is(Kind::tuple)) {
      for (size_t i = 0; i < v.items.size(); ++i) collect(*v.items[i], join(name, std::to_string(i)), depth + 1);
    } else {
      TensorRecord t = tensor(v, name, 0);
      t.name = name;
      GRAFT_CHECK(names_.insert(name).second, "two tensors are named '", name, "'");
      out_.tensors.push_back(std::move(t));
    }
  }

 private:
  static std::string join(const std::string& prefix, const std::string& part) {
    return prefix.empty() ? part : prefix + "." + part;
  }

  static std::string key_name(const Value& key, const std::string& where) {
    if (key.is(Kind::string)) return key.text;
    if (key.is(Kind::integer)) return std::to_string(key.integer);
    fail("a dict key under '", where, "' is a ", pickle::kind_name(key.kind),
         "; only str and int keys can name tensors");
  }

  // The tensor `v` stands for; an Error when it is not one.
  TensorRecord tensor(const Value& v, const std::string& name, int depth) {
    GRAFT_CHECK(depth < 4, "'", name, "' wraps a tensor in too many Parameters");
    if (v.is(Kind::persistent_id)) return ids_.tensor(*v.items[0]);
    const std::string_view f = v.callable_name();
    const std::string what = concat("the tensor record of '", name, "'");
    if (is_rebuild_tensor(f)) {
      // _rebuild_tensor(storage, storage_offset, size, stride, ...)
      const auto& args = as_tuple(v.args(), 4, what);
      GRAFT_CHECK(args[0]->is(Kind::persistent_id), what, " does not start with a storage");
      const PersistentIds::StorageRef ref = ids_.storage(*args[0]->items[0]);
      TensorRecord t;
      t.storage = ref.key;
      t.type = out_.storages.at(ref.key).type;
      const int64_t offset = as_int(*args[1], what + ": storage offset");
      GRAFT_CHECK(offset >= 0 && offset <= kMaxElements, "tensor '", name, "' has a malformed storage offset ", offset);
      t.offset = offset + ref.offset;
      t.shape = as_int_tuple(*args[2], what + ": size");
      t.strides = as_int_tuple(*args[3], what + ": stride");
      try {
        check_view_shape(t);
      } catch (const Error& e) {
        fail("tensor '", name, "' has a malformed view: ", e.what());
      }
      return t;
    }
    if (is_parameter(f)) {
      // _rebuild_parameter(data, ...), or torch 0.3's Parameter() whose BUILD state is (data, ...).
      const Value* data = nullptr;
      if (v.state && v.state->is(Kind::tuple) && !v.state->items.empty()) data = v.state->items[0];
      if (!data && !v.args().items.empty()) data = v.args().items[0];
      GRAFT_CHECK(data, "the Parameter '", name, "' holds no tensor");
      return tensor(*data, name, depth + 1);
    }
    fail("'", name, "' is a ", v.is(Kind::global) ? std::string(v.text) : concat(f, " object"),
         ", not a tensor; graft reads checkpoints that hold tensors in dicts and lists");
  }

  PersistentIds& ids_;
  Contents& out_;
  std::unordered_set<std::string> names_;
  size_t visits_ = 0;
};

}  // namespace

const ElementType* element_type(std::string_view qualified) {
  std::string_view rest;
  for (std::string_view module : {"torch.cuda.", "torch."}) {
    if (qualified.substr(0, module.size()) == module) {
      rest = qualified.substr(module.size());
      break;
    }
  }
  if (rest == "UntypedStorage") rest = "ByteStorage";
  for (std::string_view suffix : {"Storage", "Tensor"}) {
    if (rest.size() > suffix.size() && rest.substr(rest.size() - suffix.size()) == suffix) {
      const std::string_view prefix = rest.substr(0, rest.size() - suffix.size());
      for (const NamedType& t : kTypes) {
        if (prefix == t.prefix) return &t.type;
      }
    }
  }
  return nullptr;
}

bool allowed_global(std::string_view qualified) {
  for (std::string_view f : kFunctions) {
    if (qualified == f) return true;
  }
  return element_type(qualified) != nullptr;
}

int64_t as_int(const Value& v, const std::string& what) {
  GRAFT_CHECK(v.is(Kind::integer), what, " is a ", pickle::kind_name(v.kind), ", not an int");
  return v.integer;
}

const std::string& as_str(const Value& v, const std::string& what) {
  GRAFT_CHECK(v.is(Kind::string), what, " is a ", pickle::kind_name(v.kind), ", not a str");
  return v.text;
}

const std::vector<Value*>& as_tuple(const Value& v, size_t min_size, const std::string& what) {
  GRAFT_CHECK(v.is(Kind::tuple) || v.is(Kind::list), what, " is a ", pickle::kind_name(v.kind), ", not a tuple");
  GRAFT_CHECK(v.items.size() >= min_size, what, " has ", v.items.size(), " fields, fewer than ", min_size);
  return v.items;
}

Shape as_int_tuple(const Value& v, const std::string& what) {
  Shape out;
  for (const Value* item : as_tuple(v, 0, what)) out.push_back(as_int(*item, what));
  return out;
}

std::string as_key(const Value& v, const std::string& what) {
  if (v.is(Kind::integer)) return std::to_string(v.integer);
  return as_str(v, what);
}

std::string record_storage(const std::vector<Value*>& fields, Contents& out, const char* not_a_storage) {
  GRAFT_CHECK(fields[0]->is(Kind::string) && fields[0]->text == "storage", not_a_storage);
  const ElementType* type = fields[1]->is(Kind::global) ? element_type(fields[1]->text) : nullptr;
  GRAFT_CHECK(type, "a storage's persistent id does not name a storage type");
  const std::string key = as_key(*fields[2], "a storage key");
  const int64_t numel = as_int(*fields[4], "a storage's size");
  GRAFT_CHECK(numel >= 0 && numel <= kMaxElements, "storage '", key, "' has an absurd size ", numel);
  StorageRecord& record = out.storages[key];
  GRAFT_CHECK(!record.type || (record.type == type && record.numel == numel), "storage '", key,
              "' is described twice, differently");
  record.type = type;
  record.numel = numel;
  return key;
}

PersistentIds::StorageRef PersistentIds::storage(const Value&) {
  fail("a tensor record names a storage, which this layout does not do");
}

TensorRecord PersistentIds::tensor(const Value&) {
  fail("a bare persistent id where a tensor was expected (a saved storage?); graft reads tensors only");
}

void read_main_pickle(pickle::Unpickler& unpickler, size_t& offset, PersistentIds& ids, Contents& out,
                      const std::string& path) {
  Collector collector(ids, out);
  const Value* root = nullptr;
  try {
    root = &unpickler.load(offset);
  } catch (const Error&) {
    if (const Value* partial = unpickler.salvage()) {
      try {
        collector.collect(*partial, "", 0);
      } catch (const Error&) {  // the unpickling error is the one to report
      }
    }
    throw;
  }
  try {
    collector.collect(*root, "", 0);
  } catch (const Error& e) {
    if (std::string_view(e.what()).substr(0, path.size()) == path) throw;
    fail(path, ": ", e.what());
  }
}

void check_views(const Contents& contents, const std::string& path) {
  for (const TensorRecord& t : contents.tensors) {
    const StorageRecord& s = contents.storages.at(t.storage);
    GRAFT_CHECK(!s.type || s.type == t.type, path, ": tensor '", t.name, "' is ", t.type->dtype_name,
                " but its storage holds ", s.type ? s.type->dtype_name : "?");
    if (s.numel < 0) continue;
    __int128 numel = 1;
    for (int64_t size : t.shape) {
      numel *= size;
      if (numel > kMaxElements) fail(path, ": tensor '", t.name, "' has an absurd size ", shape_str(t.shape));
    }
    if (numel == 0) continue;
    // The largest element index the view reaches must lie inside the storage.
    __int128 last = t.offset;
    for (size_t i = 0; i < t.shape.size() && last < s.numel; ++i) {
      last += static_cast<__int128>(t.shape[i] - 1) * t.strides[i];
    }
    if (last >= s.numel) {
      fail(path, ": tensor '", t.name, "' (size ", shape_str(t.shape), ", strides ", shape_str(t.strides), ", offset ",
           t.offset, ") reaches past the end of its storage of ", s.numel, " elements; the file is corrupt");
    }
  }
}

}  // namespace graft::pth_detail
