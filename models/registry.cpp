#include "models/registry.h"

#include <functional>
#include <utility>

#include "core/error.h"
#include "models/resnet.h"
#include "models/vgg.h"

namespace graft::models {
namespace {

using Factory = std::function<std::shared_ptr<nn::Module>(const ModelOptions&)>;

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> table = [] {
    std::vector<std::pair<std::string, Factory>> t;
    for (const int depth : {18, 34, 50, 101, 152}) {
      t.emplace_back("resnet" + std::to_string(depth),
                     [depth](const ModelOptions& o) { return std::make_shared<ResNet>(depth, o); });
    }
    for (const bool batch_norm : {false, true}) {
      for (const int depth : {11, 13, 16, 19}) {
        t.emplace_back("vgg" + std::to_string(depth) + (batch_norm ? "_bn" : ""),
                       [depth, batch_norm](const ModelOptions& o) { return std::make_shared<VGG>(depth, batch_norm, o); });
      }
    }
    return t;
  }();
  return table;
}

}  // namespace

const std::vector<std::string>& names() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> out;
    for (const auto& [name, factory] : factories()) out.push_back(name);
    return out;
  }();
  return list;
}

std::shared_ptr<nn::Module> create(const std::string& name, const ModelOptions& options) {
  std::string valid;
  for (const auto& [known, factory] : factories()) {
    if (known == name) return factory(options);
    valid += (valid.empty() ? "" : ", ") + known;
  }
  fail("unknown model '", name, "'; valid names: ", valid);
}

}  // namespace graft::models
