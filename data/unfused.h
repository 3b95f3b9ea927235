#pragma once
// A product that is rounded on its own. Compilers may fuse a * b + c into one fused multiply-add
// (GCC does by default when the target has FMA, as with -march=native), which rounds once instead
// of twice. That changes the last bit of some results, which is enough to move a truncated pixel
// value or a nearest-neighbour sample away from what PIL (built without FMA) computes, and makes
// results depend on the CPU. Passing the product through a volatile forces it to be rounded first.
namespace graft::data {

template <class T>
T unfused_product(T a, T b) {
  volatile T product = a * b;
  return product;
}

}  // namespace graft::data
