#include "tests/support/image_files.h"

#include <filesystem>
#include <stdexcept>
#include <vector>

#include <stb/stb_image_write.h>  // implemented in Debian's libstb

namespace graft::testing {

void write_test_png(const std::string& path, int64_t height, int64_t width, uint64_t seed) {
  std::vector<uint8_t> pixels(static_cast<size_t>(height * width * 3));
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < pixels.size(); ++i) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
    // Smooth gradients plus noise, so resizing and cropping see structure, not just noise.
    const int64_t pixel = static_cast<int64_t>(i / 3), y = pixel / width, x = pixel % width;
    pixels[i] = static_cast<uint8_t>((x * 255 / width + y * 128 / height + (state & 63) + seed * 37 * (i % 3)) & 255);
  }
  if (!stbi_write_png(path.c_str(), static_cast<int>(width), static_cast<int>(height), 3, pixels.data(),
                      static_cast<int>(width * 3))) {
    throw std::runtime_error("cannot write test image " + path);
  }
}

void write_test_image_folder(const std::string& root, int64_t classes, int64_t per_class, int64_t size,
                             uint64_t seed) {
  for (int64_t c = 0; c < classes; ++c) {
    const std::filesystem::path folder = std::filesystem::path(root) / ("class_" + std::to_string(c));
    std::filesystem::create_directories(folder);
    for (int64_t i = 0; i < per_class; ++i) {
      write_test_png((folder / (std::to_string(i) + ".png")).string(), size, size, seed + 1000 * c + i);
    }
  }
}

}  // namespace graft::testing
