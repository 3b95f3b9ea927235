#include "data/collate.h"

#include <cstring>

#include "core/cuda_runtime.h"
#include "core/error.h"

namespace graft::data {
namespace {

Tensor new_batch_tensor(const Shape& shape, DType dtype, bool pinned) {
  if (!pinned) return Tensor::empty(shape, dtype);
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::wrap(cuda::allocate_pinned(bytes), bytes, Device::cpu(), cuda::release_pinned);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

}  // namespace

Batch collate(const std::vector<Sample>& samples, const std::vector<int64_t>& indices, const Dataset& dataset,
              bool pinned) {
  GRAFT_CHECK(!samples.empty() && samples.size() == indices.size(), "collate: expected one or more samples and ",
              "one index per sample, got ", samples.size(), " samples and ", indices.size(), " indices");
  const Tensor& first = samples.front().image;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Tensor& image = samples[i].image;
    GRAFT_CHECK(image.defined() && image.dtype() == DType::f32 && image.device().is_cpu(),
                "collate: ", dataset.describe(indices[i]), " gave ",
                image.defined() ? concat("a ", dtype_name(image.dtype()), " tensor on ", image.device().str())
                                : std::string("no tensor"),
                "; a dataset must give float32 CPU images");
    GRAFT_CHECK(image.shape() == first.shape(), "collate: ", dataset.describe(indices[i]), " gave an image of shape ",
                shape_str(image.shape()), " but ", dataset.describe(indices[0]), " gave ", shape_str(first.shape()),
                "; every image of a batch needs the same size (resize or crop them, e.g. --preprocess imagenet)");
  }
  const auto n = static_cast<int64_t>(samples.size());
  Shape shape = first.shape();
  shape.insert(shape.begin(), n);
  Batch batch;
  batch.images = new_batch_tensor(shape, DType::f32, pinned);
  batch.labels = new_batch_tensor({n}, DType::i64, pinned);
  batch.indices = indices;
  float* images = batch.images.data<float>();
  int64_t* labels = batch.labels.data<int64_t>();
  const int64_t per_image = first.numel();
  for (int64_t i = 0; i < n; ++i) {
    const Tensor image = samples[i].image.contiguous();
    std::memcpy(images + i * per_image, image.data<float>(), static_cast<size_t>(per_image) * sizeof(float));
    labels[i] = samples[i].label;
  }
  return batch;
}

}  // namespace graft::data
