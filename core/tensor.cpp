#include "core/tensor.h"

#include <algorithm>
#include <cstring>

#include "core/autograd.h"
#include "core/cuda_runtime.h"
#include "core/ops/on_device.h"
#include "kernels/copy.h"
#include "kernels/elementwise.h"

namespace graft {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t wrapped = dim < 0 ? dim + ndim : dim;
  GRAFT_CHECK(wrapped >= 0 && wrapped < std::max<int64_t>(ndim, 1), op, ": dimension ", dim,
              " is out of range for a tensor with ", ndim, " dimension(s)");
  return wrapped;
}

TensorImpl& Tensor::impl() const {
  GRAFT_CHECK(impl_ != nullptr, "use of an undefined tensor (default-constructed Tensor)");
  return *impl_;
}

// ---- factories

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) {
    GRAFT_CHECK(s >= 0, "Tensor::empty: negative size in shape ", shape_str(shape));
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(shape_numel(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(int64_t n, DType dtype) {
  Tensor t = empty({n}, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<double>(i);
  return t.to(dtype);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  GRAFT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ",
              values.size(), " values given for shape ", shape_str(shape), " (", shape_numel(shape),
              " elements)");
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}

// ---- metadata and data

int64_t Tensor::size(int64_t d) const {
  GRAFT_CHECK(dim() > 0, "Tensor::size: a 0-d tensor has no dimension ", d);
  return shape()[wrap_dim(d, dim(), "Tensor::size")];
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * dtype_size(dtype());
}

template <class T>
T* Tensor::device_data() const {
  GRAFT_CHECK(dtype() == dtype_of<T>(), "Tensor::data: the tensor holds ", dtype_name(dtype()),
              " but ", dtype_name(dtype_of<T>()), " was requested");
  return static_cast<T*>(raw_data());
}

template <class T>
T* Tensor::data() const {
  GRAFT_CHECK(device().is_cpu(), "Tensor::data: the tensor is on ", device().str(),
              "; move it with .to(Device::cpu()) to read it on the host");
  return device_data<T>();
}

double Tensor::item() const {
  GRAFT_CHECK(numel() == 1, "Tensor::item: the tensor has ", numel(),
              " elements (shape ", shape_str(shape()), "); item() needs exactly one");
  return to_vector<double>()[0];
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor t = to(Device::cpu()).contiguous();
  std::vector<T> out(t.numel());
  visit_dtype(t.dtype(), [&](auto v) {
    using S = decltype(v);
    kernels::cpu::convert(static_cast<const S*>(t.raw_data()), out.data(), t.numel());
  });
  return out;
}

// ---- copies between dtypes and devices

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

namespace {

// Contiguous data of `t` in a new tensor of `dtype`, on the same device (CPU conversion).
Tensor converted(const Tensor& t, DType dtype) {
  Tensor src = t.to(Device::cpu()).contiguous();
  Tensor out = Tensor::empty(t.shape(), dtype);
  visit_dtype(src.dtype(), [&](auto from) {
    visit_dtype(dtype, [&](auto to) {
      kernels::cpu::convert(static_cast<const decltype(from)*>(src.raw_data()),
                            static_cast<decltype(to)*>(out.raw_data()), src.numel());
    });
  });
  return t.device().is_cpu() ? out : out.to(t.device());
}

Tensor moved(const Tensor& t, Device device) {
  Tensor src = t.contiguous();
  Tensor out = Tensor::empty(t.shape(), t.dtype(), device);
  const size_t bytes = src.numel() * dtype_size(src.dtype());
  if (bytes == 0) return out;
  if (src.device().is_cpu() && device.is_cpu()) {
    std::memcpy(out.raw_data(), src.raw_data(), bytes);
  } else if (src.device().is_cpu()) {
    cuda::copy(out.raw_data(), src.raw_data(), bytes, cuda::CopyKind::host_to_device, device.index);
  } else if (device.is_cpu()) {
    cuda::copy(out.raw_data(), src.raw_data(), bytes, cuda::CopyKind::device_to_host,
               src.device().index);
  } else {
    GRAFT_CHECK(src.device() == device, "copies between two CUDA devices go through the CPU: use .to(Device::cpu()) first");
    cuda::copy(out.raw_data(), src.raw_data(), bytes, cuda::CopyKind::device_to_device, device.index);
  }
  return out;
}

struct ToBackward : Node {
  DType source_dtype;
  Device source_device;
  ToBackward(DType dtype, Device device) : source_dtype(dtype), source_device(device) {}
  const char* name() const override { return "ToBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    return {grad.to(source_device).to(source_dtype)};
  }
};

Tensor record_to(const Tensor& input, Tensor output) {
  if (any_requires_grad({input})) {
    record(output, std::make_shared<ToBackward>(input.dtype(), input.device()), {input});
  }
  return output;
}

}  // namespace

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  return record_to(*this, moved(detach(), device));
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  return record_to(*this, converted(detach(), dtype));
}

const Tensor& Tensor::copy_(const Tensor& source) const {
  GRAFT_CHECK(source.shape() == shape(), "Tensor::copy_: source shape ", shape_str(source.shape()),
              " does not match destination shape ", shape_str(shape()));
  Tensor src = source.detach().to(dtype()).to(device()).contiguous();
  if (src.same_storage(*this) && src.offset() == offset() && is_contiguous()) return *this;
  const size_t bytes = numel() * dtype_size(dtype());
  if (is_contiguous()) {
    if (bytes == 0) return *this;
    if (device().is_cpu()) {
      std::memmove(raw_data(), src.raw_data(), bytes);
    } else {
      cuda::copy(raw_data(), src.raw_data(), bytes, cuda::CopyKind::device_to_device, device().index);
    }
    return *this;
  }
  GRAFT_CHECK(device().is_cpu() || dim() <= kernels::cuda::kMaxStridedDims, "Tensor::copy_: a non-contiguous ",
              device().str(), " destination of more than ", kernels::cuda::kMaxStridedDims, " dims (shape ",
              shape_str(shape()), ") is not supported; copy on the cpu device");
  const int ndim = static_cast<int>(dim());
  ops::on_device(
      *this,
      [&] {
        kernels::cpu::scatter_strided(src.raw_data(), ndim, shape().data(), strides().data(), dtype_size(dtype()),
                                      raw_data());
      },
      [&](auto stream) {
        kernels::cuda::scatter_strided(src.raw_data(), ndim, shape().data(), strides().data(), dtype_size(dtype()),
                                       raw_data(), stream);
      });
  return *this;
}

namespace {

// Fills a contiguous float tensor with its device's fill kernel: on a GPU, a value copied from host
// memory would wait for all the work queued before it.
template <typename T>
void fill_floats(const Tensor& t, double value) {
  ops::on_device(
      t, [&] { kernels::cpu::fill<T>(t.data<T>(), t.numel(), static_cast<T>(value)); },
      [&](auto stream) { kernels::cuda::fill<T>(t.device_data<T>(), t.numel(), static_cast<T>(value), stream); });
}

}  // namespace

const Tensor& Tensor::fill_(double value) const {
  if (is_contiguous() && dtype() == DType::f32) {
    fill_floats<float>(*this, value);
  } else if (is_contiguous() && dtype() == DType::f64) {
    fill_floats<double>(*this, value);
  } else if (is_contiguous() && device().is_cpu() && numel() > 0) {
    // Any other dtype: the value converted once, then the filled prefix copied onto the rest,
    // doubling each time.
    Tensor src = empty({1}, DType::f64);
    *src.data<double>() = value;
    const size_t size = dtype_size(dtype());
    const size_t total = static_cast<size_t>(numel()) * size;
    char* p = static_cast<char*>(raw_data());
    std::memcpy(p, src.to(dtype()).raw_data(), size);
    for (size_t filled = size; filled < total; filled *= 2) std::memcpy(p + filled, p, std::min(filled, total - filled));
  } else if (numel() > 0) {
    copy_(Tensor::full(shape(), value, dtype()));
  }
  return *this;
}

// ---- autograd state

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  GRAFT_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad; this tensor "
              "was produced by ", grad_fn()->name(), " (use detach() to make a leaf)");
  GRAFT_CHECK(!requires_grad || is_floating(dtype()), "set_requires_grad: only floating-point tensors "
              "can require gradients, this one is ", dtype_name(dtype()));
  impl().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined()) {
    GRAFT_CHECK(grad.shape() == shape(), "set_grad: gradient shape ", shape_str(grad.shape()),
                " does not match tensor shape ", shape_str(shape()));
  }
  impl().grad = grad.defined() ? grad.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward(*this, gradient, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->offset = offset();
  impl->shape = shape();
  impl->strides = strides();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

#define GRAFT_INSTANTIATE(T)                                                     \
  template T* Tensor::data<T>() const;                                           \
  template T* Tensor::device_data<T>() const;                                    \
  template std::vector<T> Tensor::to_vector<T>() const;                          \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
GRAFT_INSTANTIATE(int64_t)
GRAFT_INSTANTIATE(BFloat16)
GRAFT_INSTANTIATE(Half)
#undef GRAFT_INSTANTIATE

}  // namespace graft
