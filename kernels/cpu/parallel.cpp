#include "kernels/cpu/parallel.h"

#include <cstdlib>
#include <thread>

namespace graft::kernels::cpu {
namespace {

int threads_from_environment() {
  if (const char* env = std::getenv("GRAFT_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0) return static_cast<int>(n);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

int& thread_count() {
  static int count = threads_from_environment();
  return count;
}

}  // namespace

int num_threads() { return thread_count(); }

void set_num_threads(int n) { thread_count() = n > 0 ? n : 1; }

}  // namespace graft::kernels::cpu
