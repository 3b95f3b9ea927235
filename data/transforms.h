#pragma once
// The evaluation transforms of torchvision, on PIL images, reproduced for graft::data::Image:
//   Resize(256) -> CenterCrop(224) -> ToTensor() -> Normalize(mean, std)
// Each function states the torchvision rule it follows. Given the same RGB pixels, the tensors
// match torchvision's bit for bit (tests/data/transforms_test.cpp checks this).
#include <array>
#include <cstdint>

#include "core/tensor.h"
#include "data/image.h"

namespace graft::data {

// Per-channel statistics, in RGB order, for pixel values scaled to [0, 1].
struct Normalization {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};

// The statistics of the ImageNet training set that every torchvision classifier expects.
inline constexpr Normalization kImageNetNormalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};

// Resize(size) with an int size: the shorter side becomes `size`, the longer int(size * long / short)
// (truncated), resampled with PIL's bilinear filter. An image of that size already is returned as is.
Image resize_shorter_side(const Image& image, int64_t size);

// CenterCrop((height, width)): the window starts at int(round((in - crop) / 2)) with Python's
// round (halves to even). Along a side shorter than the crop the image is padded with black,
// (crop - in) // 2 pixels before it, as torchvision pads.
Image center_crop(const Image& image, int64_t height, int64_t width);

// ToTensor(): a float32 [3, H, W] tensor of the pixel values divided by 255.
Tensor to_tensor(const Image& image);

// Normalize(mean, std): (x - mean[c]) / std[c] for each channel c of a float32 [3, H, W] tensor;
// returns a new tensor.
Tensor normalize(const Tensor& image, const Normalization& stats = kImageNetNormalization);

// ToTensor() then Normalize() in one pass, for images already at the network's input size.
Tensor to_tensor_only(const Image& image, const Normalization& stats = kImageNetNormalization);

// Resize(resize), CenterCrop(crop), ToTensor(), Normalize(stats): torchvision's ImageNet evaluation
// preprocessing. Returns a float32 [3, crop, crop] tensor.
Tensor imagenet_eval_transform(const Image& image, int64_t resize = 256, int64_t crop = 224,
                               const Normalization& stats = kImageNetNormalization);

}  // namespace graft::data
