// graft finetune: trains a model (usually a pretrained one with a new head) on the user's images.
// The flow reads top to bottom: data, model and weights, freezing, optimizer and schedule, then
// either the training loop (train/trainer.h) or, with --linear-probe, a linear head trained on
// cached backbone features (train/features.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/data_setup.h"
#include "cli/model_setup.h"
#include "cli/training_data.h"
#include "core/rng.h"
#include "nn/freeze.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/param_groups.h"
#include "train/class_weights.h"
#include "train/features.h"
#include "train/lr_finder.h"
#include "train/trainer.h"
#include "weights/safetensors.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft finetune --model NAME --data DIR [options]

Fine-tunes a model on a folder of images (one sub-folder per class; DIR/train and DIR/val, or
one folder split by --val-fraction) or a CSV list of path,label lines.
 model and weights
  --model NAME            resnet18/34/50/101/152, vgg11/13/16/19, vgg11_bn/13_bn/16_bn/19_bn
  --weights FILE|imagenet|none
                          start from a .pth/.safetensors file, the published ImageNet weights, or
                          random initialization (default imagenet). A head with --num-classes
                          outputs is loaded too; otherwise the head is re-initialized.
  --num-classes N         must equal the number of class folders (checked); default: that number
 freezing
  --freeze SELECTORS      comma-separated: globs over parameter names ("conv1.*,bn1.*,layer1.*"),
                          "before:CHILD" (everything before e.g. layer3), "type:TYPE"
  --freeze-bn-stats       batch norms whose weight and bias are frozen keep their running
                          statistics (evaluation-mode normalization) while training
 optimization
  --optimizer sgd|adam|adamw   (default sgd)
  --lr X                  learning rate (default 0.01)
  --head-lr X             learning rate of the new head (default: --lr)
  --momentum X            SGD momentum (default 0.9); --nesterov for Nesterov momentum
  --weight-decay X        (default 0 for SGD/Adam, 0.01 for AdamW)
  --no-decay-bn-bias      exempt biases and batch-norm weights from weight decay
  --clip-grad-norm X      clip the global gradient norm to X
  --label-smoothing X     cross-entropy label smoothing (default 0)
  --class-weights balanced|W1,W2,...
                          weight each class's share of the training loss: balanced gives
                          n_images / (n_classes * n_images_of_class), or one weight per class in
                          class order (the validation loss stays unweighted)
  --schedule SPEC         constant (default), step:EPOCHS:GAMMA, multistep:E1,E2:GAMMA,
                          cosine[:ETA_MIN], onecycle[:MAX_LR_FACTOR[:lr-only]], plateau:PATIENCE:FACTOR
                          (onecycle also cycles the momentum 0.95 -> 0.85 -> 0.95 unless lr-only)
  --warmup-steps N        linear warmup over the first N steps
  --epochs N              (default 10)
  --batch-size N          (default 32)
  --accumulate N          add up the gradients of N batches before each optimizer step: an
                          effective batch of N x --batch-size in the memory of one (default 1)
  --drop-last             drop the last incomplete batch of each epoch
 data
  --val-data DIR|CSV      validation images (default DIR/val, or a split of --data)
  --val-fraction X        share of each class held out when there is no validation set (default 0.2; 0: none)
  --augment default|none  training augmentation: random resized crop + horizontal flip
                          (default), or none (the evaluation transform)
  --preprocess imagenet|none   resize 256 + center crop 224 (default), or images already at size
  --input-size N          the network's input size (default 224; imagenet preprocessing resizes to N/0.875)
  --no-shuffle            keep the file order in every epoch
  --workers N             decoding threads (default 2)
  --bad-images error|skip unreadable images stop the run (default) or are skipped with a warning
  --seed N                seeds initialization, shuffling, augmentation and the split (default 0)
  --device cpu|cuda
 output
  --metrics FILE.jsonl    one line per step {"step","epoch","loss","lr"} and per epoch (validation)
  --save FILE.safetensors final weights (every parameter and buffer, torchvision names)
  --output DIR            checkpoints: last.safetensors every epoch, best.safetensors (best val top-1)
  --resume                continue the run in --output DIR
  --early-stopping N      stop after N epochs without a better validation top-1
  --restore-best          finish with the best epoch's weights (for --save)
  --confusion             print the confusion matrix after each validation
  --quiet                 no progress bar
 learning-rate range test
  --lr-find               instead of training, raise the learning rate exponentially from 1e-7 to 10
                          over --lr-find-steps steps (default 100), stop when the loss diverges, and
                          suggest the rate where the smoothed loss fell fastest (with --head-lr the
                          groups keep their ratio; --metrics gets one line per step)
 linear probe
  --linear-probe          freeze the backbone, extract its features once, train only the head on them
  --features FILE         feature cache from graft features (read if present, else written)
  --config FILE.json      options as a JSON object {"lr": 0.01, ...}; command-line options win
)";

const std::set<std::string> kValued = {
    "model", "weights", "data", "val-data", "val-fraction", "num-classes", "freeze", "optimizer", "lr",
    "head-lr", "momentum", "weight-decay", "clip-grad-norm", "label-smoothing", "schedule", "warmup-steps",
    "epochs", "batch-size", "augment", "preprocess", "input-size", "workers", "bad-images", "seed", "device", "metrics",
    "save", "output", "early-stopping", "features", "class-weights", "accumulate", "lr-find-steps"};
const std::set<std::string> kFlags = {"freeze-bn-stats", "nesterov", "no-decay-bn-bias", "drop-last",
                                      "no-shuffle", "resume", "restore-best", "confusion", "quiet",
                                      "linear-probe", "lr-find", "help"};

std::unique_ptr<nn::Optimizer> make_optimizer(const Args& args, std::vector<nn::ParamGroup> groups) {
  const std::string name = args.get("optimizer", "sgd");
  if (name == "sgd") {
    return std::make_unique<nn::Sgd>(std::move(groups), nn::SgdOptions{.momentum = args.get_double("momentum", 0.9),
                                                                       .nesterov = args.flag("nesterov")});
  }
  if (name == "adam") return std::make_unique<nn::Adam>(std::move(groups));
  if (name == "adamw") return std::make_unique<nn::AdamW>(std::move(groups));
  fail("--optimizer must be sgd, adam or adamw, got '", name, "'");
}

void print_setup(nn::Module& model, const std::string& model_name, const DataSplits& splits) {
  std::fprintf(stderr, "model %s: %.2fM parameters, %.2fM trainable\n", model_name.c_str(),
               model.parameter_count() / 1e6, model.parameter_count(true) / 1e6);
  std::fprintf(stderr, "data %s: %zu training images, %zu validation images, %zu classes\n",
               splits.description.c_str(), splits.train.files.size(), splits.val.files.size(),
               splits.train.classes.size());
}

// The per-class weights --class-weights asks for (empty without it), printed with the class names.
std::vector<double> class_weights_option(const Args& args, const data::FileList& train) {
  const std::string spec = args.get("class-weights", "");
  if (spec.empty()) return {};
  std::vector<int64_t> labels;
  labels.reserve(train.files.size());
  for (const data::LabeledFile& file : train.files) labels.push_back(file.label);
  const std::vector<double> weights =
      train::parse_class_weights(spec, labels, static_cast<int64_t>(train.classes.size()));
  std::string listed;
  for (size_t c = 0; c < weights.size(); ++c) {
    char item[64];
    std::snprintf(item, sizeof item, "%.4g", weights[c]);
    listed += (c ? ", " : "") + train.classes[c] + " " + item;
  }
  std::fprintf(stderr, "class weights: %s\n", listed.c_str());
  return weights;
}

int run_lr_finder(const Args& args, nn::Module& model, nn::Optimizer& optimizer, data::Loader& loader, Device device,
                  const data::FileList& train) {
  train::LrFinderOptions options;
  options.steps = args.get_int("lr-find-steps", 100);
  options.device = device;
  options.label_smoothing = args.get_double("label-smoothing", 0);
  options.class_weights = class_weights_option(args, train);
  const train::LrFinderResult result = train::find_lr(model, optimizer, loader, options);
  const std::string metrics = args.get("metrics", "");
  if (!metrics.empty()) {
    std::ofstream out(metrics, std::ios::trunc);
    GRAFT_CHECK(out.good(), "cannot write the metrics file ", metrics);
    for (const train::LrFinderPoint& p : result.points) {
      char line[160];
      std::snprintf(line, sizeof line, "{\"lr\": %.9g, \"loss\": %.9g, \"smoothed\": %.9g}\n", p.lr, p.loss,
                    p.smoothed);
      out << line;
    }
  }
  std::printf("%12s %12s %12s\n", "lr", "loss", "smoothed");
  const size_t every = std::max<size_t>(1, result.points.size() / 20);
  for (size_t i = 0; i < result.points.size(); ++i) {
    if (i % every != 0 && i + 1 != result.points.size()) continue;
    const train::LrFinderPoint& p = result.points[i];
    std::printf("%12.3e %12.4f %12.4f\n", p.lr, p.loss, p.smoothed);
  }
  std::printf("%s after %zu steps\n", result.diverged ? "the loss diverged" : "reached the end of the range",
              result.points.size());
  if (result.suggested_lr > 0) {
    std::printf("suggested lr: %.3g (the steepest descent of the smoothed loss); train with --lr %.3g\n",
                result.suggested_lr, result.suggested_lr);
  } else {
    std::printf("no suggestion: too few steps before the loss diverged; lower the range's start or add steps\n");
  }
  return 0;
}

int run_linear_probe(const Args& args, const std::string& model_name, const std::string& weights,
                     const DataSplits& splits, nn::Module& classifier) {
  const std::string cache = args.get("features", "");
  train::FeatureSet train_set, val_set;
  const bool has_val = !splits.val.files.empty();
  if (!cache.empty() && std::filesystem::exists(cache)) {
    std::fprintf(stderr, "reading cached features from %s\n", cache.c_str());
    train_set = train::load_features(cache, "train");
    if (has_val) val_set = train::load_features(cache, "val");
  } else {
    const Device device = device_option(args);
    auto backbone = build_backbone(model_name, weights);
    backbone->to(device);
    auto train_loader = make_eval_loader(splits.train, args);
    train_set = train::extract_features(*backbone, *train_loader, device);
    if (has_val) val_set = train::extract_features(*backbone, *make_eval_loader(splits.val, args), device);
    if (!cache.empty()) {
      std::vector<std::pair<std::string, train::FeatureSet>> sets = {{"train", train_set}};
      if (has_val) sets.emplace_back("val", val_set);
      train::save_features(cache, sets, model_name + " features of " + splits.description);
      std::fprintf(stderr, "cached the features in %s\n", cache.c_str());
    }
  }
  GRAFT_CHECK(train_set.classes == splits.train.classes, "the cached features in ", cache,
              " were extracted for other classes; delete the file or pass another --features path");
  train::LinearProbeOptions options;
  options.epochs = args.get_int("epochs", 100);
  options.batch_size = args.get_int("batch-size", 256);
  options.lr = args.get_double("head-lr", args.get_double("lr", 0.1));
  options.momentum = args.get_double("momentum", 0.9);
  options.weight_decay = args.get_double("weight-decay", 0);
  options.seed = static_cast<uint64_t>(args.get_int("seed", 0));
  options.metrics_path = args.get("metrics", "");
  options.progress = !args.flag("quiet");
  options.class_weights = class_weights_option(args, splits.train);
  const train::LinearProbeResult result = train::train_linear_probe(train_set, has_val ? &val_set : nullptr, options);
  std::printf("linear probe: train top-1 %.2f%%", 100 * result.train_top1);
  if (has_val) std::printf(", val top-1 %.2f%%, top-5 %.2f%%", 100 * result.val_top1, 100 * result.val_top5);
  std::printf("\n");
  // The full classifier: the backbone's weights with the trained head.
  const std::string head = head_prefix(classifier);
  for (const auto& [name, tensor] : classifier.named_parameters()) {
    if (name == head + "weight") tensor.copy_(result.weight);
    if (name == head + "bias") tensor.copy_(result.bias);
  }
  return 0;
}

}  // namespace

int run_finetune(const std::vector<std::string>& argv) {
  const Args args(expand_config(argv), kValued, kFlags);
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  GRAFT_CHECK(args.positional().empty(), "unexpected argument '", args.positional().front(), "'; see --help");
  const std::string model_name = args.get("model", ""), weights = args.get("weights", "imagenet");
  GRAFT_CHECK(!model_name.empty(), "--model is required; see --help");
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 0));
  manual_seed(seed);

  const DataSplits splits =
      find_data(args.get("data", ""), args.get("val-data", ""), args.get_double("val-fraction", 0.2), seed);
  const int64_t classes = static_cast<int64_t>(splits.train.classes.size());
  const int64_t requested = args.get_int("num-classes", classes);
  GRAFT_CHECK(requested == classes, "--num-classes ", requested, " contradicts the data: ", splits.description,
              " has ", classes, " class folders; drop --num-classes or fix the folders");

  auto model = build_classifier(model_name, weights, classes);
  const Device device = device_option(args);
  const std::string head = head_prefix(*model);
  if (args.flag("linear-probe")) {
    GRAFT_CHECK(args.get("accumulate", "").empty() && !args.flag("lr-find"),
                "--accumulate and --lr-find apply to fine-tuning, not to --linear-probe (which trains the head on "
                "cached features in batches of --batch-size); drop them or --linear-probe");
    run_linear_probe(args, model_name, weights, splits, *model);
  } else {
    const std::string freeze = args.get("freeze", "");
    if (!freeze.empty()) {
      const auto frozen = nn::freeze(*model, {freeze});
      std::fprintf(stderr, "froze %zu parameter tensors (%s)\n", frozen.size(), freeze.c_str());
    }
    if (args.flag("freeze-bn-stats")) {
      std::fprintf(stderr, "froze the statistics of %lld batch norms\n",
                   static_cast<long long>(nn::freeze_bn_stats(*model)));
    }
    print_setup(*model, model_name, splits);
    model->to(device);

    const std::string optimizer_name = args.get("optimizer", "sgd");
    nn::ParamGroupOptions group_options;
    group_options.lr = args.get_double("lr", 0.01);
    if (!args.get("head-lr", "").empty()) group_options.head_lr = args.get_double("head-lr", 0);
    group_options.head_prefixes = {head};
    group_options.weight_decay = args.get_double("weight-decay", optimizer_name == "adamw" ? 0.01 : 0.0);
    group_options.no_decay_bn_and_bias = args.flag("no-decay-bn-bias");
    auto optimizer = make_optimizer(args, nn::make_param_groups(*model, group_options));

    auto train_loader = make_train_loader(splits.train, args);
    if (args.flag("lr-find")) return run_lr_finder(args, *model, *optimizer, *train_loader, device, splits.train);
    auto val_loader = splits.val.files.empty() ? nullptr : make_eval_loader(splits.val, args);
    const int64_t epochs = args.get_int("epochs", 10);
    const int64_t accumulate = args.get_int("accumulate", 1);
    GRAFT_CHECK(accumulate >= 1, "--accumulate must be at least 1 (batches per optimizer step), got ", accumulate);
    auto schedule = nn::make_schedule(args.get("schedule", "constant"), *optimizer,
                                      train::optimizer_steps_per_epoch(train_loader->batches_per_epoch(), accumulate),
                                      epochs, args.get_int("warmup-steps", 0));

    train::TrainOptions options;
    options.epochs = epochs;
    options.device = device;
    options.clip_grad_norm = args.get_double("clip-grad-norm", 0);
    options.label_smoothing = args.get_double("label-smoothing", 0);
    options.class_weights = class_weights_option(args, splits.train);
    options.accumulate_batches = accumulate;
    options.metrics_path = args.get("metrics", "");
    options.output_dir = args.get("output", "");
    options.resume = args.flag("resume");
    options.early_stopping_patience = args.get_int("early-stopping", 0);
    options.restore_best = args.flag("restore-best");
    options.progress = !args.flag("quiet");
    options.print_confusion = args.flag("confusion");
    train::Trainer trainer(*model, *optimizer, schedule.get(), options);
    const train::FitResult result = trainer.fit(*train_loader, val_loader.get());
    if (train_loader->skipped_images() > 0) {
      std::fprintf(stderr, "skipped %lld unreadable images\n", static_cast<long long>(train_loader->skipped_images()));
    }
    if (!result.epochs.empty()) {
      const train::EpochSummary& last = result.epochs.back();
      std::printf("epoch %lld: train loss %.4f, train top-1 %.2f%%", static_cast<long long>(last.epoch),
                  last.train_loss, 100 * last.train_top1);
      if (last.val) std::printf(", val top-1 %.2f%%, top-5 %.2f%%", 100 * last.val->top1(), 100 * last.val->top5());
      std::printf("\n");
    }
    if (result.best_epoch > 0) {
      std::printf("best epoch %lld: top-1 %.2f%%\n", static_cast<long long>(result.best_epoch), 100 * result.best_top1);
    }
  }
  const std::string save = args.get("save", "");
  if (!save.empty()) {
    model->to(Device::cpu());
    safetensors::write(save, model->state_dict(), {{"model", model_name}});
    std::fprintf(stderr, "saved the weights to %s\n", save.c_str());
  }
  return 0;
}

}  // namespace graft::cli
