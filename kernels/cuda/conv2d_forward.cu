// conv2d forward on the GPU as an implicit GEMM (kernels/cuda/conv2d_implicit_gemm.cuh): per group,
// y[output channel][pixel] = W[output channel][k] * B[k][pixel] with k over the input channels of
// the group and the kernel taps, B gathered from x tile by tile with padding, stride and dilation.
// A 1 x 1 kernel reads W as it is (k is the input channel); larger kernels first rearrange W so
// that k is tap-major, the order the gather wants, into a small scratch buffer.
#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/cuda/conv2d_checks.cuh"
#include "kernels/cuda/conv2d_implicit_gemm.cuh"
#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda {

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
                    Stream stream) {
  constexpr const char* kWho = "graft::kernels::cuda::conv2d_forward";
  namespace checks = conv2d_checks;
  checks::check_geometry(kWho, g);
  checks::check_pointer(kWho, x, "x", checks::x_elements(g));
  checks::check_pointer(kWho, w, "w", checks::w_elements(g));
  checks::check_pointer(kWho, y, "y", checks::y_elements(g));
  if (checks::y_elements(g) == 0) return;

  const int64_t in_per_group = g.in_channels_per_group(), out_per_group = g.out_channels_per_group();
  const int64_t depth = in_per_group * g.kernel_h * g.kernel_w;
  const int64_t out_plane = g.out_h() * g.out_w();
  conv2d_gather::Problem p{};
  p.groups = g.groups;
  p.images = g.batch;
  p.rows = out_per_group;
  p.channels = in_per_group;
  p.taps_h = g.kernel_h, p.taps_w = g.kernel_w;
  p.src = x;
  p.src_h = g.in_h, p.src_w = g.in_w;
  p.grid_h = g.out_h(), p.grid_w = g.out_w();
  p.step_h = g.stride_h, p.step_w = g.stride_w;
  p.base_h = -g.pad_h, p.base_w = -g.pad_w;
  p.tap_step_h = g.dilation_h, p.tap_step_w = g.dilation_w;
  p.out.dst = y;
  p.out.bias = bias;
  p.out.group_stride = out_per_group * out_plane;
  p.out.channel_stride = out_plane;
  p.out.image_stride = g.out_channels * out_plane;
  p.out.pitch = g.out_w();
  p.out.step_h = 1, p.out.step_w = 1, p.out.base_h = 0, p.out.base_w = 0;

  if (depth == 0 || g.kernel_h * g.kernel_w == 1) {
    // W[out][in] is A as it is (nothing is read when the depth is 0).
    p.a = depth == 0 ? nullptr : w;
    p.a_group_stride = out_per_group * in_per_group;
    p.lda = in_per_group;
    conv2d_gather::run(p, stream, kWho);
    return;
  }
  const int64_t lda = (depth + 3) / 4 * 4;
  StreamScratch packed(static_cast<size_t>(g.groups * out_per_group * lda) * sizeof(float), stream, kWho);
  conv2d_gather::Repack r{};
  r.groups = g.groups, r.rows = out_per_group, r.channels = in_per_group;
  r.taps_h = g.kernel_h, r.taps_w = g.kernel_w, r.lda = lda;
  r.r0 = 0, r.step_h = 1, r.s0 = 0, r.step_w = 1;
  r.rows_are_out_channels = true;
  conv2d_gather::repack_weights(r, w, in_per_group, out_per_group, g.kernel_h, g.kernel_w, packed.as<float>(), stream,
                                kWho);
  p.a = packed.as<float>();
  p.a_group_stride = out_per_group * lda;
  p.lda = lda;
  p.a_padded = true;
  conv2d_gather::run(p, stream, kWho);
}

}  // namespace graft::kernels::cuda
