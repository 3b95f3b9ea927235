#pragma once
// Training-time augmentations, each reproducing one torchvision transform on PIL images, and the
// transform presets that `graft finetune` uses.
//
// Every random transform is split in two: a deterministic core that takes its parameters explicitly
// (resized_crop at a box, rotate by an angle, adjust_hue by a factor), and a random wrapper that
// draws those parameters the way torchvision does, from the Generator it is given. The cores match
// torchvision.transforms.functional on PIL images pixel for pixel (tests/data/augment_test.cpp); the
// wrappers follow torchvision's sampling rules but draw from graft's generator, so the same seed
// gives the same augmentation in every graft run, not the numbers torch's generator would give.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/image.h"
#include "data/random.h"
#include "data/transforms.h"

namespace graft::data {

// A transform from a decoded image to a float32 [3, H, W] tensor, and one from tensor to tensor.
// The generator is the only randomness they may use.
using ImageTransform = std::function<Tensor(const Image&, Generator&)>;
using TensorTransform = std::function<Tensor(const Tensor&, Generator&)>;

// A rectangle of an image, in pixels.
struct CropBox {
  int64_t top = 0;
  int64_t left = 0;
  int64_t height = 0;
  int64_t width = 0;
  bool operator==(const CropBox&) const = default;
};

// ---- crops (data/augment_crop.cpp)

// F.crop: the pixels of `box`; where the box reaches outside the image the result is black, as
// PIL's Image.crop pads.
Image crop(const Image& image, const CropBox& box);
// F.resized_crop: crop(box), then resized to height x width with PIL's bilinear filter.
Image resized_crop(const Image& image, const CropBox& box, int64_t height, int64_t width);

// RandomResizedCrop.get_params: up to 10 attempts draw an area fraction uniformly from `scale` and an
// aspect ratio (width / height) log-uniformly from `ratio`; w = round(sqrt(area * ratio)),
// h = round(sqrt(area / ratio)) (halves to even); the first attempt that fits inside the image gets
// a uniformly placed box. When all 10 fail, the fallback is a centred box: the whole image, or, if
// its aspect ratio lies outside `ratio`, the largest centred box with the nearest allowed ratio.
CropBox random_resized_crop_box(int64_t height, int64_t width, Range scale, Range ratio, Generator& rng);
// RandomResizedCrop(size, scale, ratio): resized_crop(random_resized_crop_box(...), size, size).
Image random_resized_crop(const Image& image, int64_t size, Generator& rng, Range scale = {0.08, 1.0},
                          Range ratio = {3.0 / 4.0, 4.0 / 3.0});

// ---- flips and rotation (data/augment_flip.cpp, data/augment_rotate.cpp)

// F.hflip: mirror left to right.
Image horizontal_flip(const Image& image);
// The same for a [C, H, W] float32 tensor (e.g. in-memory Fashion-MNIST images).
Tensor horizontal_flip(const Tensor& image);
// RandomHorizontalFlip(p): flips when a uniform draw in [0, 1) is below p (one draw per call).
Image random_horizontal_flip(const Image& image, Generator& rng, double p = 0.5);
Tensor random_horizontal_flip(const Tensor& image, Generator& rng, double p = 0.5);

// F.rotate(img, degrees) with torchvision's defaults: counter-clockwise about the image centre,
// nearest-neighbour sampling, the output as large as the input (expand=False), black outside the
// source. This is PIL's Image.rotate: the angle is taken modulo 360; 0 and 180 degrees (and 90/270
// for square images) are exact transpositions; otherwise each output pixel centre is mapped back
// through the inverse rotation (cos and sin rounded to 15 decimals, as PIL does) and the source
// pixel is found with PIL's 16.16 fixed-point stepping (floating point for images too large for it).
Image rotate(const Image& image, double degrees);
// RandomRotation(degrees): an angle uniform in [degrees.min, degrees.max], then rotate.
Image random_rotation(const Image& image, Range degrees, Generator& rng);
// RandomRotation(d) with a single number: the angle is uniform in [-d, d].
Image random_rotation(const Image& image, double degrees, Generator& rng);

// ---- colour (data/augment_color.cpp)
// PIL's ImageEnhance, which torchvision calls for PIL images: each blends the image with a
// "degenerate" image, out = degenerate + factor * (image - degenerate), in single precision, then
// truncates to 8 bits (clamped to 0..255 when the factor is outside [0, 1]). Factors must be >= 0.

// Degenerate: black. 0 gives black, 1 the image, 2 doubles every value.
Image adjust_brightness(const Image& image, double factor);
// Degenerate: uniform gray at the mean luma (ITU-R 601-2, PIL's L conversion) rounded half up.
Image adjust_contrast(const Image& image, double factor);
// Degenerate: the image's own luma in every channel. 0 gives gray, 1 the image.
Image adjust_saturation(const Image& image, double factor);
// F.adjust_hue on PIL images: convert to PIL's 8-bit HSV, add int(hue_factor * 255) to the hue byte
// modulo 256, convert back. hue_factor must lie in [-0.5, 0.5]. The 8-bit round trip itself is not
// lossless, so even a factor of 0 changes some pixels, exactly as in torchvision.
Image adjust_hue(const Image& image, double hue_factor);

// ColorJitter(brightness, contrast, saturation, hue): brightness, contrast and saturation factors are
// drawn uniformly from [max(0, 1 - b), 1 + b], the hue factor from [-h, h] (h <= 0.5); a zero
// amount leaves that adjustment out. The four adjustments run in a random order (a permutation of
// four drawn first, as torchvision draws torch.randperm(4) before the factors).
struct ColorJitterOptions {
  double brightness = 0.0;
  double contrast = 0.0;
  double saturation = 0.0;
  double hue = 0.0;
};
// The drawn parameters: the order (0 brightness, 1 contrast, 2 saturation, 3 hue) and the factors
// of the adjustments that are on.
struct ColorJitterParams {
  std::array<int, 4> order{0, 1, 2, 3};
  std::optional<double> brightness, contrast, saturation, hue;
};
ColorJitterParams color_jitter_params(const ColorJitterOptions& options, Generator& rng);
Image apply_color_jitter(const Image& image, const ColorJitterParams& params);
Image color_jitter(const Image& image, const ColorJitterOptions& options, Generator& rng);

// ---- erasing, on [C, H, W] float32 tensors, normally after Normalize (data/augment_erasing.cpp)

// F.erase: a copy of `image` with the box set to `value` (one value for all channels, or one per
// channel).
Tensor erase(const Tensor& image, const CropBox& box, const std::vector<float>& value);

// RandomErasing with torchvision's defaults. With probability p (one draw), up to 10 attempts draw
// an area fraction uniformly from `scale` and a ratio log-uniformly from `ratio`;
// h = round(sqrt(area * ratio)), w = round(sqrt(area / ratio)) (note: the reverse of
// RandomResizedCrop), and the first box strictly smaller than the image in both sides is placed
// uniformly and erased. When all attempts fail the image is returned unchanged.
struct ErasingOptions {
  double p = 0.5;
  Range scale{0.02, 0.33};
  Range ratio{0.3, 3.3};
  std::vector<float> value{0.0f};
};
// The box of one erasing (the draws after the probability draw), or nullopt when all attempts fail.
std::optional<CropBox> random_erasing_box(int64_t height, int64_t width, Range scale, Range ratio, Generator& rng);
Tensor random_erasing(const Tensor& image, Generator& rng, const ErasingOptions& options = {});

// ---- presets (data/augment_presets.cpp)

enum class Augment { none, standard };     // --augment none|default
enum class Preprocess { imagenet, none };  // --preprocess imagenet|none

// "none" or "default" (also "standard"); anything else is an Error listing the choices.
Augment parse_augment(const std::string& name);
// "imagenet" or "none".
Preprocess parse_preprocess(const std::string& name);

// Training transform.
//   Augment::standard: RandomResizedCrop(crop) + RandomHorizontalFlip() + ToTensor + Normalize
//                      (the preprocessing choice does not matter: the crop is resized anyway).
//   Augment::none:     the evaluation transform below.
ImageTransform make_train_transform(Augment augment, Preprocess preprocess, int64_t crop = 224, int64_t resize = 256,
                                    Normalization stats = kImageNetNormalization);
// Evaluation transform.
//   Preprocess::imagenet: Resize(resize) + CenterCrop(crop) + ToTensor + Normalize.
//   Preprocess::none:     ToTensor + Normalize of the image as it is; it must already be crop x crop
//                         (anything else is an Error naming both sizes).
ImageTransform make_eval_transform(Preprocess preprocess, int64_t crop = 224, int64_t resize = 256,
                                   Normalization stats = kImageNetNormalization);

}  // namespace graft::data
