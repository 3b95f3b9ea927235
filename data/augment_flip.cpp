// Horizontal flips (F.hflip, RandomHorizontalFlip) of images and of [C, H, W] tensors.
#include <algorithm>

#include "core/error.h"
#include "data/augment.h"

namespace graft::data {
namespace {

bool draw_flip(Generator& rng, double p, const char* op) {
  GRAFT_CHECK(p >= 0.0 && p <= 1.0, op, ": the probability p must lie in [0, 1], got ", p);
  return rng.next_double() < p;
}

}  // namespace

Image horizontal_flip(const Image& image) {
  Image out = image;
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* source = image.row(y);
    uint8_t* target = out.row(y);
    for (int64_t x = 0; x < image.width; ++x) {
      std::copy_n(source + (image.width - 1 - x) * Image::channels, Image::channels, target + x * Image::channels);
    }
  }
  return out;
}

Tensor horizontal_flip(const Tensor& image) {
  GRAFT_CHECK(image.dtype() == DType::f32 && image.dim() == 3 && image.device().is_cpu(),
              "horizontal_flip: expected a float32 [C, H, W] CPU tensor, got ", dtype_name(image.dtype()), " ",
              shape_str(image.shape()), " on ", image.device().str());
  const Tensor source = image.contiguous();
  Tensor out = Tensor::empty(image.shape());
  const int64_t rows = image.size(0) * image.size(1), width = image.size(2);
  const float* in = source.data<float>();
  float* dst = out.data<float>();
  for (int64_t r = 0; r < rows; ++r) std::reverse_copy(in + r * width, in + (r + 1) * width, dst + r * width);
  return out;
}

Image random_horizontal_flip(const Image& image, Generator& rng, double p) {
  return draw_flip(rng, p, "random_horizontal_flip") ? horizontal_flip(image) : image;
}

Tensor random_horizontal_flip(const Tensor& image, Generator& rng, double p) {
  return draw_flip(rng, p, "random_horizontal_flip") ? horizontal_flip(image) : image;
}

}  // namespace graft::data
