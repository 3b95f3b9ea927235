#include "models/registry.h"

#include <functional>
#include <utility>

#include "core/error.h"
#include "models/resnet.h"
#include "models/small_resnet.h"
#include "models/vgg.h"

namespace graft::models {
namespace {

using Factory = std::function<std::shared_ptr<nn::Module>(const ModelOptions&)>;
using FactoryTable = std::vector<std::pair<std::string, Factory>>;

// Rejects grayscale or multispectral inputs before building an ImageNet architecture, whose
// first convolution (and every published checkpoint) takes 3 channels.
Factory rgb_only(const std::string& name, Factory factory) {
  return [name, factory](const ModelOptions& o) {
    GRAFT_CHECK(o.in_channels == 3, name, ": in_channels must be 3 (ImageNet architectures take RGB), got ",
                o.in_channels, "; replicate grayscale images to 3 channels, or use a small model (",
                "resnet8, resnet20) that takes any number");
    return factory(o);
  };
}

const FactoryTable& imagenet_factories() {
  static const FactoryTable table = [] {
    FactoryTable t;
    for (const int depth : {18, 34, 50, 101, 152}) {
      const std::string name = "resnet" + std::to_string(depth);
      t.emplace_back(name, rgb_only(name, [depth](const ModelOptions& o) { return std::make_shared<ResNet>(depth, o); }));
    }
    for (const bool batch_norm : {false, true}) {
      for (const int depth : {11, 13, 16, 19}) {
        const std::string name = "vgg" + std::to_string(depth) + (batch_norm ? "_bn" : "");
        t.emplace_back(name, rgb_only(name, [depth, batch_norm](const ModelOptions& o) {
                         return std::make_shared<VGG>(depth, batch_norm, o);
                       }));
      }
    }
    return t;
  }();
  return table;
}

const FactoryTable& small_factories() {
  static const FactoryTable table = [] {
    FactoryTable t;
    for (const int depth : {8, 20}) {
      t.emplace_back("resnet" + std::to_string(depth),
                     [depth](const ModelOptions& o) { return std::make_shared<SmallResNet>(depth, o); });
    }
    return t;
  }();
  return table;
}

std::vector<std::string> names_of(const FactoryTable& table) {
  std::vector<std::string> out;
  for (const auto& [name, factory] : table) out.push_back(name);
  return out;
}

}  // namespace

const std::vector<std::string>& names() {
  static const std::vector<std::string> list = names_of(imagenet_factories());
  return list;
}

const std::vector<std::string>& small_names() {
  static const std::vector<std::string> list = names_of(small_factories());
  return list;
}

const std::vector<std::string>& all_names() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> out = names();
    out.insert(out.end(), small_names().begin(), small_names().end());
    return out;
  }();
  return list;
}

std::shared_ptr<nn::Module> create(const std::string& name, const ModelOptions& options) {
  for (const FactoryTable* table : {&imagenet_factories(), &small_factories()}) {
    for (const auto& [known, factory] : *table) {
      if (known == name) return factory(options);
    }
  }
  std::string valid;
  for (const std::string& known : all_names()) valid += (valid.empty() ? "" : ", ") + known;
  fail("unknown model '", name, "'; valid names: ", valid);
}

}  // namespace graft::models
