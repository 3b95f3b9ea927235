// Preprocessing parity with torchvision on PIL images. Lossless inputs isolate each transform:
// given PIL's own pixels, graft's resize, crop and tensor conversion must agree bit for bit. The
// photos then measure the whole path (stb's JPEG decoding included) against torchvision's.
#include "data/transforms.h"

#include <cstdio>

#include "data/image_resize.h"
#include "tests/data/image_oracle.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

using testing::difference;
using testing::ReferenceJob;

constexpr const char* kTorchvisionEval =
    "T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), "
    "T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])(img)";

// Pixel (y, x) = (x, y, x + y) mod 256: crops can be located from the values.
Image coordinate_image(int64_t height, int64_t width) {
  Image image(height, width);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* p = image.row(y) + x * 3;
      p[0] = static_cast<uint8_t>(x);
      p[1] = static_cast<uint8_t>(y);
      p[2] = static_cast<uint8_t>(x + y);
    }
  }
  return image;
}

std::string reference_images(std::string* log) {
  const std::string dir = testing::scratch_dir();
  return testing::make_reference_images(dir, log) ? dir : "";
}

void expect_same_image(const Image& ours, const Image& reference, const std::string& what) {
  ASSERT_EQ(ours.height, reference.height) << what;
  ASSERT_EQ(ours.width, reference.width) << what;
  const testing::Difference d = difference(ours, reference);
  EXPECT_EQ(d.max, 0.0) << what << ": mean difference " << d.mean << " levels";
}

void expect_same_tensor(const Tensor& ours, const std::string& reference_path, const std::string& what) {
  const std::vector<float> reference = testing::read_floats(reference_path);
  ASSERT_EQ(static_cast<size_t>(ours.numel()), reference.size()) << what;
  const testing::Difference d = difference(ours, reference);
  EXPECT_EQ(d.max, 0.0) << what << ": mean difference " << d.mean;
}

TEST(ImageResize, MatchesPilBitForBit) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy");
  std::string log;
  const std::string dir = reference_images(&log);
  ASSERT_FALSE(dir.empty()) << log;
  struct Case {
    std::string file;
    int64_t height, width;
  };
  // landscape.png is 389 x 517, small.png 97 x 61 (height x width).
  const std::vector<Case> cases = {{"landscape", 256, 340}, {"landscape", 224, 224}, {"landscape", 97, 131},
                                   {"landscape", 33, 100},  {"landscape", 1, 1},     {"landscape", 389, 256},
                                   {"landscape", 200, 517}, {"landscape", 390, 518}, {"landscape", 700, 900},
                                   {"landscape", 3, 517},   {"small", 256, 161},     {"small", 500, 7},
                                   {"small", 48, 30},       {"small", 96, 62}};
  std::vector<ReferenceJob> jobs;
  for (const auto& c : cases) {
    jobs.push_back({dir + "/" + c.file + ".png",
                    "img.resize((" + std::to_string(c.width) + ", " + std::to_string(c.height) + "), Image.BILINEAR)",
                    dir + "/" + c.file + "." + std::to_string(c.height) + "x" + std::to_string(c.width) + ".ppm"});
  }
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Image resized = resize_bilinear(load_image(jobs[i].input), cases[i].height, cases[i].width);
    expect_same_image(resized, load_image(jobs[i].output), jobs[i].output);
  }
}

TEST(ImageResize, ConstantImageStaysConstant) {
  for (const uint8_t value : {uint8_t{0}, uint8_t{1}, uint8_t{128}, uint8_t{255}}) {
    Image image(37, 53);
    std::fill(image.pixels.begin(), image.pixels.end(), value);
    for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{10, 7}, {80, 120}, {37, 20}, {1, 53}}) {
      const Image resized = resize_bilinear(image, h, w);
      EXPECT_EQ(std::count(resized.pixels.begin(), resized.pixels.end(), value),
                static_cast<std::ptrdiff_t>(resized.pixels.size()))
          << "value " << int{value} << " resized to " << h << " x " << w;
    }
  }
}

TEST(ImageResize, SameSizeIsACopy) {
  const Image image = coordinate_image(20, 30);
  EXPECT_EQ(resize_bilinear(image, 20, 30).pixels, image.pixels);
}

TEST(ImageResize, RejectsBadSizes) {
  const Image image = coordinate_image(4, 4);
  testing::expect_error([&] { resize_bilinear(image, 0, 4); }, "resize_bilinear", "positive");
  testing::expect_error([&] { resize_bilinear(image, 4, -1); }, "resize_bilinear", "positive");
  testing::expect_error([&] { resize_bilinear(image, int64_t{1} << 20, int64_t{1} << 20); }, "resize_bilinear",
                        "limit");
  testing::expect_error([&] { resize_bilinear(Image(), 4, 4); }, "resize_bilinear", "empty");
}

TEST(Transforms, ResizeShorterSideFollowsTorchvisionSizeRule) {
  struct Case {
    int64_t height, width, size, expected_height, expected_width;
  };
  const std::vector<Case> cases = {{656, 800, 256, 256, 312},   // int(256 * 800 / 656) = int(312.19...)
                                   {800, 656, 256, 312, 256},   // portrait: the width is the shorter side
                                   {683, 1024, 256, 256, 383},  // int(383.81...): truncated, not rounded
                                   {100, 100, 256, 256, 256},   // square, enlarged
                                   {300, 1, 2, 600, 2},         // extreme aspect ratio
                                   {383, 700, 256, 256, 467}};
  for (const auto& c : cases) {
    const Image out = resize_shorter_side(coordinate_image(c.height, c.width), c.size);
    EXPECT_EQ(out.height, c.expected_height) << c.height << " x " << c.width << " -> " << c.size;
    EXPECT_EQ(out.width, c.expected_width) << c.height << " x " << c.width << " -> " << c.size;
  }
  const Image already = coordinate_image(256, 300);
  EXPECT_EQ(resize_shorter_side(already, 256).pixels, already.pixels);
}

TEST(Transforms, ResizeShorterSideMatchesTorchvision) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy, torchvision");
  std::string log;
  const std::string dir = reference_images(&log);
  ASSERT_FALSE(dir.empty()) << log;
  std::vector<ReferenceJob> jobs;
  std::vector<int64_t> sizes;
  for (const std::string file : {"landscape", "portrait", "small"}) {
    for (const int64_t size : {256, 224, 61}) {
      jobs.push_back({dir + "/" + file + ".png", "T.Resize(" + std::to_string(size) + ")(img)",
                      dir + "/" + file + ".resize" + std::to_string(size) + ".ppm"});
      sizes.push_back(size);
    }
  }
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;
  for (size_t i = 0; i < jobs.size(); ++i) {
    expect_same_image(resize_shorter_side(load_image(jobs[i].input), sizes[i]), load_image(jobs[i].output),
                      jobs[i].output);
  }
}

TEST(Transforms, CenterCropRoundsHalvesToEvenLikePython) {
  const Image image = coordinate_image(11, 10);
  // round((10 - 5) / 2) = round(2.5) = 2; round((11 - 4) / 2) = round(3.5) = 4.
  const Image crop = center_crop(image, 4, 5);
  EXPECT_EQ(crop.row(0)[0], 2);  // x of the first column
  EXPECT_EQ(crop.row(0)[1], 4);  // y of the first row
}

TEST(Transforms, CenterCropMatchesTorchvision) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy, torchvision");
  std::string log;
  const std::string dir = reference_images(&log);
  ASSERT_FALSE(dir.empty()) << log;
  // small.png is 97 x 61: odd and even margins, the whole image, and crops larger than the image
  // (torchvision pads those with black).
  const std::vector<std::pair<int64_t, int64_t>> crops = {{50, 50}, {60, 40},  {96, 60}, {97, 61},
                                                          {1, 1},   {120, 61}, {97, 80}, {130, 130}};
  std::vector<ReferenceJob> jobs;
  for (const auto& [h, w] : crops) {
    const std::string size = std::to_string(h) + ", " + std::to_string(w);
    jobs.push_back({dir + "/small.png", "T.CenterCrop((" + size + "))(img)",
                    dir + "/crop" + std::to_string(h) + "x" + std::to_string(w) + ".ppm"});
  }
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;
  const Image image = load_image(dir + "/small.png");
  for (size_t i = 0; i < crops.size(); ++i) {
    expect_same_image(center_crop(image, crops[i].first, crops[i].second), load_image(jobs[i].output), jobs[i].output);
  }
}

TEST(Transforms, ToTensorAndNormalizeMatchTorchvisionBitForBit) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy, torchvision");
  std::string log;
  const std::string dir = reference_images(&log);
  ASSERT_FALSE(dir.empty()) << log;
  const std::string input = dir + "/small.png";
  const std::vector<ReferenceJob> jobs = {
      {input, "T.ToTensor()(img)", dir + "/to_tensor.f32"},
      {input, "T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(T.ToTensor()(img))", dir + "/imagenet.f32"},
      {input, "T.Normalize([0.5, 0.25, 0.0], [0.5, 2.0, 0.1])(T.ToTensor()(img))", dir + "/custom.f32"}};
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;

  const Image image = load_image(input);
  const Tensor tensor = to_tensor(image);
  EXPECT_EQ(tensor.shape(), (Shape{3, 97, 61}));
  expect_same_tensor(tensor, jobs[0].output, "ToTensor");
  expect_same_tensor(normalize(tensor), jobs[1].output, "Normalize (ImageNet)");
  expect_same_tensor(to_tensor_only(image), jobs[1].output, "to_tensor_only (ImageNet)");
  const Normalization custom{{0.5f, 0.25f, 0.0f}, {0.5f, 2.0f, 0.1f}};
  expect_same_tensor(to_tensor_only(image, custom), jobs[2].output, "to_tensor_only (custom)");
}

TEST(Transforms, EvalTransformMatchesTorchvisionOnLosslessImages) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy, torchvision");
  std::string log;
  const std::string dir = reference_images(&log);
  ASSERT_FALSE(dir.empty()) << log;
  std::vector<ReferenceJob> jobs;
  for (const std::string file : {"landscape", "portrait", "small", "rgba", "palette"}) {
    jobs.push_back({dir + "/" + file + ".png", kTorchvisionEval, dir + "/" + file + ".eval.f32"});
  }
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;
  for (const auto& job : jobs) {
    const Tensor ours = imagenet_eval_transform(load_image(job.input));
    EXPECT_EQ(ours.shape(), (Shape{3, 224, 224}));
    expect_same_tensor(ours, job.output, job.input);
  }
}

// The photos go through stb's JPEG decoder on graft's side and libjpeg on torchvision's, so the
// inputs to the (otherwise identical) transforms differ slightly.
TEST(Transforms, EvalTransformMatchesTorchvisionOnPhotos) {
  const std::vector<std::string> photos = testing::shared_photos();
  GRAFT_REQUIRE_SHARED_PHOTOS(photos);
  GRAFT_REQUIRE_PYTHON("PIL, numpy, torchvision");
  const std::string dir = testing::scratch_dir();
  std::vector<ReferenceJob> jobs;
  for (const auto& photo : photos) {
    jobs.push_back({photo, kTorchvisionEval, dir + "/" + testing::file_stem(photo) + ".f32"});
  }
  std::string log;
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;

  double worst_max = 0.0, worst_mean = 0.0, sum_mean = 0.0;
  for (const auto& job : jobs) {
    const Tensor ours = imagenet_eval_transform(load_image(job.input));
    const std::vector<float> reference = testing::read_floats(job.output);
    ASSERT_EQ(static_cast<size_t>(ours.numel()), reference.size()) << job.input;
    const testing::Difference d = difference(ours, reference);
    std::printf("  %-16s graft vs torchvision: max %.4f  mean %.5f (normalized units)\n",
                testing::file_stem(job.input).c_str(), d.max, d.mean);
    EXPECT_LE(d.mean, 0.01) << job.input;
    worst_max = std::max(worst_max, d.max);
    worst_mean = std::max(worst_mean, d.mean);
    sum_mean += d.mean;
  }
  std::printf("  over %zu photos: worst max %.4f, worst mean %.5f, average mean %.5f\n", jobs.size(), worst_max,
              worst_mean, sum_mean / static_cast<double>(jobs.size()));
}

TEST(Transforms, RejectBadArguments) {
  const Image image = coordinate_image(8, 8);
  testing::expect_error([&] { resize_shorter_side(image, 0); }, "resize_shorter_side", "positive");
  testing::expect_error([&] { center_crop(image, 0, 4); }, "center_crop", "positive");
  testing::expect_error([&] { normalize(Tensor::zeros({1, 8, 8})); }, "normalize", "[3, H, W]");
  testing::expect_error([&] { normalize(Tensor::zeros({3, 8, 8}, DType::f64)); }, "normalize", "float32");
  const Normalization zero_std{{0.5f, 0.5f, 0.5f}, {1.0f, 0.0f, 1.0f}};
  testing::expect_error([&] { to_tensor_only(image, zero_std); }, "to_tensor_only", "std[1] is zero");
}

}  // namespace
}  // namespace graft::data
