#pragma once
// The stream a CUDA kernel runs on. CUDA's cudaStream_t is a pointer to the opaque CUstream_st, so
// kernel headers can name it without including the CUDA headers (and compile in a build without
// CUDA). nullptr is the default stream.
struct CUstream_st;

namespace graft::kernels {

using Stream = CUstream_st*;

}  // namespace graft::kernels
