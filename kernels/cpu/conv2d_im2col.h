#pragma once
// Lowering a convolution to a matrix product (internal to the CPU convolution kernels).
//
// The column matrix of one image and one group has a row per (input channel, kernel row, kernel
// column) of the group, in the order of the weight's inner dimensions, and a column per output
// position n = oh * out_w + ow. Entry (row, n) is the input value that weight tap meets at that
// output position, or 0 where the tap falls in the padding. Then
//   y_group = w_group [out_channels_per_group x rows] * columns [rows x out_h*out_w].
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/conv2d.h"

namespace graft::kernels::cpu {

// Rows of the column matrix of one group: in_channels_per_group * kernel_h * kernel_w.
inline int64_t column_rows(const Conv2dGeometry& g) {
  return g.in_channels_per_group() * g.kernel_h * g.kernel_w;
}

// The output positions o in [0, out_size) whose tap reads input position o * stride + offset
// inside [0, in_size): a contiguous range [begin, end) (offset = tap * dilation - padding).
struct ValidRange {
  int64_t begin, end;
};

inline ValidRange valid_outputs(int64_t offset, int64_t stride, int64_t in_size, int64_t out_size) {
  int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t end = offset >= in_size ? 0 : (in_size - 1 - offset) / stride + 1;
  begin = std::min(begin, out_size);
  end = std::clamp(end, begin, out_size);
  return {begin, end};
}

// A 1x1, stride-1, unpadded convolution: the column matrix is the input itself.
inline bool is_pointwise(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
         g.pad_w == 0;
}

// The column matrix of one image group of a geometry, with the ranges every kernel tap needs
// computed once (the gathers call into it per few rows, and would otherwise redo divisions).
class ColumnMatrix {
 public:
  explicit ColumnMatrix(const Conv2dGeometry& g);

  // Writes rows [r0, r1) x columns [n0, n1) into col (row r at col + (r - r0) * ld_col).
  // x points at the group's first input channel in one image.
  template <typename T>
  void im2col(const T* x, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* col,
              int64_t ld_col) const;

  // The adjoint of im2col over all rows: adds each entry of columns [n0, n1) of col onto the
  // input position it was read from (padding entries are dropped). x points as for im2col.
  template <typename T>
  void col2im_add(const T* col, int64_t ld_col, int64_t n0, int64_t n1, T* x) const;

 private:
  template <typename Visit>
  void for_each_run(int64_t r0, int64_t r1, int64_t n0, int64_t n1, Visit&& visit) const;
  template <typename T>
  void im2col_shifted(const T* x, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* col,
                      int64_t ld_col) const;

  Conv2dGeometry g_;
  bool pointwise_;                      // every row is an input channel, read straight
  // Stride 1 and as wide as the input ("same" padding along the width, e.g. every 3x3 layer of a
  // ResNet): each row of the column matrix is the input plane shifted by a constant offset, with
  // the taps that fall in the padding zeroed.
  bool shifted_;
  std::vector<ValidRange> valid_rows_;  // per kernel row i: the output rows it sees input at
  std::vector<ValidRange> valid_cols_;  // per kernel column j: likewise for output columns
};

// Lays the [rows x row_len] matrices of `images` consecutive images side by side: row r of image
// b (at src + b * image_stride + r * row_len) goes to dst + r * images * row_len + b * row_len.
// Used to run several small images through one wide GEMM.
template <typename T>
void gather_images(const T* src, int64_t image_stride, int64_t images, int64_t rows,
                   int64_t row_len, T* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < images; ++b) {
      const T* from = src + b * image_stride + r * row_len;
      std::copy(from, from + row_len, dst + (r * images + b) * row_len);
    }
  }
}

}  // namespace graft::kernels::cpu
