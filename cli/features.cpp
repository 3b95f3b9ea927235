// graft features: runs a model's backbone once over a dataset and stores the penultimate-layer
// features (the pooled output before the head) in a safetensors file, for `graft finetune
// --linear-probe --features FILE` or for the user's own analysis.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/data_setup.h"
#include "cli/model_setup.h"
#include "cli/training_data.h"
#include "train/features.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft features --model NAME --weights FILE|imagenet --data DIR|CSV --out FILE.safetensors

Extracts the features of every image (evaluation transform, no augmentation) into FILE: tensors
"train.features" [N, F] and "train.labels" [N], and "val.*" when there is validation data (DIR/val,
--val-data or --val-fraction), with the class names in the metadata.
  --val-data DIR|CSV   --val-fraction X (default 0: none)   --seed N (for the split)
  --batch-size N (default 32)   --workers N (default 2)   --preprocess imagenet|none   --input-size N
  --bad-images error|skip   --device cpu|cuda[:N] (where the backbone runs; default cpu)
)";

}  // namespace

int run_features(const std::vector<std::string>& argv) {
  const Args args(argv, {"model", "weights", "data", "val-data", "val-fraction", "seed", "out", "batch-size", "workers",
                         "preprocess", "input-size", "bad-images", "device"},
                  {"help"});
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string model_name = args.get("model", ""), out = args.get("out", "");
  GRAFT_CHECK(!model_name.empty() && !out.empty(), "--model and --out are required; see --help");
  const DataSplits splits = find_data(args.get("data", ""), args.get("val-data", ""),
                                      args.get_double("val-fraction", 0), static_cast<uint64_t>(args.get_int("seed", 0)));
  const Device device = device_option(args);
  auto backbone = build_backbone(model_name, args.get("weights", "imagenet"));
  backbone->to(device);
  std::vector<std::pair<std::string, train::FeatureSet>> sets;
  sets.emplace_back("train", train::extract_features(*backbone, *make_eval_loader(splits.train, args), device));
  if (!splits.val.files.empty()) {
    sets.emplace_back("val", train::extract_features(*backbone, *make_eval_loader(splits.val, args), device));
  }
  train::save_features(out, sets, model_name + " features of " + splits.description);
  for (const auto& [name, set] : sets) {
    std::printf("%s: %lld images x %lld features\n", name.c_str(), static_cast<long long>(set.features.size(0)),
                static_cast<long long>(set.features.size(1)));
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace graft::cli
