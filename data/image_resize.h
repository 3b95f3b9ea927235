#pragma once
// Resizing with PIL's bilinear filter, pixel for pixel what Image.resize((w, h), Image.BILINEAR)
// gives on an RGB image (and so what torchvision's Resize gives on PIL images).
//
// PIL resamples separably, first along rows, then along columns, each pass rounding back to
// 8 bits. Output pixel i sits at input coordinate c = (i + 0.5) * scale, scale = in / out. Its
// value is a weighted mean of the input pixels j whose centres j + 0.5 lie within `support` of c,
// with triangle weights 1 - |j + 0.5 - c| / s, where s = max(scale, 1). When shrinking, s > 1
// widens the triangle so that every input pixel contributes (antialiasing); when enlarging it is
// plain linear interpolation. The weights are normalised to sum to 1, then stored as 22-bit
// fixed point rounded half away from zero; sums start at one half (2^21) for rounding to
// nearest and are clamped to 0..255.
#include <cstdint>

#include "data/image.h"

namespace graft::data {

Image resize_bilinear(const Image& image, int64_t height, int64_t width);

}  // namespace graft::data
