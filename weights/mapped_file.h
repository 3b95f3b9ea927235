#pragma once
// A whole file memory-mapped copy-on-write: checkpoint tensors alias it, and writing to them
// changes private pages, never the file.
//
// Storages made from it copy bytes out (Storage::read) with pread() straight into the destination
// rather than through the mapping. From a cold disk the file then streams in large sequential
// requests, where faulting the mapping in tensor by tensor reads it in scattered pieces (torch.save
// does not store tensors in state-dict order) and leaves it cached in single pages, which cost
// about twice as much to copy out of as the large folios sequential reads leave. A file cut short
// after mapping gives an Error instead of SIGBUS. A range holding a page written through the
// mapping, whose private copy the file lacks, is copied from memory instead.
//
// ScatteredReads serves the parsers, which touch a few scattered headers of a file before its
// bulk is read: it fetches those pages from disk together, and keeps them from breaking the
// large sequential requests in which the bulk is then read (see there).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/storage.h"

namespace graft::weights {

class MappedFile : public std::enable_shared_from_this<MappedFile> {
 public:
  // Errors name the file: cannot open, not a regular file, cannot map. The file stays open until
  // the MappedFile and every storage made from it are gone.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* bytes() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // A CPU storage of bytes [offset, offset + n) that aliases the mapping and keeps it alive; its
  // Storage::read reads the file. The range must lie inside the file.
  std::shared_ptr<Storage> storage(uint64_t offset, size_t n);
  // Copies bytes [offset, offset + n) as the mapping holds them now. An Error naming the file when
  // the file got shorter since it was mapped (where reading the mapping would raise SIGBUS).
  void read(uint64_t offset, size_t n, void* destination) const;

 private:
  MappedFile(int fd, unsigned char* data, size_t size, std::string path)
      : fd_(fd), data_(data), size_(size), path_(std::move(path)) {}
  friend class ScatteredReads;

  int fd_;
  unsigned char* data_;
  size_t size_;
  std::string path_;
};

// While alive, a parser reads (never writes) scattered pages of `file`. A touched page that is not
// in the page cache is read from disk alone, not with the megabytes around it that the kernel
// reads by default (read_ahead_kb: 8 MB on some machines). On destruction, the pages that
// will_read fetched are dropped from the page cache again: left there, each would split the large
// sequential requests in which the file's bulk is read next, and restart the kernel's read-ahead
// (on this project's virtual disks that doubles the time to read a 100 MB checkpoint).
class ScatteredReads {
 public:
  explicit ScatteredReads(const MappedFile& file);
  ~ScatteredReads();
  ScatteredReads(const ScatteredReads&) = delete;
  ScatteredReads& operator=(const ScatteredReads&) = delete;

  // Bytes [offset, offset + n) are about to be read: those of their pages not in the page cache
  // are requested from disk now, all in flight together. Only a hint: failures are ignored.
  void will_read(uint64_t offset, uint64_t n);

 private:
  const MappedFile& file_;
  std::vector<std::pair<uint64_t, uint64_t>> fetched_;  // page-aligned (offset, bytes)
};

}  // namespace graft::weights
