#include "cli/weights_file.h"

#include <filesystem>

#include "core/error.h"
#include "weights/download.h"
#include "weights/pth.h"
#include "weights/safetensors.h"

namespace graft::cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void strip_common_prefix(nn::StateDict& weights) {
  for (const std::string prefix : {"state_dict.", "model.", "module."}) {
    bool all = !weights.empty();
    for (const auto& entry : weights) all = all && entry.first.rfind(prefix, 0) == 0;
    if (!all) continue;
    for (auto& entry : weights) entry.first = entry.first.substr(prefix.size());
  }
}

}  // namespace

nn::StateDict read_weights(const std::string& source, const std::string& model) {
  std::string path = source;
  if (source == "imagenet") path = weights::fetch(weights::published_weights_for(model));
  GRAFT_CHECK(std::filesystem::exists(path), "weights file ", path,
              " does not exist; pass a .pth or .safetensors file, or 'imagenet' for the published weights");
  nn::StateDict tensors;
  if (ends_with(path, ".safetensors")) {
    tensors = safetensors::read(path).tensors;
  } else {
    tensors = load_pth(path).tensors;
  }
  strip_common_prefix(tensors);
  return tensors;
}

int64_t head_classes(const nn::StateDict& weights) {
  for (const auto& [name, tensor] : weights) {
    if ((name == "fc.weight" || name == "classifier.6.weight") && tensor.dim() == 2) return tensor.size(0);
  }
  return 0;
}

}  // namespace graft::cli
