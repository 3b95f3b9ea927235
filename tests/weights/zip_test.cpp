#include "weights/zip.h"

#include "core/error.h"
#include "gtest/gtest.h"

namespace graft {
namespace {

std::string little_endian(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// A hand-built archive: stored entries, each optionally followed by a data descriptor of
// `descriptor` bytes (16: 32-bit sizes, 24: zip64 sizes; sizes are then 0 in the local header),
// and optionally a central directory.
struct Archive {
  std::string bytes;
  std::string directory;
  int count = 0;

  void add(const std::string& name, const std::string& data, int descriptor, uint16_t method = 0) {
    const uint64_t offset = bytes.size();
    const uint32_t header_size = descriptor ? 0 : static_cast<uint32_t>(data.size());
    bytes += "PK\x03\x04" + little_endian(20, 2) + little_endian(descriptor ? 8 : 0, 2) + little_endian(method, 2) +
             little_endian(0, 4) + little_endian(0, 4) + little_endian(header_size, 4) +
             little_endian(header_size, 4) + little_endian(name.size(), 2) + little_endian(0, 2) + name + data;
    if (descriptor) {
      const int width = descriptor == 16 ? 4 : 8;
      bytes += "PK\x07\x08" + little_endian(0, 4) + little_endian(data.size(), width) +
               little_endian(data.size(), width);
    }
    directory += "PK\x01\x02" + little_endian(20, 2) + little_endian(20, 2) + little_endian(0, 2) +
                 little_endian(method, 2) + little_endian(0, 4) + little_endian(0, 4) + little_endian(data.size(), 4) +
                 little_endian(data.size(), 4) + little_endian(name.size(), 2) + little_endian(0, 2) +
                 little_endian(0, 2) + little_endian(0, 2) + little_endian(0, 2) + little_endian(0, 4) +
                 little_endian(offset, 4) + name;
    ++count;
  }
  std::string with_directory() const {
    return bytes + directory + "PK\x05\x06" + little_endian(0, 4) + little_endian(count, 2) +
           little_endian(count, 2) + little_endian(directory.size(), 4) + little_endian(bytes.size(), 4) +
           little_endian(0, 2);
  }
};

zip::Listing list(const std::string& bytes) {
  return zip::list_entries(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "test.zip");
}

const std::vector<std::pair<std::string, std::string>> kEntries = {
    {"a/data.pkl", "pickle bytes"},
    {"a/data/0", ""},
    {"a/data/1", "holds a fake PK\x07\x08 descriptor signature"},
    {"a/data/2", ""},
    {"a/version", "3\n"}};

void expect_entries(const std::string& archive, const zip::Listing& listing) {
  ASSERT_GE(listing.entries.size(), kEntries.size()) << listing.damage;
  for (size_t i = 0; i < kEntries.size(); ++i) {
    const zip::Entry& e = listing.entries[i];
    EXPECT_EQ(e.name, kEntries[i].first);
    EXPECT_TRUE(e.complete);
    EXPECT_EQ(e.method, 0);
    EXPECT_EQ(archive.substr(e.data_offset, e.size), kEntries[i].second) << e.name;
  }
}

TEST(Zip, FindsEntriesWithoutACentralDirectoryByTheirDescriptors) {
  for (int descriptor : {0, 16, 24}) {
    SCOPED_TRACE(descriptor);
    Archive a;
    for (const auto& [name, data] : kEntries) a.add(name, data, descriptor);
    const zip::Listing listing = list(a.bytes);
    EXPECT_EQ(listing.entries.size(), kEntries.size());
    expect_entries(a.bytes, listing);
    EXPECT_NE(listing.damage.find("no end-of-central-directory record"), std::string::npos);
  }
}

TEST(Zip, ReadsTheCentralDirectoryWhenThereIsOne) {
  Archive a;
  for (const auto& [name, data] : kEntries) a.add(name, data, 16);
  a.add("a/deflated", "xyz", 0, 8);
  const std::string archive = a.with_directory();
  const zip::Listing listing = list(archive);
  EXPECT_EQ(listing.damage, "");
  ASSERT_EQ(listing.entries.size(), kEntries.size() + 1);
  expect_entries(archive, listing);
  EXPECT_EQ(listing.entries.back().method, 8);  // listed; the caller refuses it
}

TEST(Zip, AnArchiveCutInsideAnEntryListsItAsIncomplete) {
  Archive a;
  for (const auto& [name, data] : kEntries) a.add(name, data, 16);
  const size_t cut = a.bytes.find("descriptor signature") + 5;
  const zip::Listing listing = list(a.bytes.substr(0, cut));
  ASSERT_EQ(listing.entries.size(), 3u);
  EXPECT_TRUE(listing.entries[1].complete);
  EXPECT_FALSE(listing.entries[2].complete);
  EXPECT_EQ(listing.entries[2].data_offset + listing.entries[2].size, cut);
  EXPECT_NE(listing.damage.find("cut short"), std::string::npos) << listing.damage;
}

TEST(Zip, MalformedDirectoriesAreErrors) {
  Archive a;
  a.add("x", "data", 0);
  std::string archive = a.with_directory();
  archive[archive.size() - 3] = '\x7f';  // the directory's offset now points past the end
  try {
    list(archive);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test.zip: malformed zip archive"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(list("").entries.empty());
  EXPECT_FALSE(zip::has_zip_signature(reinterpret_cast<const unsigned char*>("PK"), 2));
}

}  // namespace
}  // namespace graft
