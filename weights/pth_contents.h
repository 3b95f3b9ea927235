#pragma once
// Internals of the .pth reader (weights/pth.h): what a layout reader extracts from a file before
// any tensor is built (names, types, views, where each storage's bytes lie), and what the three
// layout readers share.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "weights/pickle.h"
#include "weights/zip.h"

namespace graft::pth_detail {

// The most elements a storage, view offset or tensor may claim: larger numbers mean a corrupt
// file, and stay far from int64 overflow in the arithmetic on them.
constexpr int64_t kMaxElements = int64_t{1} << 60;

// An element type as torch's storage and tensor classes name it ("torch.FloatStorage",
// "torch.cuda.HalfTensor", ...).
struct ElementType {
  const char* dtype_name;                  // torch's: "float32", "uint8", ...
  size_t size;                             // bytes per element in the file
  std::optional<DType> dtype;              // graft's dtype for it; none when graft cannot hold it
  int64_t (*widen)(const unsigned char*);  // set for the integer types widened to int64
};

// The element type a storage or tensor class name stands for; null for any other name.
const ElementType* element_type(std::string_view qualified_name);
// The globals a .pth pickle may name: OrderedDict, the rebuild functions, Parameter, the storage
// and tensor classes.
bool allowed_global(std::string_view qualified_name);

struct StorageRecord {
  const ElementType* type = nullptr;
  int64_t numel = -1;          // elements; -1 while unknown
  bool located = false;        // whether file_offset is known
  uint64_t file_offset = 0;    // where its bytes start in the file
  uint64_t bytes_in_file = 0;  // how many of its bytes the file holds

  uint64_t bytes() const { return static_cast<uint64_t>(numel) * type->size; }
  bool complete() const { return type && numel >= 0 && located && bytes_in_file >= bytes(); }
};

struct TensorRecord {
  std::string name;
  std::string storage;  // key into Contents::storages
  const ElementType* type = nullptr;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements of the storage
};

struct Contents {
  std::string layout;
  std::vector<TensorRecord> tensors;  // in the saved object's order
  std::map<std::string, StorageRecord> storages;
  std::string damage;  // why storages may be missing or cut (the file is cut short); empty if none
};

// How a layout's pickle refers, through persistent ids, to storages (zip, legacy) or to whole
// tensors (tar). Each method is an Error in the layouts that do not use it.
class PersistentIds {
 public:
  struct StorageRef {
    std::string key;
    int64_t offset = 0;  // a storage view's start in its root storage (legacy layout)
  };
  virtual ~PersistentIds() = default;
  // The storage a _rebuild_tensor call's first argument names.
  virtual StorageRef storage(const pickle::Value& id);
  // The tensor a bare persistent id names (its name left empty).
  virtual TensorRecord tensor(const pickle::Value& id);
};

// Reads the pickle at `offset` (the unpickler must allow just allowed_global) and appends its
// tensors to out.tensors. When the pickle is damaged, the tensors built before the damage are
// appended, then the Error is rethrown. Errors start with `path`.
void read_main_pickle(pickle::Unpickler& unpickler, size_t& offset, PersistentIds& ids, Contents& out,
                      const std::string& path);

// Checks each tensor's view (sizes, strides, offset) against its storage where that is known, and
// that the two agree on the element type. Errors start with `path`.
void check_views(const Contents& contents, const std::string& path);

// Checked accessors for pickle values: a wrong kind is an Error saying `what` was expected.
int64_t as_int(const pickle::Value& v, const std::string& what);
const std::string& as_str(const pickle::Value& v, const std::string& what);
const std::vector<pickle::Value*>& as_tuple(const pickle::Value& v, size_t min_size, const std::string& what);
Shape as_int_tuple(const pickle::Value& v, const std::string& what);
// A storage key as a string: torch writes them as str or int.
std::string as_key(const pickle::Value& v, const std::string& what);

// Reads the fields a storage's persistent id starts with, ('storage', type, key, location, numel),
// records the storage in `out` and returns its key. `not_a_storage` is the error when the id names
// something else.
std::string record_storage(const std::vector<pickle::Value*>& fields, Contents& out, const char* not_a_storage);

// The layout readers. Each fills `out` as it goes and throws at the first problem, so that what
// was read before the problem stays in `out` for inspect_pth. read_zip announces the scattered
// ranges it is about to read (the central directory, local headers, data.pkl) to `will_read`.
void read_zip(const unsigned char* bytes, size_t size, const std::string& path, const zip::WillRead& will_read,
              Contents& out);
void read_legacy(const unsigned char* bytes, size_t size, const std::string& path, Contents& out);
void read_tar(const unsigned char* bytes, size_t size, const std::string& path, Contents& out);

bool has_legacy_magic(const unsigned char* bytes, size_t size);
bool has_tar_signature(const unsigned char* bytes, size_t size);

}  // namespace graft::pth_detail
