#include "core/kernel_choice.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

using S = KernelSource;

TEST(KernelChoice, EmptyMeansOwnEverywhere) {
  EXPECT_EQ(parse_kernel_choice(""), (std::vector<S>{S::own, S::own, S::own}));
  EXPECT_EQ(parse_kernel_choice("  "), (std::vector<S>{S::own, S::own, S::own}));
}

TEST(KernelChoice, OneSourceForEveryFamily) {
  EXPECT_EQ(parse_kernel_choice("vendor"), (std::vector<S>{S::vendor, S::vendor, S::vendor}));
  EXPECT_EQ(parse_kernel_choice("own"), (std::vector<S>{S::own, S::own, S::own}));
}

TEST(KernelChoice, PerFamilyLeavesTheOthersOnOwnKernels) {
  EXPECT_EQ(parse_kernel_choice("gemm=vendor"), (std::vector<S>{S::vendor, S::own, S::own}));
  EXPECT_EQ(parse_kernel_choice("conv2d=vendor, batch_norm = vendor,gemm=own"),
            (std::vector<S>{S::own, S::vendor, S::vendor}));
}

TEST(KernelChoice, BadSpecsNameWhatIsWrong) {
  testing::expect_error([] { parse_kernel_choice("cudnn"); }, "GRAFT_KERNELS", "unknown kernel source 'cudnn'");
  testing::expect_error([] { parse_kernel_choice("conv=vendor"); }, "GRAFT_KERNELS",
                        "unknown kernel family 'conv'; the families with a vendor variant are gemm, conv2d, batch_norm");
  testing::expect_error([] { parse_kernel_choice("gemm=vendor,conv2d"); }, "GRAFT_KERNELS", "is not FAMILY=SOURCE");
  testing::expect_error([] { parse_kernel_choice("gemm=fast"); }, "GRAFT_KERNELS", "unknown kernel source 'fast'");
}

TEST(KernelChoice, SettersOverrideAndDescribeTheChoice) {
  set_kernel_source(KernelFamily::conv2d, KernelSource::vendor);
  EXPECT_EQ(kernel_source(KernelFamily::conv2d), KernelSource::vendor);
  EXPECT_NE(kernel_choice_str().find("conv2d=vendor"), std::string::npos) << kernel_choice_str();
  set_kernel_source(KernelFamily::conv2d, KernelSource::own);
  EXPECT_NE(kernel_choice_str().find("conv2d=own"), std::string::npos) << kernel_choice_str();
  set_allow_tf32(true);
  EXPECT_TRUE(allow_tf32());
  set_allow_tf32(false);
  EXPECT_FALSE(allow_tf32());
}

}  // namespace
}  // namespace graft
