#pragma once
// Thread control for the CPU kernels. The thread count comes from GRAFT_NUM_THREADS
// (default: all cores) and can be changed at run time. Work is split into equal static
// chunks, so a given thread count always partitions the same way (deterministic results).
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace graft::kernels::cpu {

int num_threads();
void set_num_threads(int n);

// Calls fn(chunk_begin, chunk_end) over [begin, end) split across threads. Runs serially when
// the range is smaller than `grain`, when one thread is configured, or when already inside a
// parallel region (nested calls stay on their thread).
template <class Fn>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Fn&& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int threads = num_threads();
  if (threads <= 1 || n <= grain || omp_in_parallel()) {
    fn(begin, end);
    return;
  }
  const int64_t chunks = std::min<int64_t>(threads, (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1));
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t lo = begin + n * t / chunks;
    const int64_t hi = begin + n * (t + 1) / chunks;
    if (lo < hi) fn(lo, hi);
  }
}

}  // namespace graft::kernels::cpu
