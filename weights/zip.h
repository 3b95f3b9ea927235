#pragma once
// A minimal zip reader: lists the entries of an archive held in memory and where each one's bytes
// lie, so that stored (uncompressed) entries can be used in place. Enough for torch.save's zip
// files; it inflates nothing (a compressed entry is listed with its method for the caller to refuse).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace graft::zip {

struct Entry {
  std::string name;
  uint16_t method = 0;       // 0: stored; anything else is compressed
  uint64_t data_offset = 0;  // where the entry's bytes start in the archive
  uint64_t size = 0;         // bytes in the archive (for a cut entry: the bytes that are there)
  bool complete = true;      // false: the archive ends inside this entry
};

struct Listing {
  std::vector<Entry> entries;  // in archive order
  // Empty when the central directory was read. Otherwise why the listing may lack entries: the
  // archive has no central directory (cut short), and where the local headers stop.
  std::string damage;
};

// True when the bytes start with a zip local file header.
bool has_zip_signature(const unsigned char* bytes, size_t size);

// Hears of byte ranges [offset, offset + n) of the archive that the listing is about to read.
using WillRead = std::function<void(uint64_t offset, uint64_t n)>;

// Lists the entries of the archive [bytes, bytes + size). Reads the central directory when there is
// one; otherwise walks the local headers, finding the end of entries written with data descriptors
// (sizes 0 in the local header) by the descriptor that follows them. Handles zip64 sizes. A
// malformed archive is a graft::Error starting with `where`.
// With a central directory, `will_read` (when set) hears of the directory, then of every local
// header before any is read, so that a memory-mapped archive not in the page cache can fetch them
// from disk all at once.
Listing list_entries(const unsigned char* bytes, size_t size, const std::string& where,
                     const WillRead& will_read = nullptr);

}  // namespace graft::zip
