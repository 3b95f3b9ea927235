#include "weights/pth.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "weights/pth_contents.h"
#include "weights/mapped_file.h"
#include "weights/zip.h"

namespace graft {
namespace {

using namespace pth_detail;


// Fills `out` from the file; throws at the first problem, leaving what was read before it.
void read_contents(const unsigned char* bytes, size_t size, const std::string& path, Contents& out) {
  GRAFT_CHECK(size > 0, path, ": the file is empty");
  if (zip::has_zip_signature(bytes, size)) {
    read_zip(bytes, size, path, out);
  } else if (has_tar_signature(bytes, size)) {
    read_tar(bytes, size, path, out);
  } else {
    read_legacy(bytes, size, path, out);
  }
  check_views(out, path);
}

// Why a tensor whose storage is not all in the file cannot be loaded.
std::string missing_data(const Contents& contents, const TensorRecord& t, const std::string& path) {
  const StorageRecord& s = contents.storages.at(t.storage);
  if (contents.damage.empty()) {
    return concat(path, ": the file holds no data for storage '", t.storage, "' of tensor '", t.name,
                  "'; the file is corrupt");
  }
  return concat(path, ": truncated checkpoint: tensor '", t.name, "' needs storage '", t.storage, "'",
                s.numel >= 0 ? concat(" (", s.bytes(), " bytes)") : "", " but ", contents.damage,
                ". Download the file again");
}

std::shared_ptr<Storage> build_storage(const std::shared_ptr<Storage>& mapping, const StorageRecord& s) {
  const ElementType& type = *s.type;
  unsigned char* src = static_cast<unsigned char*>(mapping->data()) + s.file_offset;
  if (type.widen) {
    auto storage = Storage::allocate(static_cast<size_t>(s.numel) * sizeof(int64_t), Device::cpu());
    auto* dst = static_cast<int64_t*>(storage->data());
    for (int64_t i = 0; i < s.numel; ++i) dst[i] = type.widen(src + i * type.size);
    return storage;
  }
  if (s.file_offset % type.size == 0) {  // alias the mapping, keeping it alive
    return Storage::wrap(src, s.bytes(), Device::cpu(), [mapping](void*) {});
  }
  auto storage = Storage::allocate(s.bytes(), Device::cpu());
  if (s.bytes() > 0) std::memcpy(storage->data(), src, s.bytes());
  return storage;
}

}  // namespace

const Tensor& Checkpoint::at(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  std::string some;
  for (size_t i = 0; i < tensors.size() && i < 5; ++i) some += (i ? ", " : "") + tensors[i].first;
  fail("checkpoint: no tensor named '", name, "' (it has ", tensors.size(), " tensors: ", some,
       tensors.size() > 5 ? ", ..." : "", ")");
}

Checkpoint load_pth(const std::string& path) {
  const std::shared_ptr<Storage> mapping = weights::map_file(path);
  Contents contents;
  read_contents(static_cast<const unsigned char*>(mapping->data()), mapping->bytes(), path, contents);

  Checkpoint checkpoint;
  checkpoint.layout = contents.layout;
  std::map<std::string, std::shared_ptr<Storage>> built;
  for (const TensorRecord& t : contents.tensors) {
    const StorageRecord& s = contents.storages.at(t.storage);
    if (!s.complete()) throw Error(missing_data(contents, t, path));
    GRAFT_CHECK(t.type->dtype, path, ": tensor '", t.name, "' has dtype ", t.type->dtype_name,
                ", which graft does not support");
    std::shared_ptr<Storage>& storage = built[t.storage];
    if (!storage) storage = build_storage(mapping, s);
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = storage;
    impl->offset = t.offset;
    impl->shape = t.shape;
    impl->strides = t.strides;
    impl->dtype = *t.type->dtype;
    checkpoint.tensors.emplace_back(t.name, Tensor(std::move(impl)));
  }
  return checkpoint;
}

Inspection inspect_pth(const std::string& path) noexcept {
  Inspection inspection;
  try {
    const std::shared_ptr<Storage> mapping = weights::map_file(path);
    Contents contents;
    try {
      read_contents(static_cast<const unsigned char*>(mapping->data()), mapping->bytes(), path, contents);
    } catch (const Error& e) {
      inspection.error = e.what();
    }
    inspection.layout = contents.layout;
    for (const TensorRecord& t : contents.tensors) {
      const StorageRecord& s = contents.storages.at(t.storage);
      inspection.tensors.push_back({t.name, t.type->dtype_name, t.shape, t.strides, t.offset, s.complete()});
      if (inspection.error.empty() && !s.complete()) inspection.error = missing_data(contents, t, path);
      if (inspection.error.empty() && !t.type->dtype) {
        inspection.error =
            concat(path, ": tensor '", t.name, "' has dtype ", t.type->dtype_name, ", which graft does not support");
      }
    }
  } catch (const std::exception& e) {
    inspection.error = e.what();
  }
  return inspection;
}

bool looks_like_pth(const std::string& path) noexcept {
  try {
    std::ifstream in(path, std::ios::binary);
    unsigned char head[512] = {};
    in.read(reinterpret_cast<char*>(head), sizeof head);
    const size_t n = static_cast<size_t>(in.gcount());
    return zip::has_zip_signature(head, n) || has_tar_signature(head, n) || has_legacy_magic(head, n);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace graft
