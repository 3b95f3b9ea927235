// The tar layout (torch <= 0.3, as read by torch 1.13's serialization.legacy_load). Members:
//   sys_info  a pickled dict (little_endian, type sizes)
//   pickle    the object; each tensor is a persistent id, the tensor's key as a str
//   tensors   a pickled count, then per tensor a pickled (key, storage key, tensor class) followed by
//             int32 ndim, 4 unused bytes, ndim int64 sizes, ndim int64 strides, int64 storage offset
//   storages  a pickled count, then per storage a pickled (key, location, storage class) followed by
//             an int64 element count and the raw bytes; then a pickled list of storage views
//             (view key, root key, offset, numel)
// The published files put `storages` last, so a cut file still holds every tensor's metadata.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "weights/pth_contents.h"

namespace graft::pth_detail {
namespace {

constexpr size_t kBlock = 512;

struct Member {
  uint64_t offset = 0;     // where its data starts
  uint64_t size = 0;       // as the header says
  uint64_t available = 0;  // how much of it the file holds
};

uint64_t parse_octal(const unsigned char* field, size_t n, const std::string& path, uint64_t at) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && field[i] == ' ') ++i;
  for (; i < n && field[i] >= '0' && field[i] <= '7'; ++i) {
    GRAFT_CHECK(v < (uint64_t{1} << 60), path, ": malformed tar header at byte ", at, ": number too large");
    v = v * 8 + (field[i] - '0');
  }
  GRAFT_CHECK(i == n || field[i] == ' ' || field[i] == '\0', path, ": malformed tar header at byte ", at,
              ": a number field holds '", static_cast<char>(field[i]), "'");
  return v;
}

std::unordered_map<std::string, Member> read_members(const unsigned char* bytes, size_t size, const std::string& path) {
  std::unordered_map<std::string, Member> members;
  for (uint64_t p = 0; size - p >= kBlock;) {
    const unsigned char* h = bytes + p;
    if (std::all_of(h, h + kBlock, [](unsigned char c) { return c == 0; })) break;  // end of archive
    uint64_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    GRAFT_CHECK(sum == parse_octal(h + 148, 8, path, p), path, ": malformed tar archive: the header at byte ", p,
                " fails its checksum");
    const std::string name(reinterpret_cast<const char*>(h), strnlen(reinterpret_cast<const char*>(h), 100));
    Member m;
    m.offset = p + kBlock;
    m.size = parse_octal(h + 124, 12, path, p);
    m.available = std::min<uint64_t>(m.size, size - m.offset);
    const char type = static_cast<char>(h[156]);
    if (type == '0' || type == '\0') members[name] = m;  // regular files; pax and other headers are skipped
    const uint64_t padded = (m.size + kBlock - 1) / kBlock * kBlock;
    if (padded > size - m.offset) break;
    p = m.offset + padded;
  }
  return members;
}

// Reads one member's pickles and raw fields in order; running past the member is an Error that
// says the member is cut short.
class MemberReader {
 public:
  MemberReader(const unsigned char* bytes, const Member& m, const std::string& path, const std::string& name,
               bool allow_globals)
      : bytes_(bytes + m.offset),
        member_(m),
        path_(path),
        name_(name),
        unpickler_(bytes_, m.available, allow_globals ? allowed_global : no_globals,
                   concat(path, " (tar member '", name, "')")) {}

  const pickle::Value& load() { return unpickler_.load(offset_); }

  int64_t read_int(size_t n) {
    if (n > member_.available - offset_) {
      fail(path_, ": the tar member '", name_, "' ends at byte ", member_.offset + member_.available,
           member_.available < member_.size ? " (the file is cut short)" : "", " where ", n,
           " more bytes were expected");
    }
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | bytes_[offset_ + i];
    offset_ += n;
    return n == 4 ? static_cast<int32_t>(v) : static_cast<int64_t>(v);
  }

  uint64_t position() const { return member_.offset + offset_; }
  uint64_t left() const { return member_.available - offset_; }
  void skip(uint64_t n) { offset_ += n; }
  bool cut() const { return member_.available < member_.size; }

 private:
  static bool no_globals(std::string_view) { return false; }

  const unsigned char* bytes_;
  Member member_;
  const std::string& path_;
  std::string name_;
  pickle::Unpickler unpickler_;
  size_t offset_ = 0;
};

class TarIds : public PersistentIds {
 public:
  TarIds(const std::unordered_map<std::string, TensorRecord>& table, const std::string& table_error)
      : table_(table), table_error_(table_error) {}

  TensorRecord tensor(const pickle::Value& id) override {
    const std::string key = as_key(id, "a tensor's persistent id");
    auto found = table_.find(key);
    if (found != table_.end()) return found->second;
    if (!table_error_.empty()) throw Error(table_error_);
    fail("the pickle names tensor ", key, ", which the 'tensors' member does not hold; the file is corrupt");
  }

 private:
  const std::unordered_map<std::string, TensorRecord>& table_;
  const std::string& table_error_;
};

const ElementType* type_of(const pickle::Value& v, const std::string& what) {
  const ElementType* type = v.is(pickle::Kind::global) ? element_type(v.text) : nullptr;
  GRAFT_CHECK(type, what, " does not name a storage or tensor type");
  return type;
}

void read_tensor_table(MemberReader& in, const std::string& path, Contents& out,
                       std::unordered_map<std::string, TensorRecord>& table) {
  const int64_t count = as_int(in.load(), path + ": the tensor count");
  for (int64_t i = 0; i < count; ++i) {
    const auto& fields = as_tuple(in.load(), 3, path + ": a tensor record");
    const std::string key = as_key(*fields[0], path + ": a tensor key");
    TensorRecord t;
    t.storage = as_key(*fields[1], path + ": a storage key");
    t.type = type_of(*fields[2], path + ": tensor " + key + "'s type");
    const int64_t ndim = in.read_int(4);
    in.read_int(4);  // torch < 0.4 wrote ndim as 8 bytes; the high half is unused
    GRAFT_CHECK(ndim >= 0 && static_cast<uint64_t>(ndim) * 16 <= in.left(), path, ": tensor ", key,
                " has a malformed dimension count ", ndim);
    for (int64_t d = 0; d < ndim; ++d) t.shape.push_back(in.read_int(8));
    for (int64_t d = 0; d < ndim; ++d) t.strides.push_back(in.read_int(8));
    t.offset = in.read_int(8);
    bool valid = t.offset >= 0 && t.offset <= kMaxElements;
    for (size_t d = 0; d < t.shape.size(); ++d) valid = valid && t.shape[d] >= 0 && t.strides[d] >= 0;
    GRAFT_CHECK(valid, path, ": tensor ", key, " has a malformed view (size ", shape_str(t.shape), ", strides ",
                shape_str(t.strides), ", offset ", t.offset, ")");
    out.storages[t.storage];  // known by key now, filled in from `storages`
    table[key] = std::move(t);
  }
}

// Reads `storages` until its end or the point where the file is cut (recorded in out.damage).
void read_storages(MemberReader& in, const std::string& path, Contents& out) {
  try {
    const int64_t count = as_int(in.load(), path + ": the storage count");
    for (int64_t i = 0; i < count; ++i) {
      const auto& fields = as_tuple(in.load(), 3, path + ": a storage record");
      const std::string key = as_key(*fields[0], path + ": a storage key");
      StorageRecord& s = out.storages[key];
      s.type = type_of(*fields[2], path + ": storage " + key + "'s type");
      const int64_t numel = in.read_int(8);
      GRAFT_CHECK(numel >= 0 && numel <= kMaxElements, path, ": storage ", key, " has an absurd size ", numel);
      s.numel = numel;
      s.located = true;
      s.file_offset = in.position();
      s.bytes_in_file = std::min<uint64_t>(s.bytes(), in.left());
      if (s.bytes_in_file < s.bytes()) {
        GRAFT_CHECK(in.cut(), path, ": storage ", key,
                    " runs past the end of the 'storages' member; the file is corrupt");
        out.damage = concat("the file ends at byte ", in.position() + in.left(), " inside storage ", key, " (",
                            s.bytes(), " bytes from byte ", s.file_offset, "); the file is cut short");
        return;
      }
      in.skip(s.bytes());
    }
    const pickle::Value& views = in.load();
    for (const pickle::Value* view : as_tuple(views, 0, path + ": the storage views")) {
      const auto& fields = as_tuple(*view, 4, path + ": a storage view");
      const std::string target = as_key(*fields[0], path + ": a storage view key");
      const std::string root = as_key(*fields[1], path + ": a storage key");
      const int64_t offset = as_int(*fields[2], path + ": a storage view's offset");
      const int64_t numel = as_int(*fields[3], path + ": a storage view's size");
      auto found = out.storages.find(root);
      GRAFT_CHECK(found != out.storages.end() && found->second.numel >= 0, path, ": storage view ", target,
                  " refers to storage ", root, ", which the file does not hold");
      GRAFT_CHECK(offset >= 0 && numel >= 0 && offset <= found->second.numel - numel, path, ": storage view ", target,
                  " lies outside storage ", root);
      for (TensorRecord& t : out.tensors) {
        if (t.storage == target) {
          t.storage = root;
          t.offset += offset;
        }
      }
    }
  } catch (const Error& e) {
    if (!in.cut()) throw;
    out.damage = concat(e.what(), " (the 'storages' member is cut short)");
  }
}

}  // namespace

bool has_tar_signature(const unsigned char* bytes, size_t size) {
  return size >= kBlock && std::memcmp(bytes + 257, "ustar", 5) == 0;
}

void read_tar(const unsigned char* bytes, size_t size, const std::string& path, Contents& out) {
  out.layout = "tar";
  const std::unordered_map<std::string, Member> members = read_members(bytes, size, path);
  auto member = [&](const char* name) -> const Member& {
    auto found = members.find(name);
    GRAFT_CHECK(found != members.end(), path, ": the tar archive has no '", name,
                "' member, so torch.save did not write it (or the file is cut short)");
    return found->second;
  };

  if (auto info = members.find("sys_info"); info != members.end()) {
    MemberReader in(bytes, info->second, path, "sys_info", false);
    const pickle::Value& sys_info = in.load();
    for (size_t i = 0; sys_info.is(pickle::Kind::dict) && i < sys_info.dict_size(); ++i) {
      if (sys_info.key(i).is(pickle::Kind::string) && sys_info.key(i).text == "little_endian") {
        GRAFT_CHECK(sys_info.value(i).is(pickle::Kind::boolean) && sys_info.value(i).boolean, path,
                    ": the checkpoint was saved on a big-endian machine; graft reads little-endian checkpoints only");
      }
    }
  }

  // Tensor metadata first: the pickle refers to it. A cut table still names the tensors before the cut.
  std::unordered_map<std::string, TensorRecord> table;
  std::string table_error;
  try {
    MemberReader in(bytes, member("tensors"), path, "tensors", true);
    read_tensor_table(in, path, out, table);
  } catch (const Error& e) {
    table_error = e.what();
  }

  const Member& pickle_member = member("pickle");
  pickle::Unpickler unpickler(bytes + pickle_member.offset, pickle_member.available, allowed_global,
                              concat(path, " (tar member 'pickle')"));
  TarIds ids(table, table_error);
  size_t offset = 0;
  read_main_pickle(unpickler, offset, ids, out, path);
  if (!table_error.empty()) throw Error(table_error);

  auto storages = members.find("storages");
  if (storages == members.end()) {
    out.damage = "the tar archive has no 'storages' member (the file is cut short?)";
    return;
  }
  MemberReader storages_in(bytes, storages->second, path, "storages", true);
  read_storages(storages_in, path, out);
}

}  // namespace graft::pth_detail
