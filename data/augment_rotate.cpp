// Rotation as PIL's Image.rotate(angle) computes it for torchvision's F.rotate defaults (nearest
// neighbour, expand=False, centre of the image, black fill). The steps and their float operations
// follow PIL in order, so that every output pixel picks the same source pixel:
//   1. angle = angle mod 360 (Python's float modulo: the result is in [0, 360)).
//   2. 0 -> copy, 180 -> point reflection, 90/270 on a square image -> transposition.
//   3. The inverse map, output (x, y) -> source, is the affine matrix [a b c; d e f] with
//      a = e = round(cos t, 15), b = round(sin t, 15), d = round(-sin t, 15), t = -radians(angle),
//      and c, f chosen so the rotation turns about (w / 2, h / 2).
//   4. The source of output pixel (x, y) is the pixel containing (a (x + .5) + b (y + .5) + c, ...).
//      PIL walks the rows in 16.16 fixed point (each matrix entry rounded to 1/65536, coordinates
//      stepped by adding them) when all four corners map within +-32768, else in doubles.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numbers>

#include "core/error.h"
#include "data/augment.h"
#include "data/unfused.h"

namespace graft::data {
namespace {

// Python's float % 360.0.
double python_mod_360(double angle) {
  double mod = std::fmod(angle, 360.0);
  if (mod != 0.0) {
    if (mod < 0.0) mod += 360.0;
  } else {
    mod = 0.0;  // copysign(0, 360): positive zero
  }
  return mod;
}

// Python's round(value, 15): correctly rounded to 15 decimals, as decimal text and back.
double round_15(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.15f", value);
  return std::strtod(text, nullptr);
}

// PIL's FLOOR and FIX (16.16 fixed point) macros.
int floor_to_int(double v) { return v < 0.0 ? static_cast<int>(std::floor(v)) : static_cast<int>(v); }
int to_fixed(double v) { return floor_to_int(unfused_product(v, 65536.0) + 0.5); }
// PIL's COORD macro: truncation, with everything left of zero mapped to -1.
int coordinate(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

bool within_fixed_range(const double a[6], double x, double y) {
  return std::fabs(unfused_product(x, a[0]) + unfused_product(y, a[1]) + a[2]) < 32768.0 &&
         std::fabs(unfused_product(x, a[3]) + unfused_product(y, a[4]) + a[5]) < 32768.0;
}

void copy_pixel(const Image& source, int64_t sx, int64_t sy, Image& out, int64_t x, int64_t y) {
  std::memcpy(out.row(y) + x * Image::channels, source.row(sy) + sx * Image::channels, Image::channels);
}

// out(x, y) = in(remap(x, y)) for the exact quarter and half turns.
template <class Remap>
Image transposed(const Image& image, int64_t height, int64_t width, Remap remap) {
  Image out(height, width);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const auto [sx, sy] = remap(x, y);
      copy_pixel(image, sx, sy, out, x, y);
    }
  }
  return out;
}

Image affine_nearest(const Image& image, const double a[6]) {
  const int64_t w = image.width, h = image.height;
  Image out(h, w);  // black where no source pixel lands
  const auto xsize = static_cast<int>(w), ysize = static_cast<int>(h);
  const auto dw = static_cast<double>(w), dh = static_cast<double>(h);
  const bool fixed = !(a[1] == 0 && a[3] == 0) && within_fixed_range(a, 0, 0) && within_fixed_range(a, dw, dh) &&
                     within_fixed_range(a, 0, dh) && within_fixed_range(a, dw, 0);
  if (fixed) {
    const int a0 = to_fixed(a[0]), a1 = to_fixed(a[1]), a3 = to_fixed(a[3]), a4 = to_fixed(a[4]);
    int row_x = to_fixed(a[2] + unfused_product(a[0], 0.5) + unfused_product(a[1], 0.5));
    int row_y = to_fixed(a[5] + unfused_product(a[3], 0.5) + unfused_product(a[4], 0.5));
    for (int64_t y = 0; y < h; ++y, row_x += a1, row_y += a4) {
      int xx = row_x, yy = row_y;
      for (int64_t x = 0; x < w; ++x, xx += a0, yy += a3) {
        const int sx = xx >> 16, sy = yy >> 16;  // arithmetic shift: floor
        if (sx >= 0 && sx < xsize && sy >= 0 && sy < ysize) copy_pixel(image, sx, sy, out, x, y);
      }
    }
    return out;
  }
  double row_x = a[2] + unfused_product(a[1], 0.5) + unfused_product(a[0], 0.5);
  double row_y = a[5] + unfused_product(a[4], 0.5) + unfused_product(a[3], 0.5);
  for (int64_t y = 0; y < h; ++y, row_x += a[1], row_y += a[4]) {
    double xx = row_x, yy = row_y;
    for (int64_t x = 0; x < w; ++x, xx += a[0], yy += a[3]) {
      const int sx = coordinate(xx), sy = coordinate(yy);
      if (sx >= 0 && sx < xsize && sy >= 0 && sy < ysize) copy_pixel(image, sx, sy, out, x, y);
    }
  }
  return out;
}

}  // namespace

Image rotate(const Image& image, double degrees) {
  GRAFT_CHECK(std::isfinite(degrees), "rotate: the angle must be a finite number of degrees, got ", degrees);
  GRAFT_CHECK(image.height > 0 && image.width > 0, "rotate: the image is empty");
  const int64_t w = image.width, h = image.height;
  const double angle = python_mod_360(degrees);
  if (angle == 0.0) return image;
  if (angle == 180.0) {
    return transposed(image, h, w, [&](int64_t x, int64_t y) { return std::pair{w - 1 - x, h - 1 - y}; });
  }
  if (w == h && angle == 90.0) {  // counter-clockwise: the top row comes from the right column
    return transposed(image, h, w, [&](int64_t x, int64_t y) { return std::pair{w - 1 - y, x}; });
  }
  if (w == h && angle == 270.0) {
    return transposed(image, h, w, [&](int64_t x, int64_t y) { return std::pair{y, h - 1 - x}; });
  }
  const double t = -(angle * (std::numbers::pi / 180.0));
  double a[6] = {round_15(std::cos(t)), round_15(std::sin(t)), 0.0, round_15(-std::sin(t)), round_15(std::cos(t)), 0.0};
  const double cx = static_cast<double>(w) / 2.0, cy = static_cast<double>(h) / 2.0;
  const double c = unfused_product(a[0], -cx) + unfused_product(a[1], -cy) + a[2];
  const double f = unfused_product(a[3], -cx) + unfused_product(a[4], -cy) + a[5];
  a[2] = c + cx;
  a[5] = f + cy;
  return affine_nearest(image, a);
}

Image random_rotation(const Image& image, Range degrees, Generator& rng) {
  GRAFT_CHECK(degrees.min <= degrees.max, "random_rotation: degrees must be an interval [min, max], got [", degrees.min,
              ", ", degrees.max, "]");
  return rotate(image, uniform(rng, degrees.min, degrees.max));
}

Image random_rotation(const Image& image, double degrees, Generator& rng) {
  GRAFT_CHECK(degrees >= 0.0, "random_rotation: a single number of degrees must be non-negative, got ", degrees,
              " (give a Range for an asymmetric interval)");
  return random_rotation(image, Range{-degrees, degrees}, rng);
}

}  // namespace graft::data
