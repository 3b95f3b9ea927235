#pragma once
// Running an op's kernel on the device its tensors live on. Each op states both calls side by side:
//
//   on_device(x, [&] { kernels::cpu::relu_forward(px, n, py); },
//                [&](auto stream) { kernels::cuda::relu_forward(px, n, py, stream); });
//
// The CUDA call must be a generic lambda (`auto stream`). A build without CUDA has no CUDA kernels
// to link; there the call is a discarded `if constexpr` branch, and the body of a generic lambda
// that is never called is never compiled into code. No tensor can be on a CUDA device in such a
// build, so the branch is unreachable there.
#include <type_traits>
#include <utility>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "core/tensor.h"
#include "kernels/stream.h"

namespace graft::ops {

#ifdef GRAFT_WITH_CUDA
inline constexpr bool kBuiltWithCuda = true;
#else
inline constexpr bool kBuiltWithCuda = false;
#endif

// The stream the ops queue their kernels on: the current device's default stream. It orders every
// kernel after the kernels and the synchronous copies before it, so ops need no events.
inline constexpr kernels::Stream kOpStream = nullptr;

// cpu() on the CPU; on a CUDA device, makes the device current and calls cuda(kOpStream).
template <class Cpu, class Cuda>
decltype(auto) on_device(Device device, Cpu&& cpu, Cuda&& cuda) {
  if constexpr (kBuiltWithCuda) {
    if (device.is_cuda()) {
      graft::cuda::set_device(device.index);
      return cuda(kOpStream);
    }
  }
  return cpu();
}

// The same on the device `t` lives on.
template <class Cpu, class Cuda>
decltype(auto) on_device(const Tensor& t, Cpu&& cpu, Cuda&& cuda) {
  return on_device(t.device(), std::forward<Cpu>(cpu), std::forward<Cuda>(cuda));
}

// For kernels that exist on the GPU for float only: the error an op raises for another type there.
template <typename T>
void check_float32_on_cuda(const char* op) {
  if constexpr (!std::is_same_v<T, float>) {
    fail(op, ": CUDA kernels compute in float32 only; convert with .to(DType::f32), or run on the cpu "
         "device for float64");
  }
}

}  // namespace graft::ops
