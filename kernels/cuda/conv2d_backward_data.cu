// conv2d data gradient on the GPU: dx[c][ih][iw] = sum over output channels oc and kernel taps
// (r, s) of w[oc][c][r][s] * dy[oc][oh][ow], where oh * stride_h = ih + pad_h - r * dilation_h
// (and the same across). With a stride above 1 only the taps whose (ih + pad_h - r * dilation_h)
// is divisible by the stride contribute, and which ones depends only on ih mod stride_h. So dx is
// cut into stride_h x stride_w phases (ih = ph + u * stride_h, iw = pw + v * stride_w); within a
// phase the contributing taps form an arithmetic progression r = r0 + t * step, and
//   oh = u + (ph + pad_h - r0 * dilation_h) / stride_h - t * (step * dilation_h / stride_h),
// a stride-1 convolution of dy (both divisions exact). Each phase is one dense implicit GEMM
// (kernels/cuda/conv2d_implicit_gemm.cuh) over its pixels: no multiply is wasted on taps that miss,
// and a phase no tap reaches (a 1 x 1 kernel with stride 2) is written with zeros.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cuda/conv2d_checks.cuh"
#include "kernels/cuda/conv2d_implicit_gemm.cuh"
#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda {
namespace {

// The kernel taps along one axis that reach input coordinates congruent to `phase` modulo the
// stride: first, count and spacing, and the output offset of the first one.
struct PhaseTaps {
  int64_t first = 0, count = 0, step = 1;
  int64_t base = 0;      // (phase + pad - first * dilation) / stride
  int64_t tap_step = 0;  // output coordinate change from one tap to the next
};

PhaseTaps phase_taps(int64_t phase, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  std::vector<int64_t> taps;
  for (int64_t r = 0; r < kernel; ++r) {
    const int64_t reach = phase + pad - r * dilation;
    if ((reach % stride + stride) % stride == 0) taps.push_back(r);
  }
  PhaseTaps t;
  t.count = static_cast<int64_t>(taps.size());
  if (t.count == 0) return t;
  t.first = taps[0];
  t.step = t.count > 1 ? taps[1] - taps[0] : 1;
  for (int64_t i = 0; i < t.count; ++i)
    if (taps[i] != t.first + i * t.step) throw std::logic_error("conv2d_backward_data: phase taps are not evenly spaced");
  t.base = (phase + pad - t.first * dilation) / stride;
  t.tap_step = -(t.step * dilation / stride);
  return t;
}

}  // namespace

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Stream stream) {
  constexpr const char* kWho = "graft::kernels::cuda::conv2d_backward_data";
  namespace checks = conv2d_checks;
  checks::check_geometry(kWho, g);
  checks::check_pointer(kWho, dy, "dy", checks::y_elements(g));
  checks::check_pointer(kWho, w, "w", checks::w_elements(g));
  checks::check_pointer(kWho, dx, "dx", checks::x_elements(g));
  if (checks::x_elements(g) == 0) return;

  const int64_t in_per_group = g.in_channels_per_group(), out_per_group = g.out_channels_per_group();
  const int64_t in_plane = g.in_h * g.in_w;
  const bool pointwise = g.kernel_h * g.kernel_w == 1;

  struct Phase {
    int64_t ph, pw, rows, cols, lda;
    PhaseTaps h, w;
  };
  std::vector<Phase> phases;
  int64_t packed_size = 0;
  for (int64_t ph = 0; ph < std::min(g.stride_h, g.in_h); ++ph)
    for (int64_t pw = 0; pw < std::min(g.stride_w, g.in_w); ++pw) {
      Phase phase{ph, pw, (g.in_h - ph + g.stride_h - 1) / g.stride_h, (g.in_w - pw + g.stride_w - 1) / g.stride_w, 0,
                  phase_taps(ph, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h),
                  phase_taps(pw, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w)};
      const int64_t depth = out_per_group * phase.h.count * phase.w.count;
      if (!pointwise && depth > 0) {
        phase.lda = (depth + 3) / 4 * 4;
        packed_size += g.groups * in_per_group * phase.lda;
      }
      phases.push_back(phase);
    }

  std::optional<StreamScratch> packed;
  if (packed_size > 0) packed.emplace(static_cast<size_t>(packed_size) * sizeof(float), stream, kWho);
  int64_t packed_at = 0;
  for (const Phase& phase : phases) {
    const int64_t depth = out_per_group * phase.h.count * phase.w.count;
    conv2d_gather::Problem p{};
    p.groups = g.groups;
    p.images = g.batch;
    p.rows = in_per_group;
    p.channels = out_per_group;
    p.taps_h = phase.h.count, p.taps_w = phase.w.count;
    p.src = dy;
    p.src_h = g.out_h(), p.src_w = g.out_w();
    p.grid_h = phase.rows, p.grid_w = phase.cols;
    p.step_h = 1, p.step_w = 1;
    p.base_h = phase.h.base, p.base_w = phase.w.base;
    p.tap_step_h = phase.h.tap_step, p.tap_step_w = phase.w.tap_step;
    p.out.dst = dx;
    p.out.bias = nullptr;
    p.out.group_stride = in_per_group * in_plane;
    p.out.channel_stride = in_plane;
    p.out.image_stride = g.in_channels * in_plane;
    p.out.pitch = g.in_w;
    p.out.step_h = static_cast<int>(g.stride_h), p.out.step_w = static_cast<int>(g.stride_w);
    p.out.base_h = static_cast<int>(phase.ph), p.out.base_w = static_cast<int>(phase.pw);
    if (depth == 0) {
      p.a = nullptr;  // no tap reaches this phase: the product writes zeros
    } else if (pointwise) {
      // A[c][oc] = w[oc][c]: the weight read transposed.
      p.a = w;
      p.a_transposed = true;
      p.a_group_stride = out_per_group * in_per_group;
      p.lda = in_per_group;
    } else {
      float* a = packed->as<float>() + packed_at;
      packed_at += g.groups * in_per_group * phase.lda;
      conv2d_gather::Repack r{};
      r.groups = g.groups, r.rows = in_per_group, r.channels = out_per_group;
      r.taps_h = phase.h.count, r.taps_w = phase.w.count, r.lda = phase.lda;
      r.r0 = phase.h.first, r.step_h = phase.h.step, r.s0 = phase.w.first, r.step_w = phase.w.step;
      r.rows_are_out_channels = false;
      conv2d_gather::repack_weights(r, w, in_per_group, out_per_group, g.kernel_h, g.kernel_w, a, stream, kWho);
      p.a = a;
      p.a_group_stride = in_per_group * phase.lda;
      p.lda = phase.lda;
      p.a_padded = true;
    }
    conv2d_gather::run(p, stream, kWho);
  }
}

}  // namespace graft::kernels::cuda
