// Crops: F.crop, F.resized_crop and RandomResizedCrop's parameter sampling (see data/augment.h).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "data/augment.h"
#include "data/image_resize.h"

namespace graft::data {
namespace {

void check_ranges(Range scale, Range ratio, const char* op) {
  GRAFT_CHECK(scale.min >= 0.0 && scale.min <= scale.max, op, ": scale must be an interval [min, max] with ",
              "0 <= min <= max, got [", scale.min, ", ", scale.max, "]");
  GRAFT_CHECK(ratio.min > 0.0 && ratio.min <= ratio.max, op, ": ratio must be an interval [min, max] with ",
              "0 < min <= max, got [", ratio.min, ", ", ratio.max, "]");
}

}  // namespace

Image crop(const Image& image, const CropBox& box) {
  GRAFT_CHECK(box.height > 0 && box.width > 0, "crop: the box must have a positive size, got ", box.height, " x ",
              box.width);
  Image out(box.height, box.width);  // zero-filled: whatever lies outside the image stays black
  const int64_t x_begin = std::max<int64_t>(0, -box.left);
  const int64_t x_end = std::min(box.width, image.width - box.left);
  if (x_end <= x_begin) return out;
  for (int64_t y = 0; y < box.height; ++y) {
    const int64_t source_y = box.top + y;
    if (source_y < 0 || source_y >= image.height) continue;
    std::memcpy(out.row(y) + x_begin * Image::channels, image.row(source_y) + (box.left + x_begin) * Image::channels,
                static_cast<size_t>((x_end - x_begin) * Image::channels));
  }
  return out;
}

Image resized_crop(const Image& image, const CropBox& box, int64_t height, int64_t width) {
  GRAFT_CHECK(height > 0 && width > 0, "resized_crop: the output size must be positive, got ", height, " x ", width);
  return resize_bilinear(crop(image, box), height, width);
}

CropBox random_resized_crop_box(int64_t height, int64_t width, Range scale, Range ratio, Generator& rng) {
  GRAFT_CHECK(height > 0 && width > 0, "random_resized_crop: the image is empty (", height, " x ", width, ")");
  check_ranges(scale, ratio, "random_resized_crop");
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_ratio_min = std::log(ratio.min), log_ratio_max = std::log(ratio.max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(rng, scale.min, scale.max);
    const double aspect_ratio = std::exp(uniform(rng, log_ratio_min, log_ratio_max));
    const int64_t w = round_half_even(std::sqrt(target_area * aspect_ratio));
    const int64_t h = round_half_even(std::sqrt(target_area / aspect_ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = random_below(rng, height - h + 1);
      const int64_t left = random_below(rng, width - w + 1);
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio.min) {
    h = round_half_even(static_cast<double>(w) / ratio.min);
  } else if (in_ratio > ratio.max) {
    w = round_half_even(static_cast<double>(h) * ratio.max);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Image random_resized_crop(const Image& image, int64_t size, Generator& rng, Range scale, Range ratio) {
  GRAFT_CHECK(size > 0, "random_resized_crop: the output size must be positive, got ", size);
  return resized_crop(image, random_resized_crop_box(image.height, image.width, scale, ratio, rng), size, size);
}

}  // namespace graft::data
