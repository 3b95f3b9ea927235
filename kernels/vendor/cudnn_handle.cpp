#include "kernels/vendor/cudnn_handle.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace graft::kernels::vendor {
namespace {

class Handles {
 public:
  Handles() = default;
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
  ~Handles() {
    for (cudnnHandle_t handle : handles_)
      if (handle != nullptr) cudnnDestroy(handle);
  }

  cudnnHandle_t get(cudaStream_t stream) {
    int device = 0;
    const cudaError_t status = cudaGetDevice(&device);
    if (status != cudaSuccess)
      throw std::runtime_error(std::string("graft::kernels::vendor: cudaGetDevice failed: ") +
                               cudaGetErrorString(status));
    if (device >= static_cast<int>(handles_.size())) handles_.resize(device + 1, nullptr);
    cudnnHandle_t& handle = handles_[device];
    if (handle == nullptr) check_cudnn(cudnnCreate(&handle), "cudnnCreate");
    check_cudnn(cudnnSetStream(handle, stream), "cudnnSetStream");
    return handle;
  }

 private:
  std::vector<cudnnHandle_t> handles_;
};

}  // namespace

void check_cudnn(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(std::string("graft::kernels::vendor: ") + what + " failed: " +
                             cudnnGetErrorString(status));
}

cudnnHandle_t cudnn_handle(cudaStream_t stream) {
  thread_local Handles handles;
  return handles.get(stream);
}

}  // namespace graft::kernels::vendor
