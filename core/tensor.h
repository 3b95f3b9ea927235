#pragma once
// Tensor: a shared handle to a strided view (shape, strides, offset) of a Storage, plus the
// autograd state (requires_grad, grad, grad_fn). Copying a Tensor copies the handle, not data.
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/storage.h"

namespace graft {

using Shape = std::vector<int64_t>;

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;  // null for leaves
};

int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32);
  static Tensor arange(int64_t n, DType dtype = DType::i64);
  // Copies `values` (which must hold numel(shape) elements) into a new CPU tensor.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(impl().shape); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl* raw_impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_storage(const Tensor& other) const { return storage() == other.storage(); }

  // ---- data (CPU tensors)
  // Pointer to the first element; checks the dtype matches T and the tensor is on the CPU.
  template <class T>
  T* data() const;
  // Pointer to the first element in the memory of the tensor's own device (a device pointer for a
  // CUDA tensor), for kernels; checks the dtype only.
  template <class T>
  T* device_data() const;
  void* raw_data() const;  // any device, no dtype check
  double item() const;     // the value of a one-element tensor, as double
  template <class T>
  std::vector<T> to_vector() const;  // elements in row-major order, converted to T

  // ---- views and copies (differentiable)
  Tensor view(const Shape& shape) const;     // no copy; fails if the strides do not allow it
  Tensor reshape(const Shape& shape) const;  // view when possible, else a copy
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor contiguous() const;  // this tensor if already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;

  // ---- autograd
  bool requires_grad() const { return impl().requires_grad; }
  // Leaves only: marks this tensor as a parameter whose gradient is accumulated in grad().
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& grad) const;
  // Backpropagates from this tensor. `gradient` may be omitted for a one-element tensor.
  // Unless retain_graph, the graph's saved tensors are freed and a second backward fails.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same data, no autograd history

  // ---- in place (not recorded by autograd; for initialization and optimizer updates)
  const Tensor& fill_(double value) const;
  const Tensor& copy_(const Tensor& source) const;  // same shape; converts dtype and device as needed
  const Tensor& zero_() const { return fill_(0.0); }

  std::string str() const;  // PyTorch-style printing

 private:
  TensorImpl& impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// Normalizes a possibly negative dimension index; an out-of-range dim is an Error naming `op`.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace graft
