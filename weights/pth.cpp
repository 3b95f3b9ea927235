#include "weights/pth.h"

#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "weights/mapped_file.h"
#include "weights/pth_contents.h"
#include "weights/zip.h"

namespace graft {
namespace {

using namespace pth_detail;

// Fills `out` from the file; throws at the first problem, leaving what was read before it. Only
// headers and pickles are read here; the tensors' bytes are left for Storage::read.
void read_contents(const weights::MappedFile& file, Contents& out) {
  const std::string& path = file.path();
  const unsigned char* bytes = file.bytes();
  const size_t size = file.size();
  GRAFT_CHECK(size > 0, path, ": the file is empty");
  if (zip::has_zip_signature(bytes, size)) {
    // Only the zip reader announces what it reads; the older layouts keep the kernel's read-ahead.
    weights::ScatteredReads scattered(file);
    read_zip(bytes, size, path, [&scattered](uint64_t offset, uint64_t n) { scattered.will_read(offset, n); }, out);
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

std::shared_ptr<Storage> build_storage(weights::MappedFile& file, const StorageRecord& s) {
  const ElementType& type = *s.type;
  const unsigned char* src = file.bytes() + s.file_offset;
  if (type.widen) {
    auto storage = Storage::allocate(static_cast<size_t>(s.numel) * sizeof(int64_t), Device::cpu());
    auto* dst = static_cast<int64_t*>(storage->data());
    for (int64_t i = 0; i < s.numel; ++i) dst[i] = type.widen(src + i * type.size);
    return storage;
  }
  if (s.file_offset % type.size == 0) return file.storage(s.file_offset, s.bytes());  // aliases the mapping
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
  const std::shared_ptr<weights::MappedFile> file = weights::MappedFile::open(path);
  Contents contents;
  read_contents(*file, contents);

  Checkpoint checkpoint;
  checkpoint.layout = contents.layout;
  std::map<std::string, std::shared_ptr<Storage>> built;
  for (const TensorRecord& t : contents.tensors) {
    const StorageRecord& s = contents.storages.at(t.storage);
    if (!s.complete()) throw Error(missing_data(contents, t, path));
    GRAFT_CHECK(t.type->dtype, path, ": tensor '", t.name, "' has dtype ", t.type->dtype_name,
                ", which graft does not support");
    std::shared_ptr<Storage>& storage = built[t.storage];
    if (!storage) storage = build_storage(*file, s);
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
    const std::shared_ptr<weights::MappedFile> file = weights::MappedFile::open(path);
    Contents contents;
    try {
      read_contents(*file, contents);
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
