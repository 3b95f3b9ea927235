// In a build without CUDA the tests of the CUDA kernels (tests/kernels/cuda/) are not compiled;
// this says so in the test report instead of leaving them silently out.
#include "gtest/gtest.h"

#ifndef GRAFT_WITH_CUDA
TEST(CudaKernels, NotBuilt) {
  GTEST_SKIP() << "skipped: built without CUDA, so tests/kernels/cuda/ is not compiled; rebuild with "
                  "-DGRAFT_CUDA=ON on a machine with the CUDA toolkit";
}
#endif
