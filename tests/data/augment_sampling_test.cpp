// The random parameter draws of the augmentations: the same seed gives the same draws, the draws
// respect their limits, the fallbacks are torchvision's, and the distributions match torchvision's
// sampling (statistics of 4000 draws from graft's generator against 4000 from torch's, within a
// few standard errors; every draw is seeded, so the outcome never varies from run to run).
#include <stb/stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include <unistd.h>

#include "core/error.h"
#include "data/augment.h"
#include "tests/data/augment_oracle.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

constexpr int kDraws = 4000;

struct Moments {
  double mean = 0.0, sd = 0.0;
};

Moments moments(const std::vector<double>& values) {
  Moments m;
  for (double v : values) m.mean += v;
  m.mean /= static_cast<double>(values.size());
  for (double v : values) m.sd += (v - m.mean) * (v - m.mean);
  m.sd = std::sqrt(m.sd / static_cast<double>(values.size() - 1));
  return m;
}

// Expects two samples of kDraws values to have means within `standard_errors` of each other.
void expect_same_mean(const std::vector<double>& ours, const std::vector<double>& theirs, const std::string& what,
                      double standard_errors = 4.0) {
  const Moments a = moments(ours), b = moments(theirs);
  const double error = std::sqrt((a.sd * a.sd + b.sd * b.sd) / kDraws);
  EXPECT_LE(std::abs(a.mean - b.mean), standard_errors * error + 1e-12)
      << what << ": graft mean " << a.mean << " (sd " << a.sd << "), torchvision mean " << b.mean << " (sd " << b.sd
      << ")";
}

TEST(AugmentSampling, ResizedCropBoxesAreAFunctionOfTheSeed) {
  Generator a(42), b(42), c(43);
  bool any_difference = false;
  for (int i = 0; i < 50; ++i) {
    const CropBox box = random_resized_crop_box(375, 500, {0.08, 1.0}, {0.75, 4.0 / 3.0}, a);
    EXPECT_EQ(box, random_resized_crop_box(375, 500, {0.08, 1.0}, {0.75, 4.0 / 3.0}, b));
    any_difference |= !(box == random_resized_crop_box(375, 500, {0.08, 1.0}, {0.75, 4.0 / 3.0}, c));
  }
  EXPECT_TRUE(any_difference);
}

TEST(AugmentSampling, ResizedCropBoxesRespectScaleAndRatio) {
  Generator rng(7);
  std::vector<double> centre_x, area_fraction;
  for (int i = 0; i < kDraws; ++i) {
    const CropBox box = random_resized_crop_box(375, 500, {0.08, 1.0}, {0.75, 4.0 / 3.0}, rng);
    ASSERT_TRUE(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0 && box.top + box.height <= 375 &&
                box.left + box.width <= 500)
        << box.top << " " << box.left << " " << box.height << " " << box.width;
    const double h = static_cast<double>(box.height), w = static_cast<double>(box.width);
    const double rounding = 0.6 / w + 0.6 / h;  // w and h are each rounded by at most half a pixel
    EXPECT_GE(w / h, 0.75 * (1 - rounding));
    EXPECT_LE(w / h, 4.0 / 3.0 * (1 + rounding));
    EXPECT_GE(h * w / (375.0 * 500.0), 0.08 * (1 - rounding) * (1 - rounding));
    centre_x.push_back(static_cast<double>(box.left) + w / 2);
    area_fraction.push_back(h * w / (375.0 * 500.0));
  }
  EXPECT_NEAR(moments(centre_x).mean, 250.0, 5.0);       // placed symmetrically
  EXPECT_NEAR(moments(area_fraction).mean, 0.43, 0.03);  // below 0.54: large boxes of extreme ratio do not fit
}

TEST(AugmentSampling, ResizedCropFallsBackToTheCentre) {
  Generator rng(0);
  // A scale above 1 never fits, so all 10 attempts fail.
  EXPECT_EQ(random_resized_crop_box(100, 400, {2.0, 3.0}, {0.75, 4.0 / 3.0}, rng), (CropBox{0, 133, 100, 133}));
  EXPECT_EQ(random_resized_crop_box(400, 100, {2.0, 3.0}, {0.75, 4.0 / 3.0}, rng), (CropBox{133, 0, 133, 100}));
  EXPECT_EQ(random_resized_crop_box(300, 301, {2.0, 3.0}, {0.75, 4.0 / 3.0}, rng), (CropBox{0, 0, 300, 301}));
}

TEST(AugmentSampling, FlipProbability) {
  Image image(1, 2);
  image.pixels = {1, 1, 1, 2, 2, 2};
  Generator rng(5);
  int flipped = 0;
  for (int i = 0; i < kDraws; ++i) flipped += random_horizontal_flip(image, rng).pixels[0] == 2;
  EXPECT_NEAR(flipped / static_cast<double>(kDraws), 0.5, 0.03);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(random_horizontal_flip(image, rng, 0.0).pixels[0], 1);
    EXPECT_EQ(random_horizontal_flip(image, rng, 1.0).pixels[0], 2);
  }
}

TEST(AugmentSampling, ColorJitterDrawsEveryOrderAndFactorsInRange) {
  Generator rng(9);
  std::map<std::array<int, 4>, int> orders;
  const ColorJitterOptions options{.brightness = 0.4, .contrast = 1.5, .saturation = 0.2, .hue = 0.1};
  for (int i = 0; i < kDraws; ++i) {
    const ColorJitterParams p = color_jitter_params(options, rng);
    ++orders[p.order];
    std::array<int, 4> sorted = p.order;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, (std::array<int, 4>{0, 1, 2, 3}));
    ASSERT_TRUE(p.brightness && p.contrast && p.saturation && p.hue);
    EXPECT_TRUE(*p.brightness >= 0.6 && *p.brightness <= 1.4);
    EXPECT_TRUE(*p.contrast >= 0.0 && *p.contrast <= 2.5);  // max(0, 1 - 1.5) = 0
    EXPECT_TRUE(*p.saturation >= 0.8 && *p.saturation <= 1.2);
    EXPECT_TRUE(*p.hue >= -0.1 && *p.hue <= 0.1);
  }
  EXPECT_EQ(orders.size(), 24u);
  for (const auto& [order, count] : orders) EXPECT_GT(count, kDraws / 24 / 2);
  const ColorJitterParams none = color_jitter_params({.saturation = 0.5}, rng);
  EXPECT_FALSE(none.brightness || none.contrast || none.hue);
  EXPECT_TRUE(none.saturation);
}

TEST(AugmentSampling, RandomErasingBoxesAndProbability) {
  Generator rng(11);
  const Tensor image = Tensor::ones({3, 64, 48});
  int erased = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Tensor out = random_erasing(image, rng);
    const auto values = out.to_vector<float>();
    erased += std::count(values.begin(), values.end(), 0.0f) > 0;
  }
  // p = 0.5, and a few draws fail all 10 attempts on this narrow image.
  EXPECT_NEAR(erased / static_cast<double>(kDraws), 0.5, 0.04);
  EXPECT_TRUE(random_erasing(image, rng, {.p = 0.0}).same_storage(image));
  for (int i = 0; i < 200; ++i) {
    const auto box = random_erasing_box(64, 48, {0.02, 0.33}, {0.3, 3.3}, rng);
    if (!box) continue;
    EXPECT_TRUE(box->height < 64 && box->width < 48 && box->top + box->height <= 64 && box->left + box->width <= 48);
  }
}

TEST(AugmentSampling, RandomRotationIsAFunctionOfTheSeed) {
  Image image(20, 30);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i % 251);
  Generator a(1), b(1);
  EXPECT_EQ(random_rotation(image, 30.0, a).pixels, random_rotation(image, 30.0, b).pixels);
  EXPECT_EQ(random_rotation(image, Range{10.0, 10.0}, a).pixels, rotate(image, 10.0).pixels);
}

// torchvision's get_params, 4000 draws each from torch.manual_seed(0).
class SamplingVersusTorchvision : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::python_modules_available("PIL, numpy, torch, torchvision", &skip_reason_)) return;
    // ctest runs each test of the suite in its own process, in parallel: each gets its own folder.
    dir_ = std::string(GRAFT_ORACLE_DIR) + "/data.SamplingVersusTorchvision." + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const std::string any_image = dir_ + "/any.png";  // the jobs make their own images
    const uint8_t pixel[3] = {0, 0, 0};
    stbi_write_png(any_image.c_str(), 1, 1, 3, pixel, 3);
    const std::string draws = " for _ in range(" + std::to_string(kDraws) + ")]))[1]";
    const std::vector<testing::ReferenceJob> jobs = {
        {any_image,
         "(torch.manual_seed(0), np.array([T.RandomResizedCrop.get_params(Image.new('RGB', (500, 375)), "
         "[0.08, 1.0], [3 / 4, 4 / 3])" +
             draws,
         dir_ + "/crop.f32"},
        {any_image,
         "(torch.manual_seed(0), np.array([T.RandomErasing.get_params(torch.zeros(3, 64, 48), (0.02, 0.33), "
         "(0.3, 3.3), [0.0])[:4]" +
             draws,
         dir_ + "/erase.f32"},
        {any_image,
         "[T.RandomResizedCrop.get_params(Image.new('RGB', size), [2.0, 3.0], [3 / 4, 4 / 3]) "
         "for size in ((400, 100), (100, 400), (301, 300), (1000, 3))]",
         dir_ + "/fallback.f32"},
    };
    ok_ = testing::run_augment_reference(jobs, dir_, &log_);
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(ok_) << log_;
  }

  // Column `column` of a [kDraws, 4] float32 file.
  static std::vector<double> column(const std::string& name, int column) {
    const std::vector<float> values = testing::read_floats(dir_ + "/" + name);
    std::vector<double> out;
    for (size_t i = static_cast<size_t>(column); i < values.size(); i += 4) out.push_back(values[i]);
    return out;
  }

  static inline std::string skip_reason_, dir_, log_;
  static inline bool ok_ = false;
};

TEST_F(SamplingVersusTorchvision, ResizedCropBoxes) {
  Generator rng(0);
  std::vector<double> top, left, height, width, log_ratio;
  for (int i = 0; i < kDraws; ++i) {
    const CropBox b = random_resized_crop_box(375, 500, {0.08, 1.0}, {0.75, 4.0 / 3.0}, rng);
    top.push_back(b.top), left.push_back(b.left), height.push_back(b.height), width.push_back(b.width);
    log_ratio.push_back(std::log(static_cast<double>(b.width) / static_cast<double>(b.height)));
  }
  std::vector<double> torch_log_ratio;
  const auto torch_height = column("crop.f32", 2), torch_width = column("crop.f32", 3);
  for (size_t i = 0; i < torch_height.size(); ++i)
    torch_log_ratio.push_back(std::log(torch_width[i] / torch_height[i]));
  ASSERT_EQ(torch_height.size(), static_cast<size_t>(kDraws));
  expect_same_mean(top, column("crop.f32", 0), "top");
  expect_same_mean(left, column("crop.f32", 1), "left");
  expect_same_mean(height, torch_height, "height");
  expect_same_mean(width, torch_width, "width");
  expect_same_mean(log_ratio, torch_log_ratio, "log(width / height)");
}

TEST_F(SamplingVersusTorchvision, ErasingBoxes) {
  Generator rng(0);
  std::vector<double> height, width, fell_back;
  for (int i = 0; i < kDraws; ++i) {
    const auto box = random_erasing_box(64, 48, {0.02, 0.33}, {0.3, 3.3}, rng);
    fell_back.push_back(box ? 0.0 : 1.0);
    if (box) height.push_back(box->height), width.push_back(box->width);
  }
  // torchvision's fallback returns the whole image.
  std::vector<double> torch_height, torch_width, torch_fell_back;
  const auto h = column("erase.f32", 2), w = column("erase.f32", 3);
  for (size_t i = 0; i < h.size(); ++i) {
    const bool whole = h[i] == 64 && w[i] == 48;
    torch_fell_back.push_back(whole ? 1.0 : 0.0);
    if (!whole) torch_height.push_back(h[i]), torch_width.push_back(w[i]);
  }
  expect_same_mean(fell_back, torch_fell_back, "fallback rate");
  expect_same_mean(height, torch_height, "height");
  expect_same_mean(width, torch_width, "width");
}

TEST_F(SamplingVersusTorchvision, ResizedCropFallbacks) {
  const std::vector<float> expected = testing::read_floats(dir_ + "/fallback.f32");
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{100, 400}, {400, 100}, {300, 301}, {3, 1000}};  // h, w
  ASSERT_EQ(expected.size(), sizes.size() * 4);
  Generator rng(0);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const CropBox box = random_resized_crop_box(sizes[i].first, sizes[i].second, {2.0, 3.0}, {0.75, 4.0 / 3.0}, rng);
    EXPECT_EQ(box, (CropBox{static_cast<int64_t>(expected[i * 4]), static_cast<int64_t>(expected[i * 4 + 1]),
                            static_cast<int64_t>(expected[i * 4 + 2]), static_cast<int64_t>(expected[i * 4 + 3])}))
        << sizes[i].first << " x " << sizes[i].second;
  }
}

}  // namespace
}  // namespace graft::data
