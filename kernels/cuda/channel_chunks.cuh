#pragma once
// How the batch-norm kernels spread one channel of an [n, c, hw] buffer over blocks. A channel is
// n rows of hw contiguous elements, c * hw apart. Seen as one run of n * hw elements, it is cut
// into `splits` equal chunks, one block per chunk, with enough chunks in all (about
// kChannelTargetBlocks) to fill the GPU even when there are few channels: [32, 64, 112, 112] has 64
// channels of 401,408 elements, [32, 2048, 7, 7] 2,048 channels of 1,568. The plan depends on the
// shape alone, never on the device, so sums that follow it (per block, then per channel over the
// blocks in order) repeat bit for bit everywhere.
//
// Elements move in vectors of V: 16 bytes when hw is a multiple of V and every buffer is 16-byte
// aligned (then no vector straddles two rows), else V = 1. A thread visits the vectors threadIdx.x,
// + kBlockThreads, ... of its block's chunk, kChannelUnroll loads in flight, walking the addresses
// with additions only (no division per element).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda {

// V consecutive elements of a row, read or written with one access.
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

template <typename T, int V>
__device__ Vec<T, V> load_vec(const T* base, int64_t index) {
  return reinterpret_cast<const Vec<T, V>*>(base)[index];
}

template <typename T, int V>
__device__ void store_vec(T* base, int64_t index, const Vec<T, V>& value) {
  reinterpret_cast<Vec<T, V>*>(base)[index] = value;
}

// About two waves of 256-thread blocks on a 132-multiprocessor H100 (8 resident blocks each).
constexpr int64_t kChannelTargetBlocks = 2048;
// A chunk has at least this many elements (a channel smaller than that is one chunk).
constexpr int64_t kChannelMinChunk = 4096;
constexpr int kChannelUnroll = 4;

struct ChannelChunks {
  int64_t channels = 0;     // c
  int64_t row_vecs = 0;     // vectors per row: hw / V
  int64_t vecs = 0;         // vectors per channel: n * row_vecs
  int64_t splits = 1;       // chunks per channel
  int64_t chunk_vecs = 1;   // vectors per chunk (the last one may be shorter)
  // A step of kBlockThreads vectors along the channel is step_rows whole rows plus step_vecs
  // (< row_vecs): the address moves by step_address, plus wrap_address when the step crosses one
  // more row end.
  int64_t step_vecs = 0, step_address = 0, wrap_address = 0;

  __host__ __device__ int64_t items() const { return channels * splits; }
};

inline ChannelChunks plan_channel_chunks(int64_t n, int64_t c, int64_t hw, int vec) {
  ChannelChunks p;
  p.channels = c;
  p.row_vecs = hw / vec;
  p.vecs = n * p.row_vecs;
  if (p.vecs == 0) return p;  // empty channels: one chunk each, with nothing in it
  int64_t splits = 1;
  if (c < kChannelTargetBlocks)
    splits = std::min((kChannelTargetBlocks + c - 1) / c, (n * hw + kChannelMinChunk - 1) / kChannelMinChunk);
  splits = std::max<int64_t>(splits, 1);
  p.chunk_vecs = (p.vecs + splits - 1) / splits;
  p.splits = (p.vecs + p.chunk_vecs - 1) / p.chunk_vecs;
  const int64_t row_stride = c * p.row_vecs;
  const int64_t step_rows = kBlockThreads / p.row_vecs;
  p.step_vecs = kBlockThreads % p.row_vecs;
  p.step_address = step_rows * row_stride + p.step_vecs;
  p.wrap_address = row_stride - p.row_vecs;
  return p;
}

// Calls op.load(address) for each of this thread's vectors of chunk `split` of channel `ch`, then
// op.use(address, loaded), kChannelUnroll vectors at a time (addresses count vectors from the
// buffer's start). Needs blocks of kBlockThreads threads.
template <typename Op>
__device__ void walk_chunk(const ChannelChunks& p, int64_t ch, int64_t split, Op& op) {
  const int64_t end = min_index(p.vecs, (split + 1) * p.chunk_vecs);
  int64_t q = split * p.chunk_vecs + threadIdx.x;
  if (q >= end) return;
  const int64_t row = q / p.row_vecs;
  int64_t k = q - row * p.row_vecs;
  int64_t address = (row * p.channels + ch) * p.row_vecs + k;
  for (; q < end; q += kChannelUnroll * kBlockThreads) {
    int64_t addresses[kChannelUnroll];
    typename Op::Loaded loaded[kChannelUnroll];
#pragma unroll
    for (int u = 0; u < kChannelUnroll; ++u) {
      addresses[u] = address;
      k += p.step_vecs;
      address += p.step_address;
      if (k >= p.row_vecs) {
        k -= p.row_vecs;
        address += p.wrap_address;
      }
    }
#pragma unroll
    for (int u = 0; u < kChannelUnroll; ++u)
      if (q + u * kBlockThreads < end) loaded[u] = op.load(addresses[u]);
#pragma unroll
    for (int u = 0; u < kChannelUnroll; ++u)
      if (q + u * kBlockThreads < end) op.use(addresses[u], loaded[u]);
  }
}

}  // namespace graft::kernels::cuda
