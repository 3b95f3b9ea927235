#pragma once
// 16-byte vector access for the bandwidth-bound kernels: one load or store instruction moves four
// floats or two doubles. Only for 16-byte aligned addresses: callers check the base pointers with
// is_aligned_16 on the host and fall back to one element at a time otherwise.
#include <cstdint>

namespace graft::kernels::cuda {

template <typename T>
constexpr int kPackSize = 16 / int(sizeof(T));

template <typename T>
struct alignas(16) Pack {
  T v[kPackSize<T>];
};

inline bool is_aligned_16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The pack_index-th pack of base (elements [pack_index * kPackSize, +kPackSize)).
template <typename T>
__device__ Pack<T> load_pack(const T* base, int64_t pack_index) {
  return reinterpret_cast<const Pack<T>*>(base)[pack_index];
}

template <typename T>
__device__ void store_pack(T* base, int64_t pack_index, const Pack<T>& pack) {
  reinterpret_cast<Pack<T>*>(base)[pack_index] = pack;
}

}  // namespace graft::kernels::cuda
