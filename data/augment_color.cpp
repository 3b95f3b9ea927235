// Colour adjustments as PIL computes them for torchvision's F.adjust_* on PIL images: ImageEnhance's
// blends for brightness, contrast and saturation, the 8-bit HSV round trip for hue, and ColorJitter.
// The float types below are PIL's (its C code mixes float and double); they decide the rounding.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/augment.h"
#include "data/unfused.h"

namespace graft::data {
namespace {

uint8_t luma(const uint8_t* rgb) {  // PIL's RGB -> L: ITU-R 601-2 weights in 16-bit fixed point
  return static_cast<uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
}

// ImagingBlend: out = in1 + alpha * (in2 - in1) in single precision, truncated, clamped when
// extrapolating. `degenerate(i)` is in1's byte i; the image is in2.
template <class Degenerate>
Image blend(const Image& image, double factor, const char* op, Degenerate degenerate) {
  GRAFT_CHECK(std::isfinite(factor) && factor >= 0.0, op, ": the factor must be a non-negative number, got ", factor);
  const auto alpha = static_cast<float>(factor);
  const bool interpolating = alpha >= 0.0f && alpha <= 1.0f;
  Image out(image.height, image.width);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const int low = degenerate(i);
    const float value = static_cast<float>(low) + unfused_product(alpha, static_cast<float>(image.pixels[i] - low));
    if (interpolating) {
      out.pixels[i] = static_cast<uint8_t>(value);
    } else {
      out.pixels[i] = value <= 0.0f ? 0 : value >= 255.0f ? 255 : static_cast<uint8_t>(value);
    }
  }
  return out;
}

// PIL's rgb2hsv_row (which follows Python's colorsys), bytes in and out.
void rgb_to_hsv(const uint8_t* rgb, uint8_t* hsv) {
  const uint8_t r = rgb[0], g = rgb[1], b = rgb[2];
  const uint8_t maxc = std::max({r, g, b}), minc = std::min({r, g, b});
  hsv[2] = maxc;
  if (minc == maxc) {
    hsv[0] = hsv[1] = 0;
    return;
  }
  const auto cr = static_cast<float>(maxc - minc);
  const float s = cr / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / cr;
  const float gc = static_cast<float>(maxc - g) / cr;
  const float bc = static_cast<float>(maxc - b) / cr;
  float h;
  if (r == maxc) {
    h = bc - gc;
  } else if (g == maxc) {
    h = static_cast<float>(2.0 + rc - bc);
  } else {
    h = static_cast<float>(4.0 + gc - rc);
  }
  h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
  hsv[0] = static_cast<uint8_t>(std::clamp(static_cast<int>(h * 255.0), 0, 255));
  hsv[1] = static_cast<uint8_t>(std::clamp(static_cast<int>(s * 255.0), 0, 255));
}

// PIL's hsv2rgb.
void hsv_to_rgb(const uint8_t* hsv, uint8_t* rgb) {
  const uint8_t h = hsv[0], s = hsv[1], v = hsv[2];
  if (s == 0) {
    rgb[0] = rgb[1] = rgb[2] = v;
    return;
  }
  const int i = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
  const auto f = static_cast<float>(static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i));
  const auto fs = static_cast<float>(static_cast<float>(s) / 255.0);
  const auto clip = [](double value) {
    return static_cast<uint8_t>(std::clamp(static_cast<int>(std::round(value)), 0, 255));
  };
  const uint8_t p = clip(static_cast<float>(v) * (1.0 - fs));
  const uint8_t q = clip(static_cast<float>(v) * (1.0 - unfused_product(fs, f)));
  const uint8_t t = clip(static_cast<float>(v) * (1.0 - unfused_product(static_cast<double>(fs), 1.0 - f)));
  const uint8_t table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  std::copy_n(table[i % 6], 3, rgb);
}

void check_jitter_amount(double amount, const char* name) {
  GRAFT_CHECK(std::isfinite(amount) && amount >= 0.0, "color_jitter: ", name, " must be a non-negative amount, got ",
              amount);
}

}  // namespace

Image adjust_brightness(const Image& image, double factor) {
  return blend(image, factor, "adjust_brightness", [](size_t) { return 0; });
}

Image adjust_contrast(const Image& image, double factor) {
  GRAFT_CHECK(!image.pixels.empty(), "adjust_contrast: the image is empty");
  // ImageStat's mean of the L image (an exact integer sum over a double count), rounded half up.
  double sum = 0.0;
  for (size_t i = 0; i < image.pixels.size(); i += Image::channels) sum += luma(&image.pixels[i]);
  const double mean = sum / static_cast<double>(image.height * image.width);
  const int gray = static_cast<int>(mean + 0.5);
  return blend(image, factor, "adjust_contrast", [gray](size_t) { return gray; });
}

Image adjust_saturation(const Image& image, double factor) {
  return blend(image, factor, "adjust_saturation",
               [&image](size_t i) { return luma(&image.pixels[i - i % Image::channels]); });
}

Image adjust_hue(const Image& image, double hue_factor) {
  GRAFT_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor must lie in [-0.5, 0.5], got ",
              hue_factor);
  // numpy's np.uint8(hue_factor * 255): truncated toward zero, then wrapped modulo 256.
  const auto shift = static_cast<uint8_t>(static_cast<int64_t>(hue_factor * 255.0) & 0xff);
  Image out(image.height, image.width);
  for (size_t i = 0; i < image.pixels.size(); i += Image::channels) {
    uint8_t hsv[3];
    rgb_to_hsv(&image.pixels[i], hsv);
    hsv[0] = static_cast<uint8_t>(hsv[0] + shift);
    hsv_to_rgb(hsv, &out.pixels[i]);
  }
  return out;
}

ColorJitterParams color_jitter_params(const ColorJitterOptions& options, Generator& rng) {
  check_jitter_amount(options.brightness, "brightness");
  check_jitter_amount(options.contrast, "contrast");
  check_jitter_amount(options.saturation, "saturation");
  check_jitter_amount(options.hue, "hue");
  GRAFT_CHECK(options.hue <= 0.5, "color_jitter: hue must be at most 0.5, got ", options.hue);
  ColorJitterParams params;
  for (int i = 3; i > 0; --i) std::swap(params.order[i], params.order[random_below(rng, i + 1)]);
  const auto factor = [&rng](double amount) -> std::optional<double> {
    if (amount == 0.0) return std::nullopt;
    return uniform(rng, std::max(0.0, 1.0 - amount), 1.0 + amount);
  };
  params.brightness = factor(options.brightness);
  params.contrast = factor(options.contrast);
  params.saturation = factor(options.saturation);
  if (options.hue != 0.0) params.hue = uniform(rng, -options.hue, options.hue);
  return params;
}

Image apply_color_jitter(const Image& image, const ColorJitterParams& params) {
  Image out = image;
  for (int step : params.order) {
    if (step == 0 && params.brightness) out = adjust_brightness(out, *params.brightness);
    if (step == 1 && params.contrast) out = adjust_contrast(out, *params.contrast);
    if (step == 2 && params.saturation) out = adjust_saturation(out, *params.saturation);
    if (step == 3 && params.hue) out = adjust_hue(out, *params.hue);
  }
  return out;
}

Image color_jitter(const Image& image, const ColorJitterOptions& options, Generator& rng) {
  return apply_color_jitter(image, color_jitter_params(options, rng));
}

}  // namespace graft::data
