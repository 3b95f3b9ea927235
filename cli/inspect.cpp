// graft inspect MODEL|CHECKPOINT: a model's layer table (output shape, parameters, FLOPs,
// trainable) with its trainable and frozen totals, or the tensors of a .pth / .safetensors file,
// read without any model. --freeze previews what a fine-tuning freeze spec leaves trainable. A
// damaged file lists what could be read, then says what is wrong.
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "models/registry.h"
#include "nn/freeze.h"
#include "nn/summary.h"
#include "weights/json.h"
#include "weights/pth.h"
#include "weights/safetensors.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft inspect MODEL|FILE [--json] [--input-size N] [--num-classes N]
                     [--freeze SELECTORS] [--freeze-bn-stats] [--parameters]

MODEL (e.g. resnet50): a table of every layer with its output shape, parameters, FLOPs and
whether it trains, for one image of N x N pixels (default 224), then the trainable and frozen
parameter counts per top-level module.
  --freeze SELECTORS  freeze these parameters first, to preview a fine-tuning setup; comma-
                      separated globs over parameter names ("conv1.*,layer[12].*", "*.bias"),
                      "before:CHILD" (e.g. before:layer3) or "type:TYPE" (e.g. type:BatchNorm2d)
  --freeze-bn-stats   also freeze the running statistics of batch norms whose weight and bias
                      are frozen
  --parameters        list every parameter with its shape and whether it trains
FILE (.pth in any torch layout, or .safetensors): every tensor's name, dtype and shape.
  --json   machine-readable output
)";

std::string json_shape(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int inspect_model(const std::string& name, const Args& args) {
  const int64_t size = args.get_int("input-size", 224);
  GRAFT_CHECK(size >= 32, "--input-size must be at least 32, got ", size);
  auto model = models::create(name, {.num_classes = args.get_int("num-classes", 1000)});
  const std::string freeze_spec = args.get("freeze", "");
  if (!freeze_spec.empty()) nn::freeze(*model, {freeze_spec});
  const int64_t bn_stats_frozen = args.flag("freeze-bn-stats") ? nn::freeze_bn_stats(*model) : 0;
  const nn::ModelSummary summary = nn::summarize(*model, {1, 3, size, size});
  if (!args.flag("json")) {
    std::printf("%s\n%s%s", name.c_str(), summary.table().c_str(), nn::trainability_summary(*model).c_str());
    if (args.flag("parameters")) {
      for (const auto& [parameter, value] : model->named_parameters()) {
        std::printf("  %-48s %-20s %s\n", parameter.c_str(), shape_str(value.shape()).c_str(),
                    value.requires_grad() ? "trains" : "frozen");
      }
    }
    return 0;
  }
  std::printf("{\"model\": %s, \"input_shape\": %s, \"output_shape\": %s, \"parameters\": %lld, "
              "\"trainable_parameters\": %lld, \"frozen_parameters\": %lld, \"bn_stats_frozen\": %lld, "
              "\"flops\": %lld, \"named_parameters\": [",
              json::quote(name).c_str(), json_shape(summary.input_shape).c_str(),
              json_shape(summary.output_shape).c_str(), static_cast<long long>(summary.parameters),
              static_cast<long long>(summary.trainable_parameters),
              static_cast<long long>(summary.parameters - summary.trainable_parameters),
              static_cast<long long>(bn_stats_frozen), static_cast<long long>(summary.flops));
  const nn::NamedTensors parameters = model->named_parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto& [parameter, value] = parameters[i];
    std::printf("%s{\"name\": %s, \"shape\": %s, \"trainable\": %s}", i ? ", " : "", json::quote(parameter).c_str(),
                json_shape(value.shape()).c_str(), value.requires_grad() ? "true" : "false");
  }
  std::printf("], \"layers\": [");
  for (size_t i = 0; i < summary.layers.size(); ++i) {
    const nn::LayerSummary& l = summary.layers[i];
    std::printf("%s{\"name\": %s, \"type\": %s, \"output_shape\": %s, \"parameters\": %lld, \"flops\": %lld, "
                "\"trainable\": %s}",
                i ? ", " : "", json::quote(l.name).c_str(), json::quote(l.type).c_str(),
                json_shape(l.output_shape).c_str(), static_cast<long long>(l.parameters),
                static_cast<long long>(l.flops), l.trainable ? "true" : "false");
  }
  std::printf("]}\n");
  return 0;
}

struct Listing {
  std::string layout;
  std::vector<std::tuple<std::string, std::string, Shape>> tensors;  // name, dtype, shape
  std::string error;
};

Listing list_file(const std::string& path) {
  Listing listing;
  if (path.size() > 12 && path.substr(path.size() - 12) == ".safetensors") {
    listing.layout = "safetensors";
    try {
      for (const auto& [name, t] : safetensors::read(path).tensors) {
        listing.tensors.emplace_back(name, dtype_name(t.dtype()), t.shape());
      }
    } catch (const Error& e) {
      listing.error = e.what();
    }
    return listing;
  }
  const Inspection inspection = inspect_pth(path);
  listing.layout = inspection.layout;
  for (const TensorInfo& t : inspection.tensors) listing.tensors.emplace_back(t.name, t.dtype, t.shape);
  listing.error = inspection.error;
  return listing;
}

int inspect_file(const std::string& path, const Args& args) {
  GRAFT_CHECK(args.get("freeze", "").empty() && !args.flag("freeze-bn-stats") && !args.flag("parameters"),
              "--freeze, --freeze-bn-stats and --parameters apply to a model name (e.g. resnet50), not to a file");
  const Listing listing = list_file(path);
  if (args.flag("json")) {
    std::printf("{\"file\": %s, \"layout\": %s, \"tensors\": [", json::quote(path).c_str(), json::quote(listing.layout).c_str());
    for (size_t i = 0; i < listing.tensors.size(); ++i) {
      const auto& [name, dtype, shape] = listing.tensors[i];
      std::printf("%s{\"name\": %s, \"dtype\": %s, \"shape\": %s}", i ? ", " : "", json::quote(name).c_str(),
                  json::quote(dtype).c_str(), json_shape(shape).c_str());
    }
    std::printf("], \"error\": %s}\n", listing.error.empty() ? "null" : json::quote(listing.error).c_str());
  } else {
    int64_t elements = 0;
    std::printf("%s (%s layout, %zu tensors)\n", path.c_str(), listing.layout.empty() ? "unknown" : listing.layout.c_str(),
                listing.tensors.size());
    for (const auto& [name, dtype, shape] : listing.tensors) {
      std::printf("  %-48s %-9s %s\n", name.c_str(), dtype.c_str(), shape_str(shape).c_str());
      elements += shape_numel(shape);
    }
    std::printf("%lld elements\n", static_cast<long long>(elements));
  }
  if (!listing.error.empty()) {
    std::fprintf(stderr, "graft inspect: error: %s\n", listing.error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int run_inspect(const std::vector<std::string>& argv) {
  const Args args(argv, {"input-size", "num-classes", "freeze"}, {"json", "help", "freeze-bn-stats", "parameters"});
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  GRAFT_CHECK(args.positional().size() == 1, "expected one model name or checkpoint file; see --help");
  const std::string& target = args.positional()[0];
  for (const std::string& name : models::names()) {
    if (name == target) return inspect_model(target, args);
  }
  if (std::filesystem::exists(target)) return inspect_file(target, args);
  std::string known;
  for (const std::string& name : models::names()) known += (known.empty() ? "" : ", ") + name;
  fail("'", target, "' is neither a model (", known, ") nor an existing file");
}

}  // namespace graft::cli
