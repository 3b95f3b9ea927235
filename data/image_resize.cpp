#include "data/image_resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace graft::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's: room for 8-bit values, the sign and overflow
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);

// The fixed-point weights of one pass: output i reads inputs first[i] .. first[i] + count[i] - 1
// with weights[i * taps + k].
struct Weights {
  int64_t taps = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;
};

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

Weights bilinear_weights(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle's half-width, in input pixels
  const double inverse_filter_scale = 1.0 / filter_scale;  // PIL multiplies by it: same rounding

  Weights w;
  w.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  w.first.resize(out_size);
  w.count.resize(out_size);
  w.weights.assign(out_size * w.taps, 0);
  std::vector<double> exact(w.taps);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    // Truncation toward zero, as PIL's (int) casts; negatives are clamped to 0 anyway.
    const int64_t begin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t end = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    w.first[i] = begin;
    w.count[i] = end - begin;
    double total = 0.0;
    for (int64_t k = 0; k < w.count[i]; ++k) {
      exact[k] = triangle((static_cast<double>(k + begin) - center + 0.5) * inverse_filter_scale);
      total += exact[k];
    }
    for (int64_t k = 0; k < w.count[i]; ++k) {
      const double normalized = total != 0.0 ? exact[k] / total : exact[k];
      const double fixed = normalized * (1 << kPrecisionBits);
      w.weights[i * w.taps + k] = static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
  }
  return w;
}

uint8_t clamp_to_byte(int32_t sum) {
  if (sum <= 0) return 0;
  if (sum >= (int32_t{256} << kPrecisionBits)) return 255;
  return static_cast<uint8_t>(sum >> kPrecisionBits);
}

// Resamples rows rows_begin .. rows_begin + out.height - 1 of `in` along x into `out`.
void resize_rows(const Image& in, int64_t rows_begin, const Weights& w, Image& out) {
  for (int64_t y = 0; y < out.height; ++y) {
    const uint8_t* src = in.row(rows_begin + y);
    uint8_t* dst = out.row(y);
    for (int64_t x = 0; x < out.width; ++x) {
      const int32_t* weights = &w.weights[x * w.taps];
      const uint8_t* pixel = src + w.first[x] * Image::channels;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int64_t k = 0; k < w.count[x]; ++k, pixel += Image::channels) {
        r += pixel[0] * weights[k];
        g += pixel[1] * weights[k];
        b += pixel[2] * weights[k];
      }
      dst[x * Image::channels + 0] = clamp_to_byte(r);
      dst[x * Image::channels + 1] = clamp_to_byte(g);
      dst[x * Image::channels + 2] = clamp_to_byte(b);
    }
  }
}

// Resamples `in` along y into `out`; input row r is in.row(r - rows_begin).
void resize_columns(const Image& in, int64_t rows_begin, const Weights& w, Image& out) {
  const int64_t row_bytes = in.width * Image::channels;
  for (int64_t y = 0; y < out.height; ++y) {
    const int32_t* weights = &w.weights[y * w.taps];
    const uint8_t* first = in.row(w.first[y] - rows_begin);
    uint8_t* dst = out.row(y);
    for (int64_t i = 0; i < row_bytes; ++i) {
      int32_t sum = kHalf;
      for (int64_t k = 0; k < w.count[y]; ++k) sum += first[k * row_bytes + i] * weights[k];
      dst[i] = clamp_to_byte(sum);
    }
  }
}

}  // namespace

Image resize_bilinear(const Image& image, int64_t height, int64_t width) {
  GRAFT_CHECK(height > 0 && width > 0, "resize_bilinear: the output size must be positive, got ", height, " x ", width);
  GRAFT_CHECK(image.height > 0 && image.width > 0, "resize_bilinear: the input image is empty");
  GRAFT_CHECK(height <= kMaxImagePixels / width, "resize_bilinear: the output ", height, " x ", width,
              " exceeds the limit of ", kMaxImagePixels, " pixels");
  const bool along_x = width != image.width, along_y = height != image.height;
  // A pass whose size does not change would be the identity (one weight of exactly 1): skipped.
  if (!along_x && !along_y) return image;
  if (!along_y) {
    Image out(height, width);
    resize_rows(image, 0, bilinear_weights(image.width, width), out);
    return out;
  }
  const Weights weights_y = bilinear_weights(image.height, height);
  Image out(height, width);
  if (!along_x) {
    resize_columns(image, 0, weights_y, out);
    return out;
  }
  // Only the input rows that the vertical pass reads go through the horizontal pass.
  const int64_t rows_begin = weights_y.first.front();
  const int64_t rows_end = weights_y.first.back() + weights_y.count.back();
  Image rows(rows_end - rows_begin, width);
  resize_rows(image, rows_begin, bilinear_weights(image.width, width), rows);
  resize_columns(rows, rows_begin, weights_y, out);
  return out;
}

}  // namespace graft::data
