#include "data/image.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"

namespace graft::data {
namespace {

bool starts_with(const uint8_t* bytes, size_t size, std::initializer_list<uint8_t> magic) {
  return size >= magic.size() && std::equal(magic.begin(), magic.end(), bytes);
}

// stb_image decodes a cut-off JPEG without complaint (the missing part comes out gray), so the
// marker structure is walked here first: every segment must be complete and the file must reach
// the end-of-image marker. Entropy-coded data after a start-of-scan runs to the next marker that
// is neither a stuffed 0xFF00 nor a restart marker.
bool jpeg_reaches_end_marker(const uint8_t* bytes, size_t size) {
  size_t pos = 2;  // after SOI
  while (pos + 2 <= size) {
    // Stray bytes between segments and fill bytes before a marker are skipped (libjpeg warns
    // about the former, stb_image ignores both).
    if (bytes[pos] != 0xFF || bytes[pos + 1] == 0xFF || bytes[pos + 1] == 0x00) {
      ++pos;
      continue;
    }
    const uint8_t marker = bytes[pos + 1];
    pos += 2;
    if (marker == 0xD9) return true;                                     // EOI
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // standalone markers
    if (pos + 2 > size) return false;
    const size_t length = (size_t{bytes[pos]} << 8) | bytes[pos + 1];
    if (length < 2 || pos + length > size) return false;
    pos += length;
    if (marker != 0xDA) continue;  // not SOS: no entropy-coded data follows
    while (pos + 1 < size) {
      if (bytes[pos] == 0xFF && bytes[pos + 1] != 0x00 && !(bytes[pos + 1] >= 0xD0 && bytes[pos + 1] <= 0xD7)) break;
      ++pos;
    }
  }
  return false;
}

std::vector<uint8_t> read_file(const std::string& path) {
  GRAFT_CHECK(!std::filesystem::is_directory(path), "load_image: '", path, "' is a directory, not an image file");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  GRAFT_CHECK(file, "load_image: cannot open '", path, "': ", std::strerror(errno));
  const std::streamsize size = file.tellg();
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  file.seekg(0);
  GRAFT_CHECK(file.read(reinterpret_cast<char*>(bytes.data()), size), "load_image: cannot read '", path,
              "': ", std::strerror(errno));
  return bytes;
}

size_t pixel_bytes(int64_t height, int64_t width) {
  GRAFT_CHECK(height > 0 && width > 0, "Image: height and width must be positive, got ", height, " x ", width);
  GRAFT_CHECK(height <= kMaxImagePixels / width, "Image: ", height, " x ", width, " is more than the limit of ",
              kMaxImagePixels, " pixels");
  return static_cast<size_t>(height * width * Image::channels);
}

}  // namespace

Image::Image(int64_t height, int64_t width) : height(height), width(width), pixels(pixel_bytes(height, width)) {}

Image decode_image(const void* data, size_t size, const std::string& source) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  GRAFT_CHECK(size > 0, "decode_image: ", source, " is empty (0 bytes)");
  GRAFT_CHECK(size <= INT_MAX, "decode_image: ", source, " is ", size, " bytes; stb_image reads at most ", INT_MAX);
  const int length = static_cast<int>(size);

  const bool is_jpeg = starts_with(bytes, size, {0xFF, 0xD8, 0xFF});
  GRAFT_CHECK(!is_jpeg || jpeg_reaches_end_marker(bytes, size), "decode_image: ", source,
              " is a truncated or corrupt JPEG: its segments are broken or it ends before the end-of-image marker");
  int width = 0, height = 0, stored_channels = 0;
  // When the header cannot be read, decoding below fails too, with a more specific reason.
  if (stbi_info_from_memory(bytes, length, &width, &height, &stored_channels)) {
    GRAFT_CHECK(int64_t{width} * height <= kMaxImagePixels, "decode_image: ", source, " is too large: ", width, " x ",
                height, " pixels, more than the limit of ", kMaxImagePixels, " (a corrupt or hostile file?)");
  }

  int decoded_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(bytes, length, &width, &height, &decoded_channels, Image::channels), stbi_image_free);
  if (decoded == nullptr) {
    const char* stb_reason = stbi_failure_reason();
    const std::string reason = stb_reason ? stb_reason : "no reason given";
    fail("decode_image: cannot decode ", source, ": stb_image says '", reason, "'",
         reason == "unknown image type" ? " (not a format it reads: JPEG, PNG, BMP, GIF, TGA, PSD, HDR, PIC, PNM)"
                                        : " (the file is corrupt, truncated or uses an unsupported variant)");
  }

  Image image(height, width);
  std::memcpy(image.pixels.data(), decoded.get(), image.pixels.size());
  return image;
}

Image load_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  GRAFT_CHECK(!bytes.empty(), "load_image: '", path, "' is empty (0 bytes)");
  return decode_image(bytes.data(), bytes.size(), "'" + path + "'");
}

}  // namespace graft::data
