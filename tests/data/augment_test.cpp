// The deterministic cores of the augmentations against torchvision.transforms.functional on PIL
// images of the shared photos. PIL decodes each photo and hands its pixels to graft as a lossless
// PPM, so only the transform itself is compared: every case must match torchvision exactly (0
// levels apart for images, bit-identical floats for tensors), 8-bit rounding included.
#include "data/augment.h"

#include <filesystem>
#include <functional>
#include <string>
#include <variant>

#include <unistd.h>

#include "tests/data/augment_oracle.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

using Output = std::variant<Image, Tensor>;

struct Case {
  std::string name;        // names the output file
  std::string expression;  // Python, on the PIL image `img`
  std::function<Output(const Image&)> graft;
};

constexpr const char* kNormalize = "[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]";

std::string number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

std::vector<Case> geometry_cases() {
  std::vector<Case> cases;
  const std::vector<CropBox> boxes = {{37, 51, 200, 300}, {0, 0, 360, 480}, {100, 20, 57, 33}, {-10, -20, 200, 300}};
  for (size_t i = 0; i < boxes.size(); ++i) {
    const CropBox b = boxes[i];
    cases.push_back(
        {"resized_crop" + std::to_string(i),
         concat("F.resized_crop(img, ", b.top, ", ", b.left, ", ", b.height, ", ", b.width, ", [224, 224])"),
         [b](const Image& img) { return resized_crop(img, b, 224, 224); }});
  }
  cases.push_back({"resized_crop_rect", "F.resized_crop(img, 30, 40, 150, 250, [96, 160])", [](const Image& img) {
                     return resized_crop(img, {30, 40, 150, 250}, 96, 160);
                   }});
  cases.push_back({"hflip", "F.hflip(img)", [](const Image& img) { return horizontal_flip(img); }});
  for (double angle : {30.0, -45.5, 12.345, 90.0, 180.0, 270.0, 359.9, -693.0, 1e-9}) {
    cases.push_back({"rotate" + number(angle), "F.rotate(img, " + number(angle) + ")",
                     [angle](const Image& img) { return rotate(img, angle); }});
  }
  for (double angle : {90.0, 270.0, -90.0}) {  // square images take PIL's transposition shortcut
    cases.push_back({"rotate_square" + number(angle), "F.rotate(img.crop((10, 0, 310, 300)), " + number(angle) + ")",
                     [angle](const Image& img) {
                       return rotate(crop(img, {0, 10, 300, 300}), angle);
                     }});
  }
  return cases;
}

std::vector<Case> color_cases() {
  std::vector<Case> cases;
  for (double f : {0.0, 0.37, 1.0, 1.7}) {
    cases.push_back({"brightness" + number(f), "F.adjust_brightness(img, " + number(f) + ")",
                     [f](const Image& img) { return adjust_brightness(img, f); }});
  }
  for (double f : {0.0, 0.3, 1.0, 1.8}) {
    cases.push_back({"contrast" + number(f), "F.adjust_contrast(img, " + number(f) + ")",
                     [f](const Image& img) { return adjust_contrast(img, f); }});
  }
  for (double f : {0.0, 0.55, 2.3}) {
    cases.push_back({"saturation" + number(f), "F.adjust_saturation(img, " + number(f) + ")",
                     [f](const Image& img) { return adjust_saturation(img, f); }});
  }
  for (double f : {-0.5, -0.1, -0.01, 0.0, 0.07, 0.33, 0.5}) {
    cases.push_back({"hue" + number(f), "F.adjust_hue(img, " + number(f) + ")",
                     [f](const Image& img) { return adjust_hue(img, f); }});
  }
  // ColorJitter's composition in a drawn order: hue, brightness, saturation, contrast.
  cases.push_back(
      {"jitter", "F.adjust_contrast(F.adjust_saturation(F.adjust_brightness(F.adjust_hue(img, -0.2), 1.3), 0.6), 1.25)",
       [](const Image& img) {
         ColorJitterParams params;
         params.order = {3, 0, 2, 1};
         params.brightness = 1.3, params.contrast = 1.25, params.saturation = 0.6, params.hue = -0.2;
         return apply_color_jitter(img, params);
       }});
  return cases;
}

std::vector<Case> tensor_cases() {
  std::vector<Case> cases;
  cases.push_back({"erase",
                   concat("F.erase(F.normalize(F.to_tensor(img), ", kNormalize, "), 20, 30, 40, 50, torch.tensor(0.))"),
                   [](const Image& img) {
                     return erase(to_tensor_only(img), {20, 30, 40, 50}, {0.0f});
                   }});
  cases.push_back({"erase_rgb",
                   concat("F.erase(F.normalize(F.to_tensor(img), ", kNormalize,
                          "), 0, 1, 7, 300, torch.tensor([0.5, -1.0, 2.0])[:, None, None])"),
                   [](const Image& img) {
                     return erase(to_tensor_only(img), {0, 1, 7, 300}, {0.5f, -1.0f, 2.0f});
                   }});
  // The standard training pipeline at a fixed crop and flip.
  cases.push_back(
      {"standard",
       concat("F.normalize(F.to_tensor(F.hflip(F.resized_crop(img, 41, 17, 301, 233, [224, 224]))), ", kNormalize, ")"),
       [](const Image& img) {
         return to_tensor_only(horizontal_flip(resized_crop(img, {41, 17, 301, 233}, 224, 224)));
       }});
  return cases;
}

class AugmentParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string reason;
    if (!testing::python_modules_available("PIL, numpy, torch, torchvision", &reason)) {
      skip_reason_ = reason;
      return;
    }
    for (const std::string& photo : testing::shared_photos()) {
      const std::string stem = testing::file_stem(photo);
      if (stem == "cat_tabby" || stem == "stingray") photos_.push_back(photo);
    }
    if (photos_.size() != 2) {
      skip_reason_ = testing::kNoPhotosReason;
      return;
    }
    // ctest runs each test of the suite in its own process, in parallel: each gets its own folder.
    dir_ = std::string(GRAFT_ORACLE_DIR) + "/data.AugmentParity." + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::vector<testing::ReferenceJob> jobs;
    for (const std::string& photo : photos_) {
      jobs.push_back({photo, "img", source_path(photo)});
      for (const auto& group : {geometry_cases(), color_cases(), tensor_cases()}) {
        for (const Case& c : group) jobs.push_back({photo, c.expression, output_path(photo, c)});
      }
    }
    ok_ = testing::run_augment_reference(jobs, dir_, &log_);
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  static std::string source_path(const std::string& photo) {
    return dir_ + "/" + testing::file_stem(photo) + ".source.ppm";
  }
  static std::string output_path(const std::string& photo, const Case& c) {
    const bool tensor = c.name.starts_with("erase") || c.name == "standard";
    return dir_ + "/" + testing::file_stem(photo) + "." + c.name + (tensor ? ".f32" : ".ppm");
  }

  void check(const std::vector<Case>& cases) {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(ok_) << log_;
    for (const std::string& photo : photos_) {
      const Image source = load_image(source_path(photo));
      for (const Case& c : cases) {
        const std::string what = testing::file_stem(photo) + " " + c.expression;
        const Output ours = c.graft(source);
        if (const Image* image = std::get_if<Image>(&ours)) {
          const Image reference = load_image(output_path(photo, c));
          ASSERT_EQ(image->height, reference.height) << what;
          ASSERT_EQ(image->width, reference.width) << what;
          const testing::Difference d = testing::difference(*image, reference);
          EXPECT_EQ(d.max, 0.0) << what << ": mean difference " << d.mean << " levels";
        } else {
          const Tensor& tensor = std::get<Tensor>(ours);
          const std::vector<float> reference = testing::read_floats(output_path(photo, c));
          ASSERT_EQ(static_cast<size_t>(tensor.numel()), reference.size()) << what;
          const testing::Difference d = testing::difference(tensor, reference);
          EXPECT_EQ(d.max, 0.0) << what << ": mean difference " << d.mean;
        }
      }
    }
  }

  static inline std::string skip_reason_, dir_, log_;
  static inline std::vector<std::string> photos_;
  static inline bool ok_ = false;
};

TEST_F(AugmentParity, CropsFlipsAndRotationsMatchTorchvision) { check(geometry_cases()); }
TEST_F(AugmentParity, ColorAdjustmentsMatchTorchvision) { check(color_cases()); }
TEST_F(AugmentParity, ErasingAndTheStandardPipelineMatchTorchvision) { check(tensor_cases()); }

Image small_image() {
  Image image(6, 8);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 37 % 256);
  return image;
}

TEST(Augment, FlipOfImageAndTensorAgree) {
  const Image image = small_image();
  const Tensor flipped = to_tensor(horizontal_flip(image));
  const Tensor expected = horizontal_flip(to_tensor(image));
  EXPECT_EQ(flipped.to_vector<float>(), expected.to_vector<float>());
  EXPECT_EQ(horizontal_flip(horizontal_flip(image)).pixels, image.pixels);
}

TEST(Augment, RotationByFullTurnsIsIdentity) {
  const Image image = small_image();
  EXPECT_EQ(rotate(image, 360.0).pixels, image.pixels);
  EXPECT_EQ(rotate(image, -720.0).pixels, image.pixels);
  EXPECT_EQ(rotate(rotate(image, 180.0), 180.0).pixels, image.pixels);
}

TEST(Augment, BadArgumentsAreErrors) {
  const Image image = small_image();
  testing::expect_error([&] { adjust_brightness(image, -0.5); }, "adjust_brightness", "non-negative");
  testing::expect_error([&] { adjust_hue(image, 0.6); }, "adjust_hue", "[-0.5, 0.5]");
  testing::expect_error([&] { rotate(image, std::nan("")); }, "rotate", "finite");
  testing::expect_error([&] { crop(image, {0, 0, 0, 3}); }, "crop", "positive size");
  testing::expect_error([&] { erase(to_tensor(image), {4, 0, 3, 2}, {0.0f}); }, "erase", "inside");
  testing::expect_error([&] { erase(to_tensor(image), {0, 0, 1, 1}, {0.0f, 1.0f}); }, "erase", "one per channel");
  testing::expect_error([&] { erase(Tensor::zeros({6, 8}), {0, 0, 1, 1}, {0.0f}); }, "erase", "[C, H, W]");
  Generator rng(0);
  testing::expect_error([&] { random_resized_crop(image, 4, rng, {0.5, 0.1}); }, "random_resized_crop", "scale");
  testing::expect_error(
      [&] {
        random_resized_crop(image, 4, rng, {0.1, 1.0}, {0.0, 1.0});
      },
      "random_resized_crop", "ratio");
  testing::expect_error([&] { color_jitter(image, {.hue = 0.7}, rng); }, "color_jitter", "hue");
  testing::expect_error([&] { color_jitter(image, {.brightness = -1}, rng); }, "color_jitter", "brightness");
  testing::expect_error([&] { random_horizontal_flip(image, rng, 1.5); }, "random_horizontal_flip", "[0, 1]");
  testing::expect_error([&] { random_erasing(to_tensor(image), rng, {.p = 2.0}); }, "random_erasing", "[0, 1]");
}

TEST(AugmentPresets, ShapesAndErrors) {
  Image photo(300, 400);
  Generator rng(3);
  const Tensor train = make_train_transform(Augment::standard, Preprocess::imagenet)(photo, rng);
  EXPECT_EQ(train.shape(), (Shape{3, 224, 224}));
  const Tensor eval = make_eval_transform(Preprocess::imagenet, 32, 40)(photo, rng);
  EXPECT_EQ(eval.shape(), (Shape{3, 32, 32}));
  // Augment::none trains with the evaluation transform.
  const Tensor plain = make_train_transform(Augment::none, Preprocess::imagenet, 32, 40)(photo, rng);
  EXPECT_EQ(plain.to_vector<float>(), eval.to_vector<float>());
  // Preprocess::none takes images as they are, and names the sizes when they are wrong.
  EXPECT_EQ(make_eval_transform(Preprocess::none, 32)(Image(32, 32), rng).shape(), (Shape{3, 32, 32}));
  testing::expect_error([&] { make_eval_transform(Preprocess::none, 224)(photo, rng); }, "300 x 400", "224 x 224");
  testing::expect_error([] { make_eval_transform(Preprocess::imagenet, 0); }, "make_eval_transform", "positive");
  EXPECT_EQ(parse_augment("default"), Augment::standard);
  EXPECT_EQ(parse_augment("none"), Augment::none);
  EXPECT_EQ(parse_preprocess("none"), Preprocess::none);
  testing::expect_error([] { parse_augment("heavy"); }, "unknown augmentation 'heavy'", "default");
  testing::expect_error([] { parse_preprocess("vgg"); }, "unknown preprocessing 'vgg'", "imagenet");
}

}  // namespace
}  // namespace graft::data
