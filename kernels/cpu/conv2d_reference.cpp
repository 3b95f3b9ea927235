// The oracle: conv2d as PyTorch defines it, one output element at a time, accumulated in double.
#include "kernels/conv2d.h"

namespace graft::kernels::cpu {

template <typename T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* bias,
                              T* y) {
  const int64_t out_h = g.out_h(), out_w = g.out_w();
  const int64_t in_cpg = g.in_channels_per_group(), out_cpg = g.out_channels_per_group();
  for (int64_t b = 0; b < g.batch; ++b) {
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      const int64_t first_ic = oc / out_cpg * in_cpg;
      for (int64_t oh = 0; oh < out_h; ++oh) {
        for (int64_t ow = 0; ow < out_w; ++ow) {
          double sum = bias ? double(bias[oc]) : 0.0;
          for (int64_t c = 0; c < in_cpg; ++c) {
            for (int64_t i = 0; i < g.kernel_h; ++i) {
              const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
              if (ih < 0 || ih >= g.in_h) continue;
              for (int64_t j = 0; j < g.kernel_w; ++j) {
                const int64_t iw = ow * g.stride_w - g.pad_w + j * g.dilation_w;
                if (iw < 0 || iw >= g.in_w) continue;
                const T xv = x[((b * g.in_channels + first_ic + c) * g.in_h + ih) * g.in_w + iw];
                const T wv = w[((oc * in_cpg + c) * g.kernel_h + i) * g.kernel_w + j];
                sum += double(xv) * double(wv);
              }
            }
          }
          y[((b * g.out_channels + oc) * out_h + oh) * out_w + ow] = static_cast<T>(sum);
        }
      }
    }
  }
}

template void conv2d_forward_reference<float>(const Conv2dGeometry&, const float*, const float*,
                                              const float*, float*);
template void conv2d_forward_reference<double>(const Conv2dGeometry&, const double*, const double*,
                                               const double*, double*);

}  // namespace graft::kernels::cpu
