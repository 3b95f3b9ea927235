#include "kernels/cpu/conv2d_depthwise.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/cpu/parallel.h"

namespace graft::kernels::cpu {
namespace {

// Each output channel reads input channel oc / out_channels_per_group (in_channels_per_group == 1).
int64_t input_channel(const Conv2dGeometry& g, int64_t oc) {
  return oc / g.out_channels_per_group();
}

// The valid output columns of every kernel column j (they do not depend on the row).
std::vector<ValidRange> valid_columns(const Conv2dGeometry& g) {
  std::vector<ValidRange> cols(g.kernel_w);
  for (int64_t j = 0; j < g.kernel_w; ++j) {
    cols[j] = valid_outputs(j * g.dilation_w - g.pad_w, g.stride_w, g.in_w, g.out_w());
  }
  return cols;
}

// Planes are small; this many per thread chunk keeps the fork cheap relative to the work.
constexpr int64_t kPlaneGrain = 4;

}  // namespace

template <typename T>
void depthwise_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t out_h = g.out_h(), out_w = g.out_w(), sw = g.stride_w;
  const std::vector<ValidRange> cols = valid_columns(g);
  parallel_for(0, g.batch * g.out_channels, kPlaneGrain, [&](int64_t first, int64_t last) {
    for (int64_t plane = first; plane < last; ++plane) {
      const int64_t b = plane / g.out_channels, oc = plane % g.out_channels;
      const T* x_plane = x + (b * g.in_channels + input_channel(g, oc)) * g.in_h * g.in_w;
      const T* taps = w + oc * g.kernel_h * g.kernel_w;
      T* y_plane = y + plane * out_h * out_w;
      for (int64_t oh = 0; oh < out_h; ++oh) {
        T* y_row = y_plane + oh * out_w;
        std::fill(y_row, y_row + out_w, bias ? bias[oc] : T(0));
        for (int64_t i = 0; i < g.kernel_h; ++i) {
          const int64_t ih = oh * g.stride_h + i * g.dilation_h - g.pad_h;
          if (ih < 0 || ih >= g.in_h) continue;
          const T* x_row = x_plane + ih * g.in_w;
          for (int64_t j = 0; j < g.kernel_w; ++j) {
            const T tap = taps[i * g.kernel_w + j];
            const int64_t offset = j * g.dilation_w - g.pad_w;
            for (int64_t ow = cols[j].begin; ow < cols[j].end; ++ow) {
              y_row[ow] += tap * x_row[ow * sw + offset];
            }
          }
        }
      }
    }
  });
}

template <typename T>
void depthwise_backward_data(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t out_h = g.out_h(), out_w = g.out_w(), sw = g.stride_w;
  const int64_t multiplier = g.out_channels_per_group();
  const std::vector<ValidRange> cols = valid_columns(g);
  // One thread owns each input plane and adds the contributions of its output channels in order.
  parallel_for(0, g.batch * g.in_channels, kPlaneGrain, [&](int64_t first, int64_t last) {
    for (int64_t plane = first; plane < last; ++plane) {
      const int64_t b = plane / g.in_channels, ic = plane % g.in_channels;
      T* dx_plane = dx + plane * g.in_h * g.in_w;
      std::fill(dx_plane, dx_plane + g.in_h * g.in_w, T(0));
      for (int64_t oc = ic * multiplier; oc < (ic + 1) * multiplier; ++oc) {
        const T* dy_plane = dy + (b * g.out_channels + oc) * out_h * out_w;
        const T* taps = w + oc * g.kernel_h * g.kernel_w;
        for (int64_t oh = 0; oh < out_h; ++oh) {
          const T* dy_row = dy_plane + oh * out_w;
          for (int64_t i = 0; i < g.kernel_h; ++i) {
            const int64_t ih = oh * g.stride_h + i * g.dilation_h - g.pad_h;
            if (ih < 0 || ih >= g.in_h) continue;
            T* dx_row = dx_plane + ih * g.in_w;
            for (int64_t j = 0; j < g.kernel_w; ++j) {
              const T tap = taps[i * g.kernel_w + j];
              const int64_t offset = j * g.dilation_w - g.pad_w;
              for (int64_t ow = cols[j].begin; ow < cols[j].end; ++ow) {
                dx_row[ow * sw + offset] += tap * dy_row[ow];
              }
            }
          }
        }
      }
    }
  });
}

template <typename T>
void depthwise_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t out_h = g.out_h(), out_w = g.out_w(), sw = g.stride_w;
  const std::vector<ValidRange> cols = valid_columns(g);
  // One thread owns each output channel's taps; each tap sums over the batch in a fixed order.
  parallel_for(0, g.out_channels, 1, [&](int64_t first, int64_t last) {
    for (int64_t oc = first; oc < last; ++oc) {
      for (int64_t i = 0; i < g.kernel_h; ++i) {
        for (int64_t j = 0; j < g.kernel_w; ++j) {
          const int64_t offset = j * g.dilation_w - g.pad_w;
          double sum = 0.0;
          for (int64_t b = 0; b < g.batch; ++b) {
            const T* x_plane = x + (b * g.in_channels + input_channel(g, oc)) * g.in_h * g.in_w;
            const T* dy_plane = dy + (b * g.out_channels + oc) * out_h * out_w;
            for (int64_t oh = 0; oh < out_h; ++oh) {
              const int64_t ih = oh * g.stride_h + i * g.dilation_h - g.pad_h;
              if (ih < 0 || ih >= g.in_h) continue;
              const T* x_row = x_plane + ih * g.in_w;
              const T* dy_row = dy_plane + oh * out_w;
              for (int64_t ow = cols[j].begin; ow < cols[j].end; ++ow) {
                sum += double(dy_row[ow]) * double(x_row[ow * sw + offset]);
              }
            }
          }
          dw[(oc * g.kernel_h + i) * g.kernel_w + j] = static_cast<T>(sum);
        }
      }
    }
  });
}

template void depthwise_forward<float>(const Conv2dGeometry&, const float*, const float*,
                                       const float*, float*);
template void depthwise_forward<double>(const Conv2dGeometry&, const double*, const double*,
                                        const double*, double*);
template void depthwise_backward_data<float>(const Conv2dGeometry&, const float*, const float*,
                                             float*);
template void depthwise_backward_data<double>(const Conv2dGeometry&, const double*, const double*,
                                              double*);
template void depthwise_backward_weight<float>(const Conv2dGeometry&, const float*, const float*,
                                               float*);
template void depthwise_backward_weight<double>(const Conv2dGeometry&, const double*, const double*,
                                                double*);

}  // namespace graft::kernels::cpu
