#include "nn/summary.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "core/autograd.h"

namespace graft::nn {
namespace {

// The device of the model's first parameter or buffer; the CPU for a model with neither.
Device model_device(const Module& model) {
  const std::vector<Tensor> parameters = model.parameters();
  if (!parameters.empty()) return parameters.front().device();
  const NamedTensors buffers = model.named_buffers();
  return buffers.empty() ? Device::cpu() : buffers.front().second.device();
}

// Puts every module in evaluation mode and restores each one's own mode when destroyed.
class EvalModeScope {
 public:
  explicit EvalModeScope(Module& model) {
    for (const auto& [name, module] : model.named_modules()) saved_.emplace_back(module, module->is_training());
    model.eval();
  }
  ~EvalModeScope() {
    // Pre-order: each module's own flag is set after its ancestors' recursive calls.
    for (const auto& [module, training] : saved_) module->train(training);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  std::vector<std::pair<Module*, bool>> saved_;
};

// 1234567 -> "1.23M"
std::string human(double value) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int unit = 0;
  while (value >= 1000.0 && unit < 4) {
    value /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f%s" : "%.2f%s", value, units[unit]);
  return text;
}

}  // namespace

ModelSummary summarize(Module& model, const Shape& input_shape) {
  ModelSummary summary;
  summary.input_shape = input_shape;
  summary.parameters = model.parameter_count();
  summary.trainable_parameters = model.parameter_count(true);

  std::map<const Module*, std::string> leaf_names;
  for (const auto& [name, module] : model.named_modules()) {
    if (module->named_children().empty()) leaf_names[module] = name.empty() ? module->type_name() : name;
  }
  const auto record = [&](const Module& module, const Tensor& input, const Tensor& output) {
    const auto leaf = leaf_names.find(&module);
    if (leaf == leaf_names.end()) return;
    LayerSummary row{.name = leaf->second,
                     .type = module.type_name(),
                     .output_shape = output.shape(),
                     .parameters = module.parameter_count(),
                     .flops = module.flops(input.shape(), output.shape()),
                     .trainable = module.parameter_count(true) > 0};
    summary.flops += row.flops;
    summary.layers.push_back(std::move(row));
  };

  EvalModeScope eval_mode(model);
  NoGradGuard no_grad;
  ForwardObserver observer(record);
  summary.output_shape = model(Tensor::zeros(input_shape, DType::f32, model_device(model))).shape();
  return summary;
}

std::string ModelSummary::table() const {
  std::ostringstream out;
  char line[256];
  const char* format = "%-28s %-18s %-20s %12s %10s %s\n";
  std::snprintf(line, sizeof line, format, "layer", "type", "output shape", "parameters", "FLOPs", "trains");
  out << line;
  for (const LayerSummary& row : layers) {
    const char* trains = row.parameters == 0 ? "-" : row.trainable ? "yes" : "no";
    std::snprintf(line, sizeof line, format, row.name.c_str(), row.type.c_str(), shape_str(row.output_shape).c_str(),
                  human(static_cast<double>(row.parameters)).c_str(), human(static_cast<double>(row.flops)).c_str(),
                  trains);
    out << line;
  }
  out << "input " << shape_str(input_shape) << " -> output " << shape_str(output_shape) << "; " << parameters
      << " parameters (" << trainable_parameters << " trainable), " << human(static_cast<double>(flops))
      << " FLOPs per forward pass\n";
  return out.str();
}

}  // namespace graft::nn
