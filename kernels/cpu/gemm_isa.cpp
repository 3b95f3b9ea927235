// Which float micro-kernel the CPU GEMM runs: the kernel table (tile shape and cache blocking of
// each instruction set), what this CPU supports, and the choice GRAFT_CPU_ISA or the tests make.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/cpu/gemm_kernels.h"
#include "kernels/gemm.h"

namespace graft::kernels::cpu {
namespace gemm_detail {
namespace {

// Zen 3 (32 KiB L1d, 512 KiB L2 per core, 32 MiB L3), 6 x 16 float tile: a 256 x 16 B panel
// (16 KiB) plus a 6 x 256 A panel (6 KiB) fit L1; the 144 x 256 A block (144 KiB) sits in L2 with
// room for the C tiles and the B panel; a 256 x 4080 B block (4 MiB per thread) sits in L3.
constexpr Blocking kSgemmBlocking{6, 16, 144, 256, 4080};
// AVX-512 CPUs have 48 KiB or more of L1d and 1-2 MiB of L2 per core: the 256 x 32 B panel (32 KiB)
// and an 8 x 256 A panel (8 KiB) fit L1, the 192 x 256 A block (192 KiB) sits in L2.
constexpr Blocking kSgemmAvx512Blocking{8, 32, 192, 256, 4096};

const Kernel<float> kSgemmPortable{"portable", kSgemmBlocking, microkernel_portable<float, 6, 16>};
const Kernel<float> kSgemmAvx2{"avx2", kSgemmBlocking, sgemm_microkernel_avx2, /*avx2_packing=*/true};
const Kernel<float> kSgemmAvx512{"avx512", kSgemmAvx512Blocking, sgemm_microkernel_avx512, /*avx2_packing=*/true};

}  // namespace

const char* sgemm_isa_name(SgemmIsa isa) { return sgemm_kernel(isa).name; }

bool supported(SgemmIsa isa) {
  switch (isa) {
    case SgemmIsa::portable:
      return true;
    case SgemmIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SgemmIsa::avx512:
      return __builtin_cpu_supports("avx512f");
  }
  return false;
}

const Kernel<float>& sgemm_kernel(SgemmIsa isa) {
  switch (isa) {
    case SgemmIsa::avx512: return kSgemmAvx512;
    case SgemmIsa::avx2: return kSgemmAvx2;
    case SgemmIsa::portable: break;
  }
  return kSgemmPortable;
}

SgemmIsa best_sgemm_isa() {
  static const SgemmIsa best = supported(SgemmIsa::avx512) ? SgemmIsa::avx512
                               : supported(SgemmIsa::avx2) ? SgemmIsa::avx2
                                                           : SgemmIsa::portable;
  return best;
}

namespace {

constexpr SgemmIsa kAllIsas[] = {SgemmIsa::portable, SgemmIsa::avx2, SgemmIsa::avx512};

std::string supported_isa_names() {
  std::string names;
  for (const SgemmIsa isa : kAllIsas) {
    if (supported(isa)) names += std::string(names.empty() ? "" : ", ") + sgemm_isa_name(isa);
  }
  return names;
}

// `context` starts the message: what asked for the kernel.
void check_supported(SgemmIsa isa, const std::string& context) {
  if (!supported(isa)) {
    throw std::invalid_argument(context + ": this CPU cannot run the " + sgemm_isa_name(isa) +
                                " GEMM kernel; it runs " + supported_isa_names());
  }
}

// GRAFT_CPU_ISA when it names a kernel this CPU runs, else (reported once) the fastest. Never
// throws: the first product may run inside a parallel region, where an exception cannot escape.
SgemmIsa isa_from_environment() {
  const char* name = std::getenv("GRAFT_CPU_ISA");
  if (!name || !*name) return best_sgemm_isa();
  try {
    return parse_sgemm_isa(name);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "graft: %s; using the %s kernel\n", e.what(), sgemm_isa_name(best_sgemm_isa()));
    return best_sgemm_isa();
  }
}

std::atomic<SgemmIsa>& active_isa() {
  static std::atomic<SgemmIsa> isa = isa_from_environment();
  return isa;
}

}  // namespace

SgemmIsa parse_sgemm_isa(const char* name) {
  for (const SgemmIsa isa : kAllIsas) {
    if (std::strcmp(name, sgemm_isa_name(isa)) == 0) {
      check_supported(isa, std::string("GRAFT_CPU_ISA='") + name + "'");
      return isa;
    }
  }
  throw std::invalid_argument(std::string("GRAFT_CPU_ISA='") + name +
                              "': unknown GEMM kernel; use portable, avx2 or avx512 (this CPU runs " +
                              supported_isa_names() + "), or leave it unset for the fastest");
}

SgemmIsa active_sgemm_isa() { return active_isa().load(std::memory_order_relaxed); }

void set_active_sgemm_isa(SgemmIsa isa) {
  check_supported(isa, "set_active_sgemm_isa");
  active_isa() = isa;
}

}  // namespace gemm_detail

const char* sgemm_isa() { return gemm_detail::sgemm_isa_name(gemm_detail::active_sgemm_isa()); }

void check_cpu_isa_environment() {
  const char* name = std::getenv("GRAFT_CPU_ISA");
  if (name && *name) gemm_detail::parse_sgemm_isa(name);
}

}  // namespace graft::kernels::cpu
