#pragma once
// The CPU float micro-kernels a test can run here, and a scope that makes one of them the kernel
// gemm(float...) and the convolutions use, so every kernel this CPU supports gets tested.
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/gemm_kernels.h"

namespace graft::kernels::testing {

using cpu::gemm_detail::SgemmIsa;

// Every float kernel this CPU runs; the others are printed as skipped. For double, whose kernel
// does not depend on the CPU, only the active one.
template <typename T>
std::vector<SgemmIsa> runnable_isas() {
  namespace gd = cpu::gemm_detail;
  if constexpr (!std::is_same_v<T, float>) {
    return {gd::active_sgemm_isa()};
  } else {
    std::vector<SgemmIsa> isas;
    for (const SgemmIsa isa : {SgemmIsa::portable, SgemmIsa::avx2, SgemmIsa::avx512}) {
      if (gd::supported(isa)) {
        isas.push_back(isa);
      } else {
        std::printf("skipping the %s kernel: this CPU lacks it\n", gd::sgemm_isa_name(isa));
      }
    }
    return isas;
  }
}

// Makes `isa` the active float kernel for one scope.
class ActiveIsa {
 public:
  explicit ActiveIsa(SgemmIsa isa) : saved_(cpu::gemm_detail::active_sgemm_isa()) {
    cpu::gemm_detail::set_active_sgemm_isa(isa);
  }
  ~ActiveIsa() { cpu::gemm_detail::set_active_sgemm_isa(saved_); }
  ActiveIsa(const ActiveIsa&) = delete;
  ActiveIsa& operator=(const ActiveIsa&) = delete;

 private:
  SgemmIsa saved_;
};

inline std::string isa_label(SgemmIsa isa) {
  return std::string(cpu::gemm_detail::sgemm_isa_name(isa)) + " kernel";
}

}  // namespace graft::kernels::testing
