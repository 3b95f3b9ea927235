#pragma once
// Arithmetic with the rounding spelled out, for kernels that must repeat the CPU twin's results
// bit for bit: each of these rounds once, correctly, whatever nvcc's -fmad, -prec-div and
// -prec-sqrt settings are.

namespace graft::kernels::cuda {

__device__ inline float fused_multiply_add(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ inline double fused_multiply_add(double a, double b, double c) { return __fma_rn(a, b, c); }

__device__ inline float rounded_divide(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double rounded_divide(double a, double b) { return __ddiv_rn(a, b); }

__device__ inline float rounded_sqrt(float x) { return __fsqrt_rn(x); }
__device__ inline double rounded_sqrt(double x) { return __dsqrt_rn(x); }

}  // namespace graft::kernels::cuda
