#pragma once
// Decoded images: 8-bit RGB, height x width x 3, rows top to bottom (HWC, the layout of a PIL image
// converted to a numpy array). Decoding uses stb_image, so JPEG (baseline and progressive), PNG,
// BMP, GIF (first frame), TGA, PSD (composite), HDR (tone-mapped to 8 bits), PIC and PNM are read.
// Every source is converted to RGB the way PIL's .convert('RGB') does it: gray is replicated into
// the three channels, alpha is dropped (not composited), palettes are expanded. 16-bit PNGs keep
// their high byte; PIL does the same for 16-bit RGB but clips 16-bit grayscale at 255 instead.
// EXIF orientation is not applied (PIL's Image.open and torchvision do not apply it either).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace graft::data {

struct Image {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes, RGB interleaved

  static constexpr int64_t channels = 3;

  Image() = default;
  Image(int64_t height, int64_t width);  // zero-filled

  uint8_t* row(int64_t y) { return pixels.data() + y * width * channels; }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * channels; }
};

// Larger images are refused before decoding (PIL warns from 89.5 megapixels and refuses from
// twice that; a 2^28-pixel RGB image already needs 768 MiB).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// Reads and decodes the file at `path`. Errors (graft::Error) name the file and say why: missing
// or unreadable, empty, not an image stb can read, corrupt or truncated, or too large.
Image load_image(const std::string& path);

// Decodes an encoded image held in memory. `source` names it in error messages.
Image decode_image(const void* bytes, size_t size, const std::string& source = "image in memory");

}  // namespace graft::data
