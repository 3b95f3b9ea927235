#pragma once
// The implicit GEMM behind the forward pass and the data gradient (kernels/cuda/conv2d_forward.cu,
// conv2d_backward_data.cu). Both are, per group, C[M][N] = A[M][K] * B[K][N] where
//   - a column j of C is a pixel (image, y, x) of an output grid,
//   - the depth k = tap * channels + c runs over the reduction channels c and the kernel taps
//     tap = th * taps_w + tw (tap-major, so that a slice of 8 depths mostly shares one tap and
//     the gather computes one address and one bounds check for 4 channels),
//   - B[k][j] = src[image][c][y * step_h + base_h + th * tap_step_h][x * step_w + base_w + tw * tap_step_w],
//     zero outside the source plane (padding),
//   - A[m][k] is a weight matrix in memory, row-major with leading dimension lda (or transposed).
// Forward: src = x, rows = output channels, taps = kernel taps, steps = stride, bases = -padding,
// tap steps = dilation. Data gradient, one launch per stride phase of dx: src = dy, rows = input
// channels, taps = the kernel taps that reach that phase, grid steps 1 (see conv2d_backward_data.cu).
#include <cstdint>

#include "kernels/cuda/conv2d_tile.cuh"
#include "kernels/stream.h"

namespace graft::kernels::cuda::conv2d_gather {

struct Problem {
  int64_t groups, images;
  int64_t rows;                       // M per group
  int64_t channels, taps_h, taps_w;   // K = channels * taps_h * taps_w per group
  // A: element (m, k) at a[g * a_group_stride + m * lda + k], or at [... + k * lda + m] when
  // a_transposed. When a_padded, rows are zero-filled from K up to lda (a multiple of 4).
  const float* a;
  int64_t a_group_stride, lda;
  bool a_transposed, a_padded;
  // B's source tensor, [images][groups * channels][src_h][src_w].
  const float* src;
  int64_t src_h, src_w;
  // The output grid of each image and how its pixels map into the source.
  int64_t grid_h, grid_w;
  int64_t step_h, step_w, base_h, base_w, tap_step_h, tap_step_w;
  // Where C goes: OutputMap's fields for the whole tensor (dst, bias, strides, steps, bases; the
  // grid divisors are filled in per launch).
  conv2d_tile::OutputMap out;
};

// Runs the product for every group and image: C written through `out` (plus bias). Chooses the
// block height, splits the depth when the tiles alone would not fill the GPU, and cuts the images
// and groups into launches that fit the grid limits and 32-bit pixel indices.
void run(const Problem& p, Stream stream, const char* who);

// Rearranges a convolution weight w[out_channels][in_per_group][kernel_h][kernel_w] into the A of
// one launch, per group a rows x lda matrix (lda = K rounded up to 4, zero-filled past K) with
// k = (th * taps_w + tw) * channels + c and kernel tap (r0 + th * step_h, s0 + tw * step_w).
// rows_are_out_channels: A's rows are output channels and its channels input channels (forward);
// otherwise the other way round (data gradient).
struct Repack {
  int64_t groups, rows, channels, taps_h, taps_w, lda;
  int64_t r0, step_h, s0, step_w;
  bool rows_are_out_channels;
};
void repack_weights(const Repack& r, const float* w, int64_t in_per_group, int64_t out_per_group, int64_t kernel_h,
                    int64_t kernel_w, float* packed, Stream stream, const char* who);

}  // namespace graft::kernels::cuda::conv2d_gather
