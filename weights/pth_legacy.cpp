// The legacy stream layout (torch 0.4 to 1.5, and torch.save(..., _use_new_zipfile_serialization=
// False) since): five pickles back to back (the magic number, the format version 1001, sys_info,
// the object, the sorted list of storage keys), then each listed storage as an 8-byte element
// count and its raw bytes. A tensor's persistent id is ('storage', storage class, key, location,
// numel, view) where view is None or (view key, offset, numel) for a view into the storage.
#include <algorithm>

#include "weights/pth_contents.h"

namespace graft::pth_detail {
namespace {

// 0x1950a86a20f9469cfc6c as pickle writes an int: little-endian two's complement.
constexpr unsigned char kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kFormatVersion = 1001;

bool no_globals(std::string_view) { return false; }

bool is_magic(const pickle::Value& v) {
  return v.is(pickle::Kind::big_integer) && v.text == std::string_view(reinterpret_cast<const char*>(kMagic), 10);
}

class LegacyIds : public PersistentIds {
 public:
  explicit LegacyIds(Contents& out) : out_(out) {}

  StorageRef storage(const pickle::Value& id) override {
    const auto& fields = as_tuple(id, 6, "a storage's persistent id");
    const std::string key = record_storage(
        fields, out_, "a persistent id is not a storage (a pickled nn.Module? save model.state_dict() instead)");
    const int64_t numel = out_.storages[key].numel;
    if (fields[5]->is(pickle::Kind::none)) return {key, 0};
    // A view (torch < 1.0): its tensors index the root storage from the view's offset.
    const auto& view = as_tuple(*fields[5], 3, "a storage view");
    const int64_t offset = as_int(*view[1], "a storage view's offset");
    const int64_t view_numel = as_int(*view[2], "a storage view's size");
    GRAFT_CHECK(offset >= 0 && view_numel >= 0 && offset <= numel - view_numel, "storage view (offset ", offset,
                ", size ", view_numel, ") lies outside its storage '", key, "' of ", numel, " elements");
    return {key, offset};
  }

 private:
  Contents& out_;
};

}  // namespace

bool has_legacy_magic(const unsigned char* bytes, size_t size) {
  try {
    pickle::Unpickler header(bytes, size, no_globals, "header");
    size_t offset = 0;
    return is_magic(header.load(offset));
  } catch (const Error&) {
    return false;
  }
}

void read_legacy(const unsigned char* bytes, size_t size, const std::string& path, Contents& out) {
  pickle::Unpickler header(bytes, size, no_globals, path + " (header)");
  size_t offset = 0;
  GRAFT_CHECK(has_legacy_magic(bytes, size) && is_magic(header.load(offset)), path,
              ": not a PyTorch checkpoint: it is neither a zip archive (torch >= 1.6) nor a tar archive "
              "(torch <= 0.3), and does not start with the magic number of torch's legacy format");
  out.layout = "legacy";
  const pickle::Value& version = header.load(offset);
  GRAFT_CHECK(version.is(pickle::Kind::integer) && version.integer == kFormatVersion, path,
              ": unsupported legacy format version (graft reads version ", kFormatVersion, ")");
  const pickle::Value& sys_info = header.load(offset);
  for (size_t i = 0; sys_info.is(pickle::Kind::dict) && i < sys_info.dict_size(); ++i) {
    if (sys_info.key(i).is(pickle::Kind::string) && sys_info.key(i).text == "little_endian") {
      GRAFT_CHECK(sys_info.value(i).is(pickle::Kind::boolean) && sys_info.value(i).boolean, path,
                  ": the checkpoint was saved on a big-endian machine; graft reads little-endian checkpoints only");
    }
  }

  pickle::Unpickler main(bytes, size, allowed_global, path + " (object pickle)");
  LegacyIds ids(out);
  read_main_pickle(main, offset, ids, out, path);

  pickle::Unpickler trailer(bytes, size, no_globals, path + " (storage list)");
  const pickle::Value& keys = trailer.load(offset);
  for (const pickle::Value* key_value : as_tuple(keys, 0, path + ": the storage list")) {
    const std::string key = as_key(*key_value, path + ": a storage key");
    auto found = out.storages.find(key);
    GRAFT_CHECK(found != out.storages.end(), path, ": the storage list names '", key,
                "', which no tensor uses; the file is corrupt");
    StorageRecord& storage = found->second;
    if (size - offset < 8) {
      out.damage = concat("the file ends at byte ", size, " before storage '", key, "'; the file is cut short");
      return;
    }
    uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | bytes[offset + i];
    GRAFT_CHECK(count == static_cast<uint64_t>(storage.numel), path, ": storage '", key, "' holds ", count,
                " elements in the file but ", storage.numel, " in the pickle; the file is corrupt");
    offset += 8;
    storage.located = true;
    storage.file_offset = offset;
    storage.bytes_in_file = std::min<uint64_t>(storage.bytes(), size - offset);
    if (storage.bytes_in_file < storage.bytes()) {
      out.damage = concat("the file ends at byte ", size, " inside storage '", key, "' (", storage.bytes(),
                          " bytes from byte ", offset, "); the file is cut short");
      return;
    }
    offset += storage.bytes();
  }
}

}  // namespace graft::pth_detail
