// graft eval: accuracy of a trained classifier on a folder of class folders (or a CSV list):
// loss, top-1, top-5, per-class accuracy and the confusion matrix.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/data_setup.h"
#include "cli/model_setup.h"
#include "cli/training_data.h"
#include "train/evaluate.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft eval --model NAME --weights FILE --data DIR|CSV [options]

Evaluates a classifier on labelled images: DIR holds one sub-folder per class (DIR/val is used
when present), CSV lists path,label lines. The head must have one output per class.
  --batch-size N           (default 32)
  --workers N              decoding threads (default 2)
  --preprocess imagenet|none   resize 256 + center crop 224 (default), or images already at size
  --input-size N           the network's input size (default 224)
  --device cpu|cuda[:N]    where the model runs (default cpu)
  --bad-images error|skip  (default error)
  --json                   one JSON object with every number instead of the table
)";

}  // namespace

int run_eval(const std::vector<std::string>& argv) {
  const Args args(argv, {"model", "weights", "data", "batch-size", "workers", "preprocess", "input-size", "bad-images", "device"},
                  {"json", "help"});
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string model_name = args.get("model", ""), weights = args.get("weights", "");
  GRAFT_CHECK(!model_name.empty() && !weights.empty(), "--model and --weights are required; see --help");
  std::string source = args.get("data", "");
  GRAFT_CHECK(!source.empty(), "--data is required; see --help");
  if (std::filesystem::is_directory(std::filesystem::path(source) / "val")) source += "/val";
  const data::FileList files = read_file_list(source);
  const int64_t classes = static_cast<int64_t>(files.classes.size());
  const Device device = device_option(args);
  auto model = build_classifier(model_name, weights, classes, /*require_head=*/true);
  model->to(device);
  auto loader = make_eval_loader(files, args);
  const train::ClassificationMetrics metrics = train::evaluate(*model, *loader, device);
  if (args.flag("json")) {
    std::printf("{\"images\": %lld, \"loss\": %.9g, \"top1\": %.9g, \"top5\": %.9g, \"per_class\": [",
                static_cast<long long>(metrics.count()), metrics.loss(), metrics.top1(), metrics.top5());
    const auto accuracy = metrics.per_class_accuracy();
    for (size_t c = 0; c < accuracy.size(); ++c) {
      std::printf("%s%.9g", c ? ", " : "", std::isnan(accuracy[c]) ? -1.0 : accuracy[c]);
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("%s on %s: %lld images, loss %.4f, top-1 %.2f%%, top-5 %.2f%%\n%s", model_name.c_str(), source.c_str(),
              static_cast<long long>(metrics.count()), metrics.loss(), 100 * metrics.top1(), 100 * metrics.top5(),
              metrics.format(files.classes).c_str());
  return 0;
}

}  // namespace graft::cli
