#pragma once
// Division by a divisor fixed at launch, without a divide instruction. GPUs have none for
// integers: `n / d` with a run-time d compiles to a long sequence, and the broadcast kernel needs
// one quotient per dimension per element. Granlund and Montgomery's method replaces it with a
// high multiply, an add and a shift: with s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1,
//   n / d = (umulhi(n, m) + n) >> s      for 0 <= n < 2^31 and 1 <= d < 2^31,
// where umulhi(n, m) <= n keeps the sum below 2^32.
#include <cstdint>

namespace graft::kernels::cuda {

class FastDivmod {
 public:
  FastDivmod() = default;
  explicit FastDivmod(uint32_t divisor) : divisor_(divisor) {
    while ((uint64_t{1} << shift_) < divisor) ++shift_;
    multiplier_ = uint32_t((uint64_t{1} << 32) * ((uint64_t{1} << shift_) - divisor) / divisor + 1);
  }

  __host__ __device__ uint32_t divisor() const { return divisor_; }

  __host__ __device__ uint32_t divide(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t high = __umulhi(n, multiplier_);
#else
    const uint32_t high = uint32_t((uint64_t{n} * multiplier_) >> 32);
#endif
    return (high + n) >> shift_;
  }

 private:
  uint32_t divisor_ = 1;
  uint32_t multiplier_ = 1;
  uint32_t shift_ = 0;
};

}  // namespace graft::kernels::cuda
