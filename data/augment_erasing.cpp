// Random erasing (Zhong et al., torchvision's RandomErasing) on [C, H, W] float32 tensors.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/augment.h"

namespace graft::data {
namespace {

void check_image_tensor(const Tensor& image, const char* op) {
  GRAFT_CHECK(image.dtype() == DType::f32 && image.dim() == 3 && image.device().is_cpu(), op,
              ": expected a float32 [C, H, W] CPU tensor, got ", dtype_name(image.dtype()), " ",
              shape_str(image.shape()), " on ", image.device().str());
}

}  // namespace

Tensor erase(const Tensor& image, const CropBox& box, const std::vector<float>& value) {
  check_image_tensor(image, "erase");
  const int64_t channels = image.size(0), height = image.size(1), width = image.size(2);
  GRAFT_CHECK(box.top >= 0 && box.left >= 0 && box.height >= 0 && box.width >= 0 && box.top + box.height <= height &&
                  box.left + box.width <= width,
              "erase: the box (top ", box.top, ", left ", box.left, ", ", box.height, " x ", box.width,
              ") does not lie inside the ", height, " x ", width, " image");
  GRAFT_CHECK(value.size() == 1 || static_cast<int64_t>(value.size()) == channels, "erase: expected 1 value or ",
              channels, " (one per channel), got ", value.size());
  Tensor out = image.detach().clone();
  float* data = out.data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    const float fill = value.size() == 1 ? value[0] : value[c];
    for (int64_t y = box.top; y < box.top + box.height; ++y) {
      float* row = data + (c * height + y) * width;
      std::fill(row + box.left, row + box.left + box.width, fill);
    }
  }
  return out;
}

std::optional<CropBox> random_erasing_box(int64_t height, int64_t width, Range scale, Range ratio, Generator& rng) {
  GRAFT_CHECK(height > 0 && width > 0, "random_erasing: the image is empty (", height, " x ", width, ")");
  GRAFT_CHECK(scale.min >= 0.0 && scale.min <= scale.max && scale.max <= 1.0, "random_erasing: scale must be an ",
              "interval [min, max] within [0, 1], got [", scale.min, ", ", scale.max, "]");
  GRAFT_CHECK(ratio.min > 0.0 && ratio.min <= ratio.max, "random_erasing: ratio must be an interval [min, max] ",
              "with 0 < min <= max, got [", ratio.min, ", ", ratio.max, "]");
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_ratio_min = std::log(ratio.min), log_ratio_max = std::log(ratio.max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * uniform(rng, scale.min, scale.max);
    const double aspect_ratio = std::exp(uniform(rng, log_ratio_min, log_ratio_max));
    const int64_t h = round_half_even(std::sqrt(erase_area * aspect_ratio));
    const int64_t w = round_half_even(std::sqrt(erase_area / aspect_ratio));
    if (!(h < height && w < width)) continue;
    const int64_t top = random_below(rng, height - h + 1);
    const int64_t left = random_below(rng, width - w + 1);
    return CropBox{top, left, h, w};
  }
  return std::nullopt;
}

Tensor random_erasing(const Tensor& image, Generator& rng, const ErasingOptions& options) {
  check_image_tensor(image, "random_erasing");
  GRAFT_CHECK(options.p >= 0.0 && options.p <= 1.0, "random_erasing: the probability p must lie in [0, 1], got ",
              options.p);
  if (!(rng.next_double() < options.p)) return image;
  const std::optional<CropBox> box =
      random_erasing_box(image.size(1), image.size(2), options.scale, options.ratio, rng);
  return box ? erase(image, *box, options.value) : image;
}

}  // namespace graft::data
