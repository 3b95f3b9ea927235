#pragma once
// Which implementation the ops call on the GPU, per kernel family: graft's own kernels
// (kernels/cuda/) or the vendor libraries' (kernels/vendor/: cuBLAS, cuDNN), to compare the two end
// to end. The CPU always runs graft's kernels.
//
// The environment variable GRAFT_KERNELS sets the choice when the process first asks for it:
//   GRAFT_KERNELS=own                      every family on graft's kernels (the default)
//   GRAFT_KERNELS=vendor                   every family on the vendor library
//   GRAFT_KERNELS=gemm=vendor,conv2d=own   per family; families left out stay on graft's kernels
// GRAFT_TF32=1 lets float32 GEMMs on the GPU round their inputs to TF32 on the tensor cores (off by
// default: float32 is the reference precision).
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace graft {

enum class KernelSource { own, vendor };
// The families that have a vendor variant.
enum class KernelFamily { gemm, conv2d, batch_norm };

const char* kernel_family_name(KernelFamily family);   // "gemm", "conv2d", "batch_norm"
const char* kernel_source_name(KernelSource source);   // "own", "vendor"
const std::vector<KernelFamily>& kernel_families();
inline std::ostream& operator<<(std::ostream& out, KernelSource source) { return out << kernel_source_name(source); }

// The source for each family, in kernel_families() order, from a GRAFT_KERNELS value; an empty
// value means own everywhere. A malformed value, an unknown family or source is an Error that
// names it and lists the valid forms.
std::vector<KernelSource> parse_kernel_choice(std::string_view spec);

KernelSource kernel_source(KernelFamily family);
// Overrides GRAFT_KERNELS for the rest of the process (benchmarks and tests switch at run time).
void set_kernel_source(KernelFamily family, KernelSource source);
// "gemm=own,conv2d=vendor,...": the current choice, for logs and benchmark tables.
std::string kernel_choice_str();

bool allow_tf32();
void set_allow_tf32(bool allow);

}  // namespace graft
