#include "data/transforms.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "data/image_resize.h"

namespace graft::data {
namespace {

// Python's round(d / 2) for d >= 0: halves go to the even neighbour.
int64_t half_rounded_to_even(int64_t d) {
  const int64_t q = d / 2;
  return (d % 2 == 1 && q % 2 == 1) ? q + 1 : q;
}

// Where the crop window starts along a side of `in` pixels; negative when torchvision pads.
int64_t crop_start(int64_t in, int64_t crop) {
  return crop > in ? -((crop - in) / 2) : half_rounded_to_even(in - crop);
}

void check_stats(const Normalization& stats, const char* op) {
  for (int c = 0; c < 3; ++c) {
    GRAFT_CHECK(stats.std[c] != 0.0f, op, ": std[", c, "] is zero; normalizing would divide by zero");
  }
}

}  // namespace

Image resize_shorter_side(const Image& image, int64_t size) {
  GRAFT_CHECK(size > 0 && size <= kMaxImagePixels, "resize_shorter_side: size must be positive, got ", size);
  const int64_t shorter = std::min(image.height, image.width), longer = std::max(image.height, image.width);
  GRAFT_CHECK(shorter > 0, "resize_shorter_side: the input image is empty");
  // Python's int(size * long / short): exact product, correctly rounded quotient, truncated.
  const auto new_longer = static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
  const bool portrait = image.width <= image.height;
  const int64_t height = portrait ? new_longer : size, width = portrait ? size : new_longer;
  if (height == image.height && width == image.width) return image;
  return resize_bilinear(image, height, width);
}

Image center_crop(const Image& image, int64_t height, int64_t width) {
  GRAFT_CHECK(height > 0 && width > 0, "center_crop: the crop size must be positive, got ", height, " x ", width);
  GRAFT_CHECK(height <= kMaxImagePixels / width, "center_crop: the crop ", height, " x ", width,
              " exceeds the limit of ", kMaxImagePixels, " pixels");
  const int64_t top = crop_start(image.height, height), left = crop_start(image.width, width);
  // The columns of the window that fall inside the image (all of them unless padding).
  const int64_t x_begin = std::max<int64_t>(0, -left), x_end = std::min(width, image.width - left);
  Image out(height, width);  // zero-filled: the padding is black
  for (int64_t y = 0; y < height; ++y) {
    const int64_t source_y = top + y;
    if (source_y < 0 || source_y >= image.height || x_end <= x_begin) continue;
    std::memcpy(out.row(y) + x_begin * Image::channels, image.row(source_y) + (left + x_begin) * Image::channels,
                static_cast<size_t>((x_end - x_begin) * Image::channels));
  }
  return out;
}

Tensor to_tensor(const Image& image) {
  Tensor out = Tensor::empty({Image::channels, image.height, image.width});
  float* dst = out.data<float>();
  const int64_t plane = image.height * image.width;
  for (int64_t i = 0; i < plane; ++i) {
    for (int64_t c = 0; c < Image::channels; ++c) {
      dst[c * plane + i] = static_cast<float>(image.pixels[i * Image::channels + c]) / 255.0f;
    }
  }
  return out;
}

Tensor normalize(const Tensor& image, const Normalization& stats) {
  GRAFT_CHECK(image.dtype() == DType::f32 && image.dim() == 3 && image.size(0) == 3,
              "normalize: expected a float32 [3, H, W] image tensor, got ", dtype_name(image.dtype()), " ",
              shape_str(image.shape()));
  check_stats(stats, "normalize");
  Tensor out = image.detach().clone();
  float* data = out.data<float>();
  const int64_t plane = image.size(1) * image.size(2);
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < plane; ++i) data[c * plane + i] = (data[c * plane + i] - stats.mean[c]) / stats.std[c];
  }
  return out;
}

Tensor to_tensor_only(const Image& image, const Normalization& stats) {
  check_stats(stats, "to_tensor_only");
  Tensor out = Tensor::empty({Image::channels, image.height, image.width});
  float* dst = out.data<float>();
  const int64_t plane = image.height * image.width;
  for (int64_t i = 0; i < plane; ++i) {
    for (int64_t c = 0; c < Image::channels; ++c) {
      // The same float operations, in the same order, as ToTensor followed by Normalize.
      const float scaled = static_cast<float>(image.pixels[i * Image::channels + c]) / 255.0f;
      dst[c * plane + i] = (scaled - stats.mean[c]) / stats.std[c];
    }
  }
  return out;
}

Tensor imagenet_eval_transform(const Image& image, int64_t resize, int64_t crop, const Normalization& stats) {
  return to_tensor_only(center_crop(resize_shorter_side(image, resize), crop, crop), stats);
}

}  // namespace graft::data
