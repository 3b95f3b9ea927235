#pragma once
// A model summary in the spirit of darknet's: one row per call of a leaf module (a module with no
// children), in execution order, with its output shape, parameter count, FLOPs and whether it
// trains. It runs one forward pass on zeros of the given input shape, in evaluation mode and
// without gradients (the model's modes are restored afterwards, running stats are untouched).
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace graft::nn {

struct LayerSummary {
  std::string name;  // dotted module name, e.g. "layer1.0.conv1"
  std::string type;  // e.g. "Conv2d"
  Shape output_shape;
  int64_t parameters = 0;  // of this layer (repeated on each call of a layer called twice)
  int64_t flops = 0;       // of this call; multiply-adds count 2
  bool trainable = false;  // some parameter of this layer requires grad
};

struct ModelSummary {
  Shape input_shape, output_shape;
  std::vector<LayerSummary> layers;
  int64_t parameters = 0;            // the whole model's, each counted once
  int64_t trainable_parameters = 0;  // those that require grad
  int64_t flops = 0;                 // sum over the rows

  // A fixed-width table with a totals line.
  std::string table() const;
};

ModelSummary summarize(Module& model, const Shape& input_shape);

}  // namespace graft::nn
