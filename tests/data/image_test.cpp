// Decoding: pixel parity with PIL's Image.open(...).convert('RGB') (exact for lossless formats,
// within a stated bound for JPEG, where stb_image and libjpeg round differently) and clear errors
// for files that are missing, empty, not images, truncated or absurdly large.
#include "data/image.h"

#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "tests/data/image_oracle.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

using testing::difference;
using testing::ReferenceJob;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void append_to_vector(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

Image gradient_image(int64_t height, int64_t width) {
  Image image(height, width);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* p = image.row(y) + x * 3;
      p[0] = static_cast<uint8_t>(x * 255 / width);
      p[1] = static_cast<uint8_t>(y * 255 / height);
      p[2] = static_cast<uint8_t>((x + y) % 256);
    }
  }
  return image;
}

// A baseline JPEG written by stb_image_write, so these tests need neither Python nor the photos.
std::vector<uint8_t> encode_jpeg(const Image& image) {
  std::vector<uint8_t> bytes;
  stbi_write_jpg_to_func(append_to_vector, &bytes, static_cast<int>(image.width), static_cast<int>(image.height), 3,
                         image.pixels.data(), 90);
  return bytes;
}

std::vector<uint8_t> encode_png(const Image& image) {
  std::vector<uint8_t> bytes;
  stbi_write_png_to_func(append_to_vector, &bytes, static_cast<int>(image.width), static_cast<int>(image.height), 3,
                         image.pixels.data(), static_cast<int>(image.width * 3));
  return bytes;
}

void expect_decode_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  testing::expect_error([&] { decode_image(bytes.data(), bytes.size(), "test bytes"); }, "test bytes", fragment);
}

TEST(ImageDecode, LosslessFormatsMatchPilExactly) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy");
  const std::string dir = testing::scratch_dir();
  std::string log;
  ASSERT_TRUE(testing::make_reference_images(dir, &log)) << log;
  // Every PIL mode that converts to RGB: RGB, L, 1, RGBA, LA, P (8-, 2-bit, with transparency).
  const std::vector<std::string> files = {
      "rgb.png",        "gray.png",    "bilevel.png",      "rgba.png",
      "gray_alpha.png", "palette.png", "palette_2bit.png", "palette_transparent.png",
      "rgb.bmp",        "palette.gif", "rgb.tga",          "rgb.ppm"};
  std::vector<ReferenceJob> jobs;
  for (const auto& file : files) jobs.push_back({dir + "/" + file, "img", dir + "/" + file + ".pil.ppm"});
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;

  for (const auto& job : jobs) {
    SCOPED_TRACE(job.input);
    const Image ours = load_image(job.input);
    const Image pil = load_image(job.output);
    ASSERT_EQ(ours.height, pil.height);
    ASSERT_EQ(ours.width, pil.width);
    EXPECT_EQ(ours.pixels, pil.pixels) << "max difference " << difference(ours, pil).max;
  }
}

TEST(ImageDecode, GrayAndCmykJpegsMatchPil) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy");
  const std::string dir = testing::scratch_dir();
  std::string log;
  ASSERT_TRUE(testing::make_reference_images(dir, &log)) << log;
  std::vector<ReferenceJob> jobs;
  for (const std::string file : {"gray.jpg", "cmyk.jpg"})
    jobs.push_back({dir + "/" + file, "img", dir + "/" + file + ".ppm"});
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;
  for (const auto& job : jobs) {
    const Image ours = load_image(job.input), pil = load_image(job.output);
    ASSERT_EQ(ours.height, pil.height);
    ASSERT_EQ(ours.width, pil.width);
    const testing::Difference d = difference(ours, pil);
    std::printf("  %-10s stb vs PIL: max %3.0f  mean %.3f levels\n", testing::file_stem(job.input).c_str(), d.max,
                d.mean);
    EXPECT_LE(d.mean, 0.5) << job.input;  // measured: 0.012 (gray), 0.015 (CMYK)
    EXPECT_LE(d.max, 4.0) << job.input;   // measured: 1
  }
}

// stb_image and libjpeg (PIL) differ in the inverse DCT's rounding and the chroma upsampling, so
// JPEG pixels agree only approximately. Measured on the 13 photos (Debian's PIL 9.4): mean
// difference 0.005 to 0.13 levels, largest single difference 12 levels (4:2:2 chroma).
TEST(ImageDecode, PhotosMatchPilWithinJpegRounding) {
  const std::vector<std::string> photos = testing::shared_photos();
  GRAFT_REQUIRE_SHARED_PHOTOS(photos);
  GRAFT_REQUIRE_PYTHON("PIL, numpy");
  const std::string dir = testing::scratch_dir();
  std::vector<ReferenceJob> jobs;
  for (const auto& photo : photos) jobs.push_back({photo, "img", dir + "/" + testing::file_stem(photo) + ".ppm"});
  std::string log;
  ASSERT_TRUE(testing::run_reference(jobs, dir, &log)) << log;

  double worst_mean = 0.0, worst_max = 0.0;
  for (const auto& job : jobs) {
    const Image ours = load_image(job.input), pil = load_image(job.output);
    ASSERT_EQ(ours.height, pil.height) << job.input;
    ASSERT_EQ(ours.width, pil.width) << job.input;
    const testing::Difference d = difference(ours, pil);
    std::printf("  %-16s %4lld x %-4lld stb vs PIL: max %3.0f  mean %.3f levels\n",
                testing::file_stem(job.input).c_str(), static_cast<long long>(ours.width),
                static_cast<long long>(ours.height), d.max, d.mean);
    EXPECT_LE(d.mean, 0.5) << job.input;
    worst_mean = std::max(worst_mean, d.mean);
    worst_max = std::max(worst_max, d.max);
  }
  std::printf("  worst: max %.0f, mean %.3f levels (of 255)\n", worst_max, worst_mean);
}

TEST(ImageDecode, MemoryAndFileGiveTheSameImage) {
  const Image source = gradient_image(31, 45);
  const std::vector<uint8_t> png = encode_png(source);
  const Image from_memory = decode_image(png.data(), png.size());
  EXPECT_EQ(from_memory.height, 31);
  EXPECT_EQ(from_memory.width, 45);
  EXPECT_EQ(from_memory.pixels, source.pixels);  // PNG is lossless

  const std::string path = testing::scratch_dir() + "/gradient.png";
  write_bytes(path, png);
  EXPECT_EQ(load_image(path).pixels, source.pixels);
}

TEST(ImageDecode, JpegWithDataAfterTheEndMarkerStillDecodes) {
  std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(16, 24));
  const Image clean = decode_image(jpeg.data(), jpeg.size());
  jpeg.insert(jpeg.end(), {0x00, 0x00, 0xFF, 0x12, 0x34});
  EXPECT_EQ(decode_image(jpeg.data(), jpeg.size()).pixels, clean.pixels);
}

TEST(ImageDecodeErrors, MissingFileNamesThePath) {
  testing::expect_error([] { load_image("/nonexistent/graft/photo.jpg"); }, "/nonexistent/graft/photo.jpg",
                        "No such file");
}

TEST(ImageDecodeErrors, DirectoryIsNotAnImage) {
  const std::string dir = testing::scratch_dir();
  testing::expect_error([&] { load_image(dir); }, dir, "is a directory");
}

TEST(ImageDecodeErrors, EmptyFile) {
  const std::string path = testing::scratch_dir() + "/empty.jpg";
  write_bytes(path, {});
  testing::expect_error([&] { load_image(path); }, path, "empty");
  expect_decode_error({}, "empty");
}

TEST(ImageDecodeErrors, RandomBytesAreNotAnImage) {
  std::mt19937 rng(7);
  std::vector<uint8_t> bytes(4096);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  const std::string path = testing::scratch_dir() + "/noise.jpg";
  write_bytes(path, bytes);
  testing::expect_error([&] { load_image(path); }, path, "unknown image type");
}

TEST(ImageDecodeErrors, TruncatedJpeg) {
  const std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(64, 48));
  // Cut inside the headers, inside the entropy-coded data, and just before the end marker.
  for (const size_t keep : {size_t{20}, jpeg.size() / 3, jpeg.size() * 9 / 10, jpeg.size() - 2}) {
    SCOPED_TRACE(keep);
    const std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + static_cast<ptrdiff_t>(keep));
    expect_decode_error(cut, "truncated");
  }
}

TEST(ImageDecodeErrors, TruncatedPhotoFile) {
  const std::vector<std::string> photos = testing::shared_photos();
  GRAFT_REQUIRE_SHARED_PHOTOS(photos);
  std::vector<uint8_t> bytes = read_bytes(photos.front());
  bytes.resize(bytes.size() / 2);
  const std::string path = testing::scratch_dir() + "/half.jpg";
  write_bytes(path, bytes);
  testing::expect_error([&] { load_image(path); }, path, "truncated");
}

TEST(ImageDecodeErrors, TruncatedPng) {
  const std::vector<uint8_t> png = encode_png(gradient_image(40, 40));
  const std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<ptrdiff_t>(png.size() / 2));
  expect_decode_error(cut, "stb_image says");
}

TEST(ImageDecodeErrors, CorruptJpegHeader) {
  std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(16, 16));
  // The frame header (SOF0: length, precision, height, width, components) claims 7 components.
  const uint8_t sof_marker[] = {0xFF, 0xC0};
  const auto sof = std::search(jpeg.begin(), jpeg.end(), std::begin(sof_marker), std::end(sof_marker));
  ASSERT_NE(sof, jpeg.end());
  sof[9] = 7;
  expect_decode_error(jpeg, "bad component count");
}

// A PNG header announcing width x height pixels of 8-bit RGB (and nothing else).
std::vector<uint8_t> png_header(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  auto put32 = [&png](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) png.push_back(static_cast<uint8_t>(v >> shift));
  };
  put32(width);
  put32(height);
  png.insert(png.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, deflate, no filter, no interlace
  put32(static_cast<uint32_t>(crc32(0, png.data() + 12, 17)));
  return png;
}

// Absurd sizes are refused before any pixel memory is allocated: by graft's limit (20000 x 15000
// is 300 megapixels) or, beyond 1 GiB of pixels, by stb_image itself.
TEST(ImageDecodeErrors, AbsurdDimensions) {
  expect_decode_error(png_header(20000, 15000), "too large");
  expect_decode_error(png_header(100000, 100000), "too large");
}

}  // namespace
}  // namespace graft::data
