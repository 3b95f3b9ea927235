#include "core/tensor.h"

#include <cmath>

#include "core/cuda_runtime.h"
#include "core/ops/ops.h"
#include "gtest/gtest.h"
#include "tests/support/compare.h"

namespace graft {
namespace {

using testing::all_close;

Tensor iota(const Shape& shape, DType dtype = DType::f32) {
  return Tensor::arange(shape_numel(shape), dtype).reshape(shape);
}

TEST(Tensor, FactoriesShapeAndStrides) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(Tensor::full({2}, 7.5, DType::f64).to_vector<double>(), (std::vector<double>{7.5, 7.5}));
  EXPECT_EQ(Tensor::scalar(3).dim(), 0);
  EXPECT_EQ(Tensor::scalar(3).item(), 3.0);
  EXPECT_EQ(Tensor::arange(4).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_THROW(Tensor::zeros({2, -1}), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

// Every dtype and a length that is no power of two (the filled prefix is copied onto the rest,
// doubling each time); a value that rounds in float16 rounds as a conversion of it does.
TEST(Tensor, FillWritesEveryElementInEveryDtype) {
  for (const DType dtype : {DType::f32, DType::f64, DType::i64, DType::bf16, DType::f16}) {
    const Tensor t = Tensor::full({3, 37}, -3.0, dtype);
    for (const double v : t.to(DType::f64).to_vector<double>()) ASSERT_EQ(v, -3.0) << dtype_name(dtype);
  }
  const Tensor half = Tensor::full({5}, 0.1, DType::f16);
  const double rounded = Tensor::scalar(0.1, DType::f64).to(DType::f16).to(DType::f64).item();
  for (const double v : half.to(DType::f64).to_vector<double>()) EXPECT_EQ(v, rounded);
  EXPECT_EQ(Tensor::full({0}, 1.0, DType::i64).numel(), 0);
}

TEST(Tensor, CpuDataIsAligned) {
  Tensor t = Tensor::empty({3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data<float>()) % 64, 0u);
}

TEST(Tensor, DataChecksDtype) {
  Tensor t = Tensor::zeros({2});
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_THROW(Tensor::zeros({2}).item(), Error);
}

TEST(Tensor, TransposeAndPermuteAreViews) {
  Tensor t = iota({2, 3});
  Tensor tt = t.t();
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_TRUE(tt.same_storage(t));
  EXPECT_EQ(tt.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor p = iota({2, 3, 4}).permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.contiguous().to_vector<float>()[1], 4.0f);
  EXPECT_THROW(t.permute({0, 0}), Error);
  EXPECT_THROW(t.permute({0}), Error);
}

TEST(Tensor, ViewReshapeFlatten) {
  Tensor t = iota({2, 3, 4});
  EXPECT_EQ(t.view({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_TRUE(t.view({6, 4}).same_storage(t));
  EXPECT_EQ(t.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(t.flatten().shape(), (Shape{24}));
  EXPECT_THROW(t.view({5, -1}), Error);
  EXPECT_THROW(t.view({-1, -1}), Error);
  Tensor tt = t.transpose(0, 2);  // not viewable as flat
  EXPECT_THROW(tt.view({24}), Error);
  Tensor r = tt.reshape({24});
  EXPECT_FALSE(r.same_storage(t));
  EXPECT_EQ(r.to_vector<float>()[1], 12.0f);
  // Splitting a transposed dimension is still a view.
  EXPECT_TRUE(iota({4, 6}).t().view({2, 3, 4}).same_storage(t) == false);
}

TEST(Tensor, SliceSelectExpand) {
  Tensor t = iota({4, 5});
  Tensor s = t.slice(1, 1, 5, 2);
  EXPECT_EQ(s.shape(), (Shape{4, 2}));
  EXPECT_EQ(s.contiguous().to_vector<float>(), (std::vector<float>{1, 3, 6, 8, 11, 13, 16, 18}));
  EXPECT_EQ(t.slice(0, -2, 100).shape(), (Shape{2, 5}));
  EXPECT_EQ(t.select(0, -1).to_vector<float>(), (std::vector<float>{15, 16, 17, 18, 19}));
  EXPECT_THROW(t.select(0, 4), Error);
  EXPECT_THROW(t.slice(0, 0, 2, 0), Error);
  Tensor e = Tensor::from_vector<float>({1, 2, 3}, {3, 1}).expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.contiguous().to_vector<float>()[4], 2.0f);
  EXPECT_THROW(Tensor::zeros({3, 2}).expand({3, 4}), Error);
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 4, 5}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{4, 5, 1}));
  EXPECT_EQ(t.unsqueeze(0).squeeze(0).shape(), (Shape{4, 5}));
}

TEST(Tensor, CopyAndFillRespectStrides) {
  Tensor t = Tensor::zeros({3, 3});
  t.slice(1, 1, 2).fill_(5);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 5, 0, 0, 5, 0, 0, 5, 0}));
  t.t().copy_(iota({3, 3}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
  EXPECT_THROW(t.copy_(Tensor::zeros({2})), Error);
  Tensor c = t.clone();
  c.fill_(1);
  EXPECT_EQ(t.to_vector<float>()[0], 0.0f);
}

TEST(Tensor, DtypeConversionsRoundTrip) {
  Tensor f = Tensor::from_vector<float>({1.5f, -2.25f, 65504.0f, 1e-3f}, {4});
  EXPECT_EQ(f.to(DType::f64).dtype(), DType::f64);
  EXPECT_EQ(f.to(DType::f64).to_vector<double>()[1], -2.25);
  EXPECT_EQ(f.to(DType::i64).to_vector<int64_t>()[1], -2);
  // Exactly representable values survive 16-bit storage.
  EXPECT_EQ(f.to(DType::f16).to(DType::f32).to_vector<float>()[2], 65504.0f);
  EXPECT_EQ(f.to(DType::bf16).to(DType::f32).to_vector<float>()[0], 1.5f);
  // Rounding to nearest even: 1 + 2^-8 is halfway between two bf16 values and rounds to 1.
  EXPECT_EQ(Tensor::from_vector<float>({1.00390625f}, {1}).to(DType::bf16).to(DType::f32).item(), 1.0);
  EXPECT_NEAR(f.to(DType::f16).to(DType::f32).to_vector<float>()[3], 1e-3, 1e-6);
}

TEST(HalfConversion, SpecialValues) {
  using kernels::to_float;
  using kernels::to_half;
  EXPECT_EQ(to_half(1.0f).bits, 0x3c00);
  EXPECT_EQ(to_half(-2.0f).bits, 0xc000);
  EXPECT_EQ(to_half(65520.0f).bits, 0x7c00);      // rounds to infinity
  EXPECT_EQ(to_half(5.9604645e-8f).bits, 0x0001);  // smallest subnormal
  EXPECT_TRUE(std::isnan(to_float(to_half(NAN))));
  EXPECT_EQ(to_float(kernels::Half{0x0001}), 5.9604644775390625e-8f);
  EXPECT_EQ(to_float(kernels::Half{0x7bff}), 65504.0f);
  EXPECT_TRUE(std::isnan(kernels::to_float(kernels::to_bfloat16(NAN))));
  EXPECT_EQ(kernels::to_bfloat16(1.0f).bits, 0x3f80);
}

TEST(Tensor, PrintingLooksLikePyTorch) {
  EXPECT_EQ(Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}).str(), "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_EQ(Tensor::from_vector<float>({0.5f, -1.25f}, {2}).str(), "tensor([ 0.5000, -1.2500])");
  EXPECT_EQ(Tensor::from_vector<int64_t>({3, 10}, {2}).str(), "tensor([ 3, 10])");
  Tensor p = Tensor::from_vector<double>({1}, {1});
  p.set_requires_grad(true);
  EXPECT_EQ(p.str(), "tensor([1.], dtype=float64, requires_grad=True)");
  EXPECT_NE(Tensor::zeros({3000}).str().find("..."), std::string::npos);
}

TEST(Tensor, UndefinedTensorIsAnError) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.shape(), Error);
}

TEST(Device, ParseAndErrors) {
  EXPECT_TRUE(Device::parse("cpu").is_cpu());
  EXPECT_EQ(Device::parse("cuda:1").index, 1);
  EXPECT_THROW(Device::parse("gpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
}

TEST(Device, CudaCopiesRoundTrip) {
  if (cuda::device_count() == 0) {
    GTEST_SKIP() << (cuda::built_with_cuda() ? "skipped: no CUDA device is present"
                                             : "skipped: graft was built without CUDA");
  }
  Tensor host = iota({3, 4});
  Tensor device = host.to(Device::cuda(0));
  EXPECT_TRUE(device.device().is_cuda());
  EXPECT_EQ(device.to(Device::cpu()).to_vector<float>(), host.to_vector<float>());
  EXPECT_EQ(host.t().to(Device::cuda(0)).to(Device::cpu()).to_vector<float>(), host.t().contiguous().to_vector<float>());
}

TEST(Device, MissingCudaDeviceIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "skipped: a CUDA device is present";
  try {
    Tensor::zeros({2}, DType::f32, Device::cuda(0));
    FAIL() << "expected graft::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace graft
