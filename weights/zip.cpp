#include "weights/zip.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/error.h"

namespace graft::zip {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;        // "PK\3\4"
constexpr uint32_t kCentralHeader = 0x02014b50;      // "PK\1\2"
constexpr uint32_t kEndOfCentral = 0x06054b50;       // "PK\5\6"
constexpr uint32_t kZip64EndOfCentral = 0x06064b50;  // "PK\6\6"
constexpr uint32_t kZip64Locator = 0x07064b50;       // "PK\6\7"
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndOfCentralSize = 22;
constexpr uint16_t kFlagDataDescriptor = 1u << 3;
constexpr uint16_t kZip64ExtraId = 0x0001;

// Bounds-checked little-endian reads from the archive.
class Reader {
 public:
  Reader(const unsigned char* bytes, size_t size, const std::string& where)
      : bytes_(bytes), size_(size), where_(where) {}

  bool has(uint64_t offset, uint64_t n) const { return offset <= size_ && n <= size_ - offset; }
  uint64_t uint(uint64_t offset, size_t n) const {
    if (!has(offset, n))
      fail(where_, ": malformed zip archive: a field at byte ", offset, " lies past the end (", size_, " bytes)");
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | bytes_[offset + i];
    return v;
  }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(uint(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(uint(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return uint(offset, 8); }
  std::string text(uint64_t offset, size_t n) const {
    if (!has(offset, n)) fail(where_, ": malformed zip archive: a name at byte ", offset, " lies past the end");
    return std::string(reinterpret_cast<const char*>(bytes_ + offset), n);
  }
  const unsigned char* bytes() const { return bytes_; }
  size_t size() const { return size_; }
  const std::string& where() const { return where_; }

 private:
  const unsigned char* bytes_;
  size_t size_;
  const std::string& where_;
};

// The zip64 extra field replaces, in order, each of the fields that hold 0xffffffff.
struct Zip64Fields {
  std::optional<uint64_t> uncompressed, compressed, local_offset;
};

Zip64Fields read_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, bool want_uncompressed,
                             bool want_compressed, bool want_offset) {
  Zip64Fields out;
  for (uint64_t p = extra; p + 4 <= extra + extra_len;) {
    const uint16_t id = r.u16(p), len = r.u16(p + 2);
    if (id == kZip64ExtraId) {
      uint64_t q = p + 4;
      const uint64_t end = q + len;
      auto take = [&](bool wanted, std::optional<uint64_t>& field) {
        if (wanted && q + 8 <= end) {
          field = r.u64(q);
          q += 8;
        }
      };
      take(want_uncompressed, out.uncompressed);
      take(want_compressed, out.compressed);
      take(want_offset, out.local_offset);
      return out;
    }
    p += 4 + len;
  }
  return out;
}

// The offset of the end-of-central-directory record, if the archive ends with one.
std::optional<uint64_t> find_end_of_central(const Reader& r) {
  if (r.size() < kEndOfCentralSize) return std::nullopt;
  const uint64_t last = r.size() - kEndOfCentralSize;
  const uint64_t first = last > 0xffff ? last - 0xffff : 0;  // the comment is at most 65535 bytes
  for (uint64_t p = last + 1; p-- > first;) {
    // The comment length must reach exactly to the end, or these bytes are tensor data.
    if (r.u32(p) == kEndOfCentral && p + kEndOfCentralSize + r.u16(p + 20) == r.size()) return p;
  }
  return std::nullopt;
}

Entry entry_at_local_header(const Reader& r, uint64_t local, const std::string& name, uint16_t method, uint64_t size) {
  if (!r.has(local, kLocalHeaderSize) || r.u32(local) != kLocalHeader) {
    fail(r.where(), ": malformed zip archive: the central directory points entry '", name, "' at byte ", local,
         " where there is no local header");
  }
  Entry e;
  e.name = name;
  e.method = method;
  e.data_offset = local + kLocalHeaderSize + r.u16(local + 26) + r.u16(local + 28);
  e.size = size;
  if (!r.has(e.data_offset, size)) {
    fail(r.where(), ": malformed zip archive: entry '", name, "' (", size, " bytes at byte ", e.data_offset,
         ") runs past the end of the file (", r.size(), " bytes)");
  }
  return e;
}

// An entry as the central directory describes it, before its local header is read.
struct CentralRecord {
  std::string name;
  uint16_t method;
  uint64_t size;
  uint64_t local_header;
};

Listing read_central_directory(const Reader& r, uint64_t end_record, const WillRead& will_read) {
  uint64_t count = r.u16(end_record + 10);
  uint64_t dir_size = r.u32(end_record + 12);
  uint64_t dir_offset = r.u32(end_record + 16);
  if (count == 0xffff || dir_size == 0xffffffff || dir_offset == 0xffffffff) {
    const uint64_t locator = end_record >= 20 ? end_record - 20 : 0;
    if (r.u32(locator) != kZip64Locator) fail(r.where(), ": malformed zip archive: the zip64 locator is missing");
    const uint64_t record = r.u64(locator + 8);
    if (r.u32(record) != kZip64EndOfCentral) fail(r.where(), ": malformed zip archive: bad zip64 end record");
    count = r.u64(record + 32);
    dir_size = r.u64(record + 40);
    dir_offset = r.u64(record + 48);
  }
  if (!r.has(dir_offset, dir_size)) {
    fail(r.where(), ": malformed zip archive: the central directory (", dir_size, " bytes at byte ", dir_offset,
         ") lies outside the file");
  }
  if (will_read) will_read(dir_offset, dir_size);
  std::vector<CentralRecord> records;
  uint64_t p = dir_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (p + kCentralHeaderSize > dir_offset + dir_size || r.u32(p) != kCentralHeader) {
      fail(r.where(), ": malformed zip archive: central directory entry ", i, " of ", count, " is damaged");
    }
    const uint16_t method = r.u16(p + 10);
    uint64_t compressed = r.u32(p + 20);
    const uint64_t uncompressed = r.u32(p + 24);
    const uint16_t name_len = r.u16(p + 28), extra_len = r.u16(p + 30), comment_len = r.u16(p + 32);
    uint64_t local = r.u32(p + 42);
    const std::string name = r.text(p + kCentralHeaderSize, name_len);
    const Zip64Fields z = read_zip64_extra(r, p + kCentralHeaderSize + name_len, extra_len, uncompressed == 0xffffffff,
                                           compressed == 0xffffffff, local == 0xffffffff);
    compressed = z.compressed.value_or(compressed);
    local = z.local_offset.value_or(local);
    records.push_back({name, method, compressed, local});
    p += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  if (will_read) {
    // A local header is 30 bytes, its name and an extra field (torch pads its data to 64 bytes there).
    for (const CentralRecord& c : records) {
      if (c.local_header < r.size()) {
        will_read(c.local_header, std::min<uint64_t>(kLocalHeaderSize + c.name.size() + 128, r.size() - c.local_header));
      }
    }
  }
  Listing listing;
  for (const CentralRecord& c : records) {
    listing.entries.push_back(entry_at_local_header(r, c.local_header, c.name, c.method, c.size));
  }
  return listing;
}

// For an entry written with a data descriptor: the size of its data, found as the first descriptor
// signature after it whose recorded size matches the distance to it. The descriptor holds 32- or
// 64-bit sizes (16 or 24 bytes); for an empty entry both forms match, so the one followed by the
// next record's "PK" (or the end of the data) wins. Sets `descriptor_size`; nullopt when the archive
// ends first.
std::optional<uint64_t> find_descriptor(const Reader& r, uint64_t data_start, uint64_t& descriptor_size) {
  const unsigned char signature[4] = {0x50, 0x4b, 0x07, 0x08};
  auto next_record_at = [&](uint64_t end) { return end + 2 > r.size() || r.u16(end) == 0x4b50; };
  uint64_t from = data_start;
  while (from < r.size()) {
    const void* hit = memmem(r.bytes() + from, r.size() - from, signature, 4);
    if (!hit) break;
    const uint64_t p = static_cast<const unsigned char*>(hit) - r.bytes();
    const uint64_t distance = p - data_start;
    for (const uint64_t size : {16u, 24u}) {
      if (r.has(p, size) && r.uint(p + 8, size == 16 ? 4 : 8) == distance && next_record_at(p + size)) {
        descriptor_size = size;
        return distance;
      }
    }
    from = p + 1;
  }
  return std::nullopt;
}

Listing walk_local_headers(const Reader& r) {
  Listing listing;
  uint64_t p = 0;
  while (r.has(p, 4) && r.u32(p) == kLocalHeader) {
    if (!r.has(p, kLocalHeaderSize)) break;
    const uint16_t flags = r.u16(p + 6), method = r.u16(p + 8);
    uint64_t compressed = r.u32(p + 18);
    const uint16_t name_len = r.u16(p + 26), extra_len = r.u16(p + 28);
    if (!r.has(p + kLocalHeaderSize, uint64_t{name_len} + extra_len)) break;
    Entry e;
    e.name = r.text(p + kLocalHeaderSize, name_len);
    e.method = method;
    e.data_offset = p + kLocalHeaderSize + name_len + extra_len;
    if (compressed == 0xffffffff) {
      compressed = read_zip64_extra(r, e.data_offset - extra_len, extra_len, r.u32(p + 22) == 0xffffffff, true, false)
                       .compressed.value_or(compressed);
    }
    uint64_t descriptor_size = 0;
    std::optional<uint64_t> size = compressed;
    if ((flags & kFlagDataDescriptor) && compressed == 0) size = find_descriptor(r, e.data_offset, descriptor_size);
    if (!size || !r.has(e.data_offset, *size)) {
      e.size = r.size() - e.data_offset;
      e.complete = false;
      listing.damage = concat("the archive ends at byte ", r.size(), " inside entry '", e.name,
                              "' (which starts at byte ", e.data_offset, "); the file is cut short");
      listing.entries.push_back(std::move(e));
      return listing;
    }
    e.size = *size;
    p = e.data_offset + e.size + descriptor_size;
    listing.entries.push_back(std::move(e));
  }
  listing.damage = concat("the archive has no end-of-central-directory record (the file is cut short?); its ",
                          listing.entries.size(), " local headers end at byte ", p, " of ", r.size());
  return listing;
}

}  // namespace

bool has_zip_signature(const unsigned char* bytes, size_t size) {
  return size >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04;
}

Listing list_entries(const unsigned char* bytes, size_t size, const std::string& where, const WillRead& will_read) {
  const Reader r(bytes, size, where);
  if (const std::optional<uint64_t> end_record = find_end_of_central(r)) {
    return read_central_directory(r, *end_record, will_read);
  }
  return walk_local_headers(r);
}

}  // namespace graft::zip
