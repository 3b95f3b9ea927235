#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"
#include "kernels/softmax.h"

namespace graft::kernels::cpu {
namespace {

// Rows per thread chunk: enough that a chunk touches about this many logits.
constexpr int64_t kGrainElements = 32768;

int64_t row_grain(int64_t c) { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, c)); }

}  // namespace

template <typename T>
int64_t cross_entropy_forward(const T* logits, const int64_t* target, int64_t n, int64_t c,
                              int64_t ignore_index, double label_smoothing, T* log_probs, T* loss) {
  log_softmax_forward(logits, n, c, 1, log_probs);
  const double s = label_smoothing;
  parallel_for(0, n, row_grain(c), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      if (target[i] == ignore_index) {
        loss[i] = T(0);
        continue;
      }
      const T* row = log_probs + i * c;
      double nll = -double(row[target[i]]);
      if (s != 0) {
        double sum = 0;
        for (int64_t j = 0; j < c; ++j) sum += row[j];
        nll = (1 - s) * nll + s / c * -sum;
      }
      loss[i] = T(nll);
    }
  });
  return std::count_if(target, target + n, [&](int64_t t) { return t != ignore_index; });
}

template <typename T>
void cross_entropy_backward(const T* log_probs, const int64_t* target, int64_t n, int64_t c,
                            int64_t ignore_index, double label_smoothing, const T* dloss,
                            T* dlogits) {
  const double s = label_smoothing;
  parallel_for(0, n, row_grain(c), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T* grad = dlogits + i * c;
      if (target[i] == ignore_index) {
        std::fill(grad, grad + c, T(0));
        continue;
      }
      const T* row = log_probs + i * c;
      const double scale = dloss[i];
      for (int64_t j = 0; j < c; ++j) grad[j] = T(scale * (std::exp(double(row[j])) - s / c));
      grad[target[i]] = T(scale * (std::exp(double(row[target[i]])) - s / c - (1 - s)));
    }
  });
}

template int64_t cross_entropy_forward<float>(const float*, const int64_t*, int64_t, int64_t,
                                              int64_t, double, float*, float*);
template int64_t cross_entropy_forward<double>(const double*, const int64_t*, int64_t, int64_t,
                                               int64_t, double, double*, double*);
template void cross_entropy_backward<float>(const float*, const int64_t*, int64_t, int64_t,
                                            int64_t, double, const float*, float*);
template void cross_entropy_backward<double>(const double*, const int64_t*, int64_t, int64_t,
                                             int64_t, double, const double*, double*);

}  // namespace graft::kernels::cpu
