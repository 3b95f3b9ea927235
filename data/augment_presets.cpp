// The transform presets behind `--augment` and `--preprocess` (see data/augment.h).
#include "core/error.h"
#include "data/augment.h"

namespace graft::data {
namespace {

void check_sizes(int64_t crop, int64_t resize, const char* op) {
  GRAFT_CHECK(crop > 0 && resize > 0, op, ": crop and resize must be positive, got crop ", crop, ", resize ", resize);
}

}  // namespace

Augment parse_augment(const std::string& name) {
  if (name == "none") return Augment::none;
  if (name == "default" || name == "standard") return Augment::standard;
  fail("unknown augmentation '", name, "'; choose 'default' (random resized crop and horizontal flip) or 'none'");
}

Preprocess parse_preprocess(const std::string& name) {
  if (name == "imagenet") return Preprocess::imagenet;
  if (name == "none") return Preprocess::none;
  fail("unknown preprocessing '", name, "'; choose 'imagenet' (resize and center-crop) or 'none' (images already ",
       "at the network's input size)");
}

ImageTransform make_eval_transform(Preprocess preprocess, int64_t crop, int64_t resize, Normalization stats) {
  check_sizes(crop, resize, "make_eval_transform");
  if (preprocess == Preprocess::imagenet) {
    return [=](const Image& image, Generator&) { return imagenet_eval_transform(image, resize, crop, stats); };
  }
  return [=](const Image& image, Generator&) {
    GRAFT_CHECK(image.height == crop && image.width == crop, "the image is ", image.height, " x ", image.width,
                " (height x width) but the network takes ", crop, " x ", crop,
                " with --preprocess none; resize the images or use --preprocess imagenet");
    return to_tensor_only(image, stats);
  };
}

ImageTransform make_train_transform(Augment augment, Preprocess preprocess, int64_t crop, int64_t resize,
                                    Normalization stats) {
  check_sizes(crop, resize, "make_train_transform");
  if (augment == Augment::none) return make_eval_transform(preprocess, crop, resize, stats);
  return [=](const Image& image, Generator& rng) {
    const Image cropped = random_resized_crop(image, crop, rng);
    return to_tensor_only(random_horizontal_flip(cropped, rng), stats);
  };
}

}  // namespace graft::data
