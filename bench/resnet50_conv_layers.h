#pragma once
// Every distinct convolution shape of torchvision's ResNet-50 at a 224 x 224 input, named after the
// first module with that shape: the layer set of the conv2d benchmarks (bench_conv2d on the CPU,
// bench_cuda_conv2d against cuDNN). ResNet's convolutions have no bias.
#include <cstdint>

#include "kernels/conv2d.h"

namespace graft::bench {

struct ConvLayer {
  const char* name;
  int64_t in_channels, out_channels, kernel, stride, pad, in_size;
};

// clang-format off
inline constexpr ConvLayer kResNet50Layers[] = {
    {"conv1",                   3,   64, 7, 2, 3, 224},
    {"layer1.0.conv1",         64,   64, 1, 1, 0,  56},
    {"layer1.0.conv2",         64,   64, 3, 1, 1,  56},
    {"layer1.0.conv3",         64,  256, 1, 1, 0,  56},  // also layer1.0.downsample.0
    {"layer1.1.conv1",        256,   64, 1, 1, 0,  56},
    {"layer2.0.conv1",        256,  128, 1, 1, 0,  56},
    {"layer2.0.conv2",        128,  128, 3, 2, 1,  56},
    {"layer2.0.conv3",        128,  512, 1, 1, 0,  28},
    {"layer2.0.downsample.0", 256,  512, 1, 2, 0,  56},
    {"layer2.1.conv1",        512,  128, 1, 1, 0,  28},
    {"layer2.1.conv2",        128,  128, 3, 1, 1,  28},
    {"layer3.0.conv1",        512,  256, 1, 1, 0,  28},
    {"layer3.0.conv2",        256,  256, 3, 2, 1,  28},
    {"layer3.0.conv3",        256, 1024, 1, 1, 0,  14},
    {"layer3.0.downsample.0", 512, 1024, 1, 2, 0,  28},
    {"layer3.1.conv1",       1024,  256, 1, 1, 0,  14},
    {"layer3.1.conv2",        256,  256, 3, 1, 1,  14},
    {"layer4.0.conv1",       1024,  512, 1, 1, 0,  14},
    {"layer4.0.conv2",        512,  512, 3, 2, 1,  14},
    {"layer4.0.conv3",        512, 2048, 1, 1, 0,   7},
    {"layer4.0.downsample.0",1024, 2048, 1, 2, 0,  14},
    {"layer4.1.conv1",       2048,  512, 1, 1, 0,   7},
    {"layer4.1.conv2",        512,  512, 3, 1, 1,   7},
};
// clang-format on

inline kernels::Conv2dGeometry geometry(const ConvLayer& layer, int64_t batch) {
  kernels::Conv2dGeometry g;
  g.batch = batch;
  g.in_channels = layer.in_channels, g.out_channels = layer.out_channels;
  g.in_h = g.in_w = layer.in_size;
  g.kernel_h = g.kernel_w = layer.kernel;
  g.stride_h = g.stride_w = layer.stride;
  g.pad_h = g.pad_w = layer.pad;
  return g;
}

}  // namespace graft::bench
