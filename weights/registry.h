#pragma once
// The published torchvision ImageNet weights (IMAGENET1K_V1) for graft's 13 models: where they
// live, their checksums, their reported accuracy and the preprocessing they expect.
#include <array>
#include <string>
#include <vector>

namespace graft::weights {

struct Preprocessing {
  int resize = 256;  // shorter side, bilinear with antialiasing
  int crop = 224;    // center crop
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
};

struct PublishedWeights {
  std::string model;          // graft/torchvision model name, e.g. "resnet50"
  std::string file;           // file name, e.g. "resnet50-0676ba61.pth"
  std::string url;
  std::string sha256_prefix;  // the hex digits after the dash in the file name
  double top1 = 0, top5 = 0;  // ImageNet-1k validation accuracy reported by torchvision (%)
  Preprocessing preprocessing;
  int num_classes = 1000;
};

const std::vector<PublishedWeights>& published_weights();
// The entry for `model`; an Error lists the known names.
const PublishedWeights& published_weights_for(const std::string& model);
// The entry whose file name is `file` (as it appears in a path), or null.
const PublishedWeights* published_weights_by_file(const std::string& file);

// The 1000 ImageNet-1k class names in index order.
const std::vector<std::string>& imagenet_class_names();

}  // namespace graft::weights
