// The zip layout (torch >= 1.6): every record is a stored entry "<archive>/<record>", where
// <archive> is "archive" or, in some torch versions, the saved file's name. data.pkl holds the
// object; each storage's raw bytes are the entry data/<key>. A tensor's persistent id is
// ('storage', storage class, key, location, numel).
// The ranges read here (central directory, local headers, data.pkl) are announced to `will_read`
// first, so that from a cold disk they arrive in one wait rather than one wait each.
#include <unordered_map>

#include "weights/pth_contents.h"
#include "weights/zip.h"

namespace graft::pth_detail {
namespace {

class ZipIds : public PersistentIds {
 public:
  explicit ZipIds(Contents& out) : out_(out) {}

  StorageRef storage(const pickle::Value& id) override {
    const auto& fields = as_tuple(id, 5, "a storage's persistent id");
    return {record_storage(fields, out_, "a persistent id is not a storage"), 0};
  }

 private:
  Contents& out_;
};

std::string refuse_compressed(const std::string& path, const zip::Entry& e) {
  return concat(path, ": the zip entry '", e.name, "' is compressed (method ", e.method,
                "); torch.save stores entries uncompressed, so this file was repacked. Unzip it and zip it "
                "again with `zip -0` (no compression), or re-save it with torch.save");
}

}  // namespace

void read_zip(const unsigned char* bytes, size_t size, const std::string& path, const zip::WillRead& will_read,
              Contents& out) {
  out.layout = "zip";
  const zip::Listing listing = zip::list_entries(bytes, size, path, will_read);
  GRAFT_CHECK(!listing.entries.empty(), path, ": the zip archive holds no entries", listing.damage.empty() ? "" : "; ",
              listing.damage);
  std::unordered_map<std::string, const zip::Entry*> by_name;
  for (const zip::Entry& e : listing.entries) by_name.emplace(e.name, &e);

  const std::string& first = listing.entries[0].name;
  const std::string prefix = first.substr(0, first.find('/') + 1);
  auto pickle_entry = by_name.find(prefix + "data.pkl");
  if (pickle_entry == by_name.end()) {
    const bool torchscript = by_name.count(prefix + "constants.pkl") > 0;
    fail(path, ": this zip archive has no '", prefix, "data.pkl' record, so torch.save did not write it",
         torchscript ? " (it is a TorchScript archive from torch.jit.save: load it in PyTorch and save "
                       "model.state_dict() with torch.save)"
                     : "",
         listing.damage.empty() ? "" : "; ", listing.damage);
  }
  const zip::Entry& data_pkl = *pickle_entry->second;
  if (data_pkl.method != 0) fail(refuse_compressed(path, data_pkl));
  if (auto order = by_name.find(prefix + "byteorder"); order != by_name.end() && order->second->complete) {
    const zip::Entry& e = *order->second;
    const std::string value(reinterpret_cast<const char*>(bytes + e.data_offset), e.size);
    GRAFT_CHECK(value == "little", path, ": the checkpoint was saved on a ", value,
                "-endian machine; graft reads little-endian checkpoints only");
  }

  if (will_read) will_read(data_pkl.data_offset, data_pkl.size);
  pickle::Unpickler unpickler(bytes + data_pkl.data_offset, data_pkl.size, allowed_global,
                              concat(path, " (", data_pkl.name, ")"));
  ZipIds ids(out);
  size_t offset = 0;
  read_main_pickle(unpickler, offset, ids, out, path);

  for (auto& [key, storage] : out.storages) {
    auto found = by_name.find(prefix + "data/" + key);
    if (found == by_name.end()) {
      GRAFT_CHECK(!listing.damage.empty(), path, ": the archive has no record '", prefix, "data/", key,
                  "' for a storage that data.pkl uses; the file is corrupt");
      out.damage = listing.damage;
      continue;
    }
    const zip::Entry& e = *found->second;
    if (e.method != 0) fail(refuse_compressed(path, e));
    GRAFT_CHECK(!e.complete || e.size >= storage.bytes(), path, ": the record '", e.name, "' holds ", e.size,
                " bytes but data.pkl says the storage has ", storage.bytes(), "; the file is corrupt");
    if (!e.complete) out.damage = listing.damage;
    storage.located = true;
    storage.file_offset = e.data_offset;
    storage.bytes_in_file = e.size;
  }
}

}  // namespace graft::pth_detail
