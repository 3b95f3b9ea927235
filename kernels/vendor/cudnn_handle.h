#pragma once
// What the cuDNN baselines share: one cuDNN handle per device per thread, and status checks that
// turn a failed call into an exception naming it. Include only from kernels/vendor/.
#include <cuda_runtime.h>
#include <cudnn.h>

namespace graft::kernels::vendor {

// Throws std::runtime_error "graft::kernels::vendor: <what> failed: <cuDNN's message>" unless ok.
void check_cudnn(cudnnStatus_t status, const char* what);

// The calling thread's handle for the current device, created on first use and destroyed when the
// thread ends, with its stream set to `stream` on every call (so calls never leak a stream into
// each other).
cudnnHandle_t cudnn_handle(cudaStream_t stream);

}  // namespace graft::kernels::vendor
