#include "weights/registry.h"

#include "core/error.h"

namespace graft::weights {
namespace {

PublishedWeights entry(const char* model, const char* hash, double top1, double top5) {
  PublishedWeights w;
  w.model = model;
  w.sha256_prefix = hash;
  w.file = std::string(model) + "-" + hash + ".pth";
  w.url = "https://download.pytorch.org/models/" + w.file;
  w.top1 = top1;
  w.top5 = top5;
  return w;
}

}  // namespace

const std::vector<PublishedWeights>& published_weights() {
  // Several of these URLs still serve the 2017 files (tar layout), which graft reads too.
  static const std::vector<PublishedWeights> list = {
      entry("resnet18", "f37072fd", 69.758, 89.078),
      entry("resnet34", "b627a593", 73.314, 91.420),
      entry("resnet50", "0676ba61", 76.130, 92.862),
      entry("resnet101", "63fe2227", 77.374, 93.546),
      entry("resnet152", "394f9c45", 78.312, 94.046),
      entry("vgg11", "8a719046", 69.020, 88.628),
      entry("vgg13", "19584684", 69.928, 89.246),
      entry("vgg16", "397923af", 71.592, 90.382),
      entry("vgg19", "dcbb9e9d", 72.376, 90.876),
      entry("vgg11_bn", "6002323d", 70.370, 89.810),
      entry("vgg13_bn", "abd245e5", 71.586, 90.374),
      entry("vgg16_bn", "6c64b313", 73.360, 91.516),
      entry("vgg19_bn", "c79401a0", 74.218, 91.842),
  };
  return list;
}

const PublishedWeights& published_weights_for(const std::string& model) {
  std::string known;
  for (const PublishedWeights& w : published_weights()) {
    if (w.model == model) return w;
    known += (known.empty() ? "" : ", ") + w.model;
  }
  fail("no published ImageNet weights for '", model, "'; known models: ", known);
}

const PublishedWeights* published_weights_by_file(const std::string& file) {
  for (const PublishedWeights& w : published_weights()) {
    if (w.file == file) return &w;
  }
  return nullptr;
}

}  // namespace graft::weights
