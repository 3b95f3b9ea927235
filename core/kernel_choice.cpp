#include "core/kernel_choice.h"

#include <array>
#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace graft {
namespace {

constexpr size_t kFamilies = 3;

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

KernelSource parse_source(std::string_view text, std::string_view spec) {
  if (text == "own") return KernelSource::own;
  if (text == "vendor") return KernelSource::vendor;
  fail("GRAFT_KERNELS='", spec, "': unknown kernel source '", text,
       "'; use own or vendor, for every family or per family as in gemm=vendor,conv2d=own");
}

KernelFamily parse_family(std::string_view text, std::string_view spec) {
  for (KernelFamily family : kernel_families())
    if (text == kernel_family_name(family)) return family;
  std::string known;
  for (KernelFamily family : kernel_families()) known += std::string(known.empty() ? "" : ", ") + kernel_family_name(family);
  fail("GRAFT_KERNELS='", spec, "': unknown kernel family '", text, "'; the families with a vendor variant are ",
       known);
}

// The process-wide choice: read from the environment on first use, then changed only by the setters.
struct Choice {
  std::array<std::atomic<KernelSource>, kFamilies> sources;
  std::atomic<bool> tf32;
  Choice() {
    const char* spec = std::getenv("GRAFT_KERNELS");
    const std::vector<KernelSource> parsed = parse_kernel_choice(spec ? spec : "");
    for (size_t i = 0; i < kFamilies; ++i) sources[i] = parsed[i];
    const char* tf32_env = std::getenv("GRAFT_TF32");
    tf32 = tf32_env != nullptr && std::string_view(tf32_env) == "1";
  }
};

Choice& choice() {
  static Choice instance;
  return instance;
}

}  // namespace

const char* kernel_family_name(KernelFamily family) {
  switch (family) {
    case KernelFamily::gemm: return "gemm";
    case KernelFamily::conv2d: return "conv2d";
    case KernelFamily::batch_norm: return "batch_norm";
  }
  return "unknown";
}

const char* kernel_source_name(KernelSource source) { return source == KernelSource::own ? "own" : "vendor"; }

const std::vector<KernelFamily>& kernel_families() {
  static const std::vector<KernelFamily> families = {KernelFamily::gemm, KernelFamily::conv2d,
                                                     KernelFamily::batch_norm};
  return families;
}

std::vector<KernelSource> parse_kernel_choice(std::string_view spec) {
  std::vector<KernelSource> sources(kFamilies, KernelSource::own);
  const std::string_view whole = trimmed(spec);
  if (whole.empty()) return sources;
  if (whole.find('=') == std::string_view::npos) {  // one source for every family
    sources.assign(kFamilies, parse_source(whole, spec));
    return sources;
  }
  std::string_view rest = whole;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = trimmed(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t equals = item.find('=');
    GRAFT_CHECK(equals != std::string_view::npos, "GRAFT_KERNELS='", spec, "': '", item,
                "' is not FAMILY=SOURCE; write for example gemm=vendor,conv2d=own");
    const KernelFamily family = parse_family(trimmed(item.substr(0, equals)), spec);
    sources[static_cast<size_t>(family)] = parse_source(trimmed(item.substr(equals + 1)), spec);
  }
  return sources;
}

KernelSource kernel_source(KernelFamily family) { return choice().sources[static_cast<size_t>(family)]; }

void set_kernel_source(KernelFamily family, KernelSource source) {
  choice().sources[static_cast<size_t>(family)] = source;
}

std::string kernel_choice_str() {
  std::string out;
  for (KernelFamily family : kernel_families()) {
    if (!out.empty()) out += ",";
    out += std::string(kernel_family_name(family)) + "=" + kernel_source_name(kernel_source(family));
  }
  return out;
}

bool allow_tf32() { return choice().tf32; }
void set_allow_tf32(bool allow) { choice().tf32 = allow; }

}  // namespace graft
