#include "weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "core/error.h"

namespace graft::weights {
namespace {

uint64_t page_size() {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

// Whether a page of [address, address + n) may hold a private copy made by writing through the
// mapping. /proc/self/pagemap has one 64-bit entry per page: bit 63 present, 62 swapped out, 61
// a page of the file (a written page of a private file mapping is anonymous, so it is present or
// swapped without bit 61). When pagemap cannot be read, every page may have been written.
bool may_hold_written_pages(const void* address, size_t n) {
  static const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return true;
  constexpr uint64_t kPresent = uint64_t{1} << 63, kSwapped = uint64_t{1} << 62, kFilePage = uint64_t{1} << 61;
  const uint64_t start = reinterpret_cast<uintptr_t>(address);
  const uint64_t last = (start + n - 1) / page_size();
  uint64_t entries[512];
  for (uint64_t first = start / page_size(); first <= last;) {
    const uint64_t count = std::min<uint64_t>(std::size(entries), last - first + 1);
    const ssize_t got = ::pread(pagemap, entries, count * sizeof(uint64_t), static_cast<off_t>(first * sizeof(uint64_t)));
    if (got != static_cast<ssize_t>(count * sizeof(uint64_t))) return true;
    for (uint64_t i = 0; i < count; ++i) {
      if ((entries[i] & kSwapped) || ((entries[i] & kPresent) && !(entries[i] & kFilePage))) return true;
    }
    first += count;
  }
  return false;
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  GRAFT_CHECK(fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail(path, ": cannot memory-map: ", std::strerror(err));
    }
  }
  return std::shared_ptr<MappedFile>(new MappedFile(fd, static_cast<unsigned char*>(data), size, path));
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
  ::close(fd_);
}

std::shared_ptr<Storage> MappedFile::storage(uint64_t offset, size_t n) {
  GRAFT_CHECK(offset <= size_ && n <= size_ - offset, path_, ": bytes [", offset, ", ", offset + n,
              ") lie outside the file (", size_, " bytes)");
  std::shared_ptr<MappedFile> self = shared_from_this();
  return Storage::wrap_with_reader(
      data_ + offset, n, Device::cpu(), [self](void*) {},
      [self, offset](size_t at, size_t count, void* destination) { self->read(offset + at, count, destination); });
}

void MappedFile::read(uint64_t offset, size_t n, void* destination) const {
  GRAFT_CHECK(offset <= size_ && n <= size_ - offset, path_, ": reading ", n, " bytes at byte ", offset,
              " runs past the end of the file (", size_, " bytes)");
  if (n == 0) return;
  if (may_hold_written_pages(data_ + offset, n)) {
    std::memcpy(destination, data_ + offset, n);
    return;
  }
  auto* out = static_cast<unsigned char*>(destination);
  for (size_t done = 0; done < n;) {
    const ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (got > 0) {
      done += static_cast<size_t>(got);
    } else if (got == 0) {
      fail(path_, ": the file is shorter than when it was opened (", size_, " bytes): it changed on disk while "
           "loading; load it again once nothing writes to it");
    } else if (errno != EINTR) {
      fail(path_, ": cannot read ", n, " bytes at byte ", offset, ": ", std::strerror(errno));
    }
  }
}

ScatteredReads::ScatteredReads(const MappedFile& file) : file_(file) {
  if (file_.size_ > 0) ::madvise(file_.data_, file_.size_, MADV_RANDOM);
}

ScatteredReads::~ScatteredReads() {
  if (file_.size_ == 0) return;
  ::madvise(file_.data_, file_.size_, MADV_NORMAL);
  for (const auto& [offset, bytes] : fetched_) {
    ::madvise(file_.data_ + offset, bytes, MADV_DONTNEED);  // unmaps them: they were only read
    ::posix_fadvise(file_.fd_, static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);
  }
}

void ScatteredReads::will_read(uint64_t offset, uint64_t n) {
  if (offset >= file_.size_ || n == 0) return;
  const uint64_t page = page_size();
  const uint64_t first = offset / page * page;
  const uint64_t end = offset + std::min<uint64_t>(n, file_.size_ - offset);
  const uint64_t pages = (end - first + page - 1) / page;
  std::vector<unsigned char> resident(pages);
  if (::mincore(file_.data_ + first, end - first, resident.data()) != 0) return;
  for (uint64_t i = 0; i < pages;) {
    if (resident[i] & 1) {
      ++i;
      continue;
    }
    uint64_t j = i;
    while (j < pages && !(resident[j] & 1)) ++j;
    const uint64_t start = first + i * page, bytes = (j - i) * page;  // the mapping's last page is whole too
    ::madvise(file_.data_ + start, bytes, MADV_WILLNEED);
    fetched_.emplace_back(start, bytes);
    i = j;
  }
}

}  // namespace graft::weights
