// The memory-mapped file behind checkpoints: Storage::read must give exactly what the mapping
// holds (bytes written through the mapping included, though the file lacks them), fail cleanly on
// a file cut short after it was opened, and ScatteredReads must leave the page cache as it was.
#include "weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/files.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

const size_t kPage = static_cast<size_t>(::sysconf(_SC_PAGESIZE));

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("graft_mapped_" + std::to_string(::getpid()) + "_" + name)).string();
}

// Three and a half pages of a byte pattern that differs from page to page.
std::string pattern() {
  std::string bytes(3 * kPage + kPage / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7 + i / kPage) % 251);
  return bytes;
}

std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

using testing::read_file;

std::string read_range(const Storage& storage, size_t offset, size_t n) {
  std::string out(n, '\0');
  storage.read(offset, n, out.data());
  return out;
}

// Whether Storage::read can tell written pages apart (it reads /proc/self/pagemap); without it,
// every read copies from the mapping, which a file cut short turns into SIGBUS.
bool pagemap_readable() { return ::access("/proc/self/pagemap", R_OK) == 0; }

TEST(MappedFile, ReadGivesTheBytesOfTheFile) {
  const std::string bytes = pattern();
  const std::string path = write_file("read.bin", bytes);
  const auto file = weights::MappedFile::open(path);
  ASSERT_EQ(file->size(), bytes.size());
  EXPECT_EQ(std::memcmp(file->bytes(), bytes.data(), bytes.size()), 0);
  const auto whole = file->storage(0, file->size());
  // Aligned, odd, page-crossing, last-byte and empty ranges.
  const std::vector<std::pair<size_t, size_t>> ranges = {
      {0, bytes.size()}, {1, 17}, {kPage - 3, 10}, {kPage, 2 * kPage}, {bytes.size() - 1, 1}, {5, 0}};
  for (const auto& [offset, n] : ranges) {
    EXPECT_EQ(read_range(*whole, offset, n), bytes.substr(offset, n)) << offset << " + " << n;
  }
  // A storage of a sub-range reads relative to its start.
  const auto part = file->storage(kPage + 5, 100);
  EXPECT_EQ(static_cast<const unsigned char*>(part->data()), file->bytes() + kPage + 5);
  EXPECT_EQ(read_range(*part, 10, 90), bytes.substr(kPage + 15, 90));
  fs::remove(path);
}

TEST(MappedFile, ReadSeesWritesThroughTheMappingAndTheFileKeepsItsBytes) {
  const std::string bytes = pattern();
  const std::string path = write_file("written.bin", bytes);
  {
    const auto file = weights::MappedFile::open(path);
    const auto whole = file->storage(0, file->size());
    auto* data = static_cast<char*>(whole->data());
    std::memset(data + kPage + 10, 'x', 20);  // a private copy of page 1; the file keeps its bytes
    std::string expected = bytes;
    std::memset(expected.data() + kPage + 10, 'x', 20);
    EXPECT_EQ(read_range(*whole, 0, bytes.size()), expected);
    EXPECT_EQ(read_range(*whole, kPage + 5, 40), expected.substr(kPage + 5, 40));
    EXPECT_EQ(read_range(*whole, 2 * kPage, kPage), bytes.substr(2 * kPage, kPage));  // unwritten pages
    const auto part = file->storage(kPage, kPage);
    EXPECT_EQ(read_range(*part, 0, kPage), expected.substr(kPage, kPage));
  }
  EXPECT_EQ(read_file(path), bytes);
  fs::remove(path);
}

TEST(MappedFile, BadRangesAndFilesCutShortAfterOpeningAreErrors) {
  const std::string bytes = pattern();
  const std::string path = write_file("cut.bin", bytes);
  const auto file = weights::MappedFile::open(path);
  const auto whole = file->storage(0, file->size());
  std::string out(16, '\0');
  testing::expect_error([&] { whole->read(bytes.size() - 8, 16, out.data()); }, "cut.bin", "past the end");
  testing::expect_error([&] { file->storage(bytes.size() - 8, 16); }, "cut.bin", "outside the file");
  if (!pagemap_readable()) GTEST_SKIP() << "skipped: /proc/self/pagemap is not readable here";
  fs::resize_file(path, kPage);
  testing::expect_error([&] { whole->read(2 * kPage, 16, out.data()); }, "cut.bin", "shorter than when it was opened");
  EXPECT_EQ(read_range(*whole, 0, 32), bytes.substr(0, 32));  // what is still there reads fine
  fs::remove(path);
  testing::expect_error([] { weights::MappedFile::open(temp_path("missing.bin")); }, "missing.bin", "cannot open");
  testing::expect_error([] { weights::MappedFile::open(fs::temp_directory_path().string()); }, "", "not a regular file");
}

// Which of the file's pages are in the page cache.
std::vector<bool> resident_pages(const weights::MappedFile& file) {
  const size_t pages = (file.size() + kPage - 1) / kPage;
  std::vector<unsigned char> flags(pages);
  EXPECT_EQ(::mincore(const_cast<unsigned char*>(file.bytes()), file.size(), flags.data()), 0);
  std::vector<bool> out(pages);
  for (size_t i = 0; i < pages; ++i) out[i] = flags[i] & 1;
  return out;
}

TEST(ScatteredReads, DropsThePagesItFetchedAndKeepsTheOthers) {
  const std::string bytes = pattern();
  const std::string path = write_file("scattered.bin", bytes);
  {
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  const auto file = weights::MappedFile::open(path);
  if (resident_pages(*file) != std::vector<bool>(4, false)) {
    fs::remove(path);
    GTEST_SKIP() << "skipped: the file system keeps the file in memory (tmpfs?), so nothing is fetched from disk";
  }
  {
    const int fd = ::open(path.c_str(), O_RDONLY);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);  // no read-ahead: page 0 alone is cached before
    char first[8];
    ASSERT_EQ(::pread(fd, first, sizeof first, 0), 8);
    ::close(fd);
  }
  ASSERT_EQ(resident_pages(*file), (std::vector<bool>{true, false, false, false}));
  {
    weights::ScatteredReads scattered(*file);
    scattered.will_read(10, 20);              // page 0: already cached, left alone
    scattered.will_read(2 * kPage + 100, 8);  // page 2: fetched
    EXPECT_EQ(file->bytes()[2 * kPage + 100], static_cast<unsigned char>(bytes[2 * kPage + 100]));
    EXPECT_EQ(file->bytes()[20], static_cast<unsigned char>(bytes[20]));
    EXPECT_TRUE(resident_pages(*file)[2]);
  }
  EXPECT_EQ(resident_pages(*file), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(read_range(*file->storage(0, file->size()), 0, bytes.size()), bytes);
  fs::remove(path);
}

}  // namespace
}  // namespace graft
