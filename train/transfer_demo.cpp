#include "train/transfer_demo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <tuple>

#include "core/error.h"
#include "core/rng.h"
#include "data/augment.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/tensor_dataset.h"
#include "models/registry.h"
#include "nn/freeze.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/param_groups.h"
#include "train/evaluate.h"
#include "train/features.h"
#include "train/svg_plot.h"
#include "train/trainer.h"
#include "weights/json.h"

namespace graft::train {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kSourceClasses(kFashionClasses.begin(), kFashionClasses.begin() + 5);
const std::vector<std::string> kTargetClasses(kFashionClasses.begin() + 5, kFashionClasses.end());
constexpr int64_t kTargetFirstLabel = 5;
constexpr int64_t kImagesPerTrainClass = 6000;
constexpr const char* kFrozenPrefix = "conv1.*,bn1.*,layer1.*";

// Titles for tables and the chart, in transfer_strategies() order.
const std::vector<std::string> kStrategyTitles = {"from scratch", "linear probe", "fine-tune all",
                                                  "fine-tune, stem+layer1 frozen"};
enum Strategy { kScratch = 0, kLinearProbe = 1, kFinetuneAll = 2, kFinetuneFrozen = 3 };

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The seed for one purpose of one run: distinct purposes draw independent streams.
uint64_t seed_for(uint64_t seed, uint64_t purpose) { return seed * 1000003 + purpose; }

struct Images {
  Tensor images;  // float32 [N, 1, 28, 28]
  Tensor labels;  // int64 [N]
};

// The samples `indices` of `all`, copied, with `label_offset` subtracted from their labels.
Images take(const Images& all, const std::vector<int64_t>& indices, int64_t label_offset) {
  Shape shape = all.images.shape();
  shape[0] = static_cast<int64_t>(indices.size());
  Images out{Tensor::empty(shape), Tensor::empty({shape[0]}, DType::i64)};
  const int64_t row = all.images.numel() / all.images.size(0);
  const float* from = all.images.data<float>();
  float* to = out.images.data<float>();
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(to + static_cast<int64_t>(i) * row, from + indices[i] * row, row * sizeof(float));
    out.labels.data<int64_t>()[i] = all.labels.data<int64_t>()[indices[i]] - label_offset;
  }
  return out;
}

// Indices of the samples whose label lies in [first, last], in file order.
std::vector<int64_t> indices_of_labels(const Tensor& labels, int64_t first, int64_t last) {
  std::vector<int64_t> out;
  const int64_t* l = labels.data<int64_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    if (l[i] >= first && l[i] <= last) out.push_back(i);
  }
  return out;
}

std::vector<int64_t> first_n(std::vector<int64_t> v, int64_t n) {
  if (n > 0 && n < static_cast<int64_t>(v.size())) v.resize(static_cast<size_t>(n));
  return v;
}

// Mean and standard deviation of every pixel of `images`.
std::pair<double, double> pixel_statistics(const Tensor& images) {
  const float* x = images.data<float>();
  double sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < images.numel(); ++i) {
    sum += x[i];
    sum_sq += static_cast<double>(x[i]) * x[i];
  }
  const double n = static_cast<double>(images.numel());
  const double mean = sum / n;
  return {mean, std::sqrt(std::max(sum_sq / n - mean * mean, 0.0))};
}

void normalize_in_place(Tensor& images, double mean, double std) {
  float* x = images.data<float>();
  const auto m = static_cast<float>(mean), inv = static_cast<float>(1.0 / std);
  for (int64_t i = 0; i < images.numel(); ++i) x[i] = (x[i] - m) * inv;
}

std::shared_ptr<const data::Dataset> dataset(const Images& images, const std::vector<std::string>& classes,
                                             bool augment) {
  data::TensorTransform flip = [](const Tensor& image, Generator& rng) {
    return data::random_horizontal_flip(image, rng);
  };
  return std::make_shared<data::TensorDataset>(images.images, images.labels, classes,
                                               augment ? flip : data::TensorTransform{});
}

// In-memory images need no worker threads: samples are built inside next().
std::unique_ptr<data::Loader> loader(std::shared_ptr<const data::Dataset> set, int64_t batch_size, bool shuffle,
                                     uint64_t seed) {
  return std::make_unique<data::Loader>(
      std::move(set), data::LoaderOptions{.batch_size = batch_size, .shuffle = shuffle, .workers = 0, .seed = seed});
}

// Weight decay spares biases and batch-norm weights.
nn::ParamGroupOptions param_groups(double lr, double weight_decay) {
  nn::ParamGroupOptions groups;
  groups.lr = lr;
  groups.weight_decay = weight_decay;
  groups.no_decay_bn_and_bias = true;
  return groups;
}

// Fits `model` with SGD (momentum 0.9) and a cosine schedule for `epochs`; returns the steps taken.
int64_t fit(nn::Module& model, const nn::ParamGroupOptions& groups, data::Loader& train_loader, int64_t epochs,
            bool progress) {
  nn::Sgd optimizer(nn::make_param_groups(model, groups), {.momentum = 0.9});
  const auto schedule = nn::make_schedule("cosine", optimizer, train_loader.batches_per_epoch(), epochs);
  TrainOptions train_options;
  train_options.epochs = epochs;
  train_options.progress = progress;
  Trainer trainer(model, optimizer, schedule.get(), train_options);
  trainer.fit(train_loader, nullptr);
  return epochs * train_loader.batches_per_epoch();
}

// The pretrained weights without the head: what every transfer strategy starts from.
nn::StateDict backbone_state(const nn::Module& model) {
  nn::StateDict state;
  for (const auto& [name, tensor] : model.state_dict()) {
    if (name.rfind("fc.", 0) != 0) state.emplace_back(name, tensor.clone());
  }
  return state;
}

// A target model with the pretrained backbone and a freshly initialized head.
std::shared_ptr<nn::Module> pretrained_model(const TransferDemoOptions& options, const nn::StateDict& backbone,
                                             Generator& generator) {
  auto model = models::create(options.model, {.num_classes = 5, .in_channels = 1, .generator = &generator});
  const nn::LoadReport report = model->load_state_dict(backbone, /*strict=*/false);
  GRAFT_CHECK(report.unexpected.empty() && report.shape_mismatched.empty() && report.missing.size() == 2,
              "transfer demo: the pretrained backbone does not fit the target model: ", report.str());
  return model;
}

void check_options(const TransferDemoOptions& o) {
  const auto& small = models::small_names();
  GRAFT_CHECK(std::find(small.begin(), small.end(), o.model) != small.end(), "transfer demo: model '", o.model,
              "' is not one of the small models (resnet8, resnet20) that take 28x28 grayscale images");
  GRAFT_CHECK(!o.labels_per_class.empty(), "transfer demo: give at least one label count per class (--labels 10,50)");
  for (const int64_t k : o.labels_per_class) {
    GRAFT_CHECK(k >= 1 && k <= kImagesPerTrainClass, "transfer demo: ", k,
                " labels per class is outside 1..6000 (Fashion-MNIST has 6,000 training images per class)");
  }
  GRAFT_CHECK(o.pretrain_epochs >= 1 && o.pretrain_batch_size >= 1 && o.batch_size >= 1 && o.max_steps >= 1 &&
                  o.max_epochs >= 1 && o.probe_epochs >= 1,
              "transfer demo: epochs, steps and batch sizes must be positive");
  GRAFT_CHECK(o.source_images >= 0 && o.source_images <= 5 * kImagesPerTrainClass && o.test_images >= 0,
              "transfer demo: source images must be in 0..30000 (0: all) and test images >= 0 (0: all)");
  GRAFT_CHECK(o.pretrain_lr > 0 && o.scratch_lr > 0 && o.finetune_lr > 0 &&
                  o.weight_decay >= 0,
              "transfer demo: learning rates must be positive and weight decay not negative");
}

void print_flush(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100 * fraction);
  return text;
}

std::string number(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    GRAFT_CHECK(!out.fail(), "cannot write ", temporary, "; check that the folder is writable");
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  GRAFT_CHECK(!error, "cannot move ", temporary, " to ", path, ": ", error.message());
}

std::string json_string_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json::quote(items[i]);
  return out + "]";
}

}  // namespace

TransferDemoOptions quick_transfer_demo_options() {
  TransferDemoOptions o;
  o.labels_per_class = {5, 10};
  o.pretrain_epochs = 1;
  o.pretrain_batch_size = 50;
  o.pretrain_lr = 0.05;
  o.source_images = 1500;
  o.test_images = 300;
  o.max_steps = 10;
  o.max_epochs = 10;
  o.probe_epochs = 50;
  return o;
}

const std::vector<std::string>& transfer_strategies() {
  static const std::vector<std::string> ids = {"scratch", "linear_probe", "finetune_all", "finetune_frozen"};
  return ids;
}

bool TransferDemoResult::transfer_beats_scratch(int64_t max_labels) const {
  bool any = false;
  for (size_t i = 0; i < options.labels_per_class.size(); ++i) {
    if (options.labels_per_class[i] > max_labels) continue;
    any = true;
    const double best_transfer = std::max({top1[i][kLinearProbe], top1[i][kFinetuneAll], top1[i][kFinetuneFrozen]});
    if (!(best_transfer > top1[i][kScratch])) return false;
  }
  return any;
}

TransferDemoResult run_transfer_demo(const TransferDemoOptions& options) {
  check_options(options);
  const auto run_start = Clock::now();
  TransferDemoResult result;
  result.options = options;
  auto phase_start = Clock::now();
  const auto end_phase = [&](const std::string& name) {
    const double seconds = seconds_since(phase_start);
    result.phase_seconds.emplace_back(name, seconds);
    print_flush("[" + name + ": " + number(seconds, 1) + " s]\n\n");
    phase_start = Clock::now();
  };

  // ---- data
  const std::string dir = options.data_dir;
  GRAFT_CHECK(std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"), "Fashion-MNIST was not found in ", dir,
              "; install it with 'apt-get install dataset-fashion-mnist' or pass --data DIR");
  Images train{data::read_idx_images(dir + "/train-images-idx3-ubyte.gz"),
               data::read_idx_labels(dir + "/train-labels-idx1-ubyte.gz")};
  Images test{data::read_idx_images(dir + "/t10k-images-idx3-ubyte.gz"),
              data::read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz")};
  std::tie(result.pixel_mean, result.pixel_std) = pixel_statistics(train.images);
  normalize_in_place(train.images, result.pixel_mean, result.pixel_std);
  normalize_in_place(test.images, result.pixel_mean, result.pixel_std);

  std::vector<int64_t> source_indices = indices_of_labels(train.labels, 0, kTargetFirstLabel - 1);
  if (options.source_images > 0) {
    Generator pick(seed_for(options.seed, 1));
    const Tensor order = randperm(static_cast<int64_t>(source_indices.size()), pick);
    std::vector<int64_t> chosen;
    for (int64_t i = 0; i < options.source_images; ++i) chosen.push_back(source_indices[order.data<int64_t>()[i]]);
    std::sort(chosen.begin(), chosen.end());
    source_indices = chosen;
  }
  const Images source_train = take(train, source_indices, 0);
  const Images source_test =
      take(test, first_n(indices_of_labels(test.labels, 0, kTargetFirstLabel - 1), options.test_images), 0);
  const Images target_test =
      take(test, first_n(indices_of_labels(test.labels, kTargetFirstLabel, 9), options.test_images), kTargetFirstLabel);
  result.source_train_images = source_train.labels.numel();
  result.target_test_images = target_test.labels.numel();

  // The k-shot sets: per target class one seeded order of its training images; k labels per class
  // are the first k of it, so smaller sets are subsets of larger ones.
  std::vector<std::vector<int64_t>> class_orders;
  Generator pick(seed_for(options.seed, 2));
  for (int64_t c = kTargetFirstLabel; c < 10; ++c) {
    const std::vector<int64_t> members = indices_of_labels(train.labels, c, c);
    const Tensor order = randperm(static_cast<int64_t>(members.size()), pick);
    std::vector<int64_t> shuffled;
    for (int64_t i = 0; i < order.numel(); ++i) shuffled.push_back(members[order.data<int64_t>()[i]]);
    class_orders.push_back(std::move(shuffled));
  }
  print_flush("Fashion-MNIST: pixel mean " + number(result.pixel_mean, 4) + ", std " + number(result.pixel_std, 4) +
              "; source task (classes 0-4): " + std::to_string(result.source_train_images) + " training, " +
              std::to_string(source_test.labels.numel()) + " test images; target task (classes 5-9): " +
              std::to_string(result.target_test_images) + " test images\n");
  end_phase("load data");

  // ---- source pretraining
  Generator init(seed_for(options.seed, 10));
  auto source_model = models::create(options.model, {.num_classes = 5, .in_channels = 1, .generator = &init});
  auto source_loader = loader(dataset(source_train, kSourceClasses, true), options.pretrain_batch_size, true,
                              seed_for(options.seed, 11));
  print_flush("pretraining " + options.model + " on the source task: " + std::to_string(options.pretrain_epochs) +
              " epochs of " + std::to_string(source_loader->batches_per_epoch()) + " steps (batch " +
              std::to_string(options.pretrain_batch_size) + ")\n");
  fit(*source_model, param_groups(options.pretrain_lr, options.weight_decay), *source_loader,
      options.pretrain_epochs, options.progress);
  auto source_test_loader = loader(dataset(source_test, kSourceClasses, false), 500, false, 0);
  result.source_test_top1 = evaluate(*source_model, *source_test_loader).top1();
  print_flush("source task test top-1: " + percent(result.source_test_top1) + "\n");
  const nn::StateDict backbone = backbone_state(*source_model);
  end_phase("pretrain on the source task");

  // ---- target task
  auto target_test_loader = loader(dataset(target_test, kTargetClasses, false), 500, false, 0);
  auto probe_backbone = models::create(options.model, {.headless = true, .in_channels = 1, .initialize = false});
  probe_backbone->load_state_dict(backbone, /*strict=*/true);
  const FeatureSet test_features = extract_features(*probe_backbone, *target_test_loader);

  for (const int64_t k : options.labels_per_class) {
    std::vector<int64_t> chosen;
    for (const auto& order : class_orders) chosen.insert(chosen.end(), order.begin(), order.begin() + k);
    const Images target_train = take(train, chosen, kTargetFirstLabel);
    const int64_t n = target_train.labels.numel();
    const uint64_t run_seed = seed_for(options.seed, 100 + static_cast<uint64_t>(k));
    auto train_loader = loader(dataset(target_train, kTargetClasses, true), std::min(options.batch_size, n), true, run_seed);
    const int64_t per_epoch = train_loader->batches_per_epoch();
    const int64_t epochs = std::clamp((options.max_steps + per_epoch - 1) / per_epoch, int64_t{1}, options.max_epochs);
    print_flush(std::to_string(k) + " labels per class (" + std::to_string(n) + " images): " + std::to_string(epochs) +
                " epochs of " + std::to_string(per_epoch) + " steps for the trained strategies\n");

    std::vector<double> row(transfer_strategies().size());
    std::vector<int64_t> steps(transfer_strategies().size());
    for (size_t s = 0; s < row.size(); ++s) {
      const auto start = Clock::now();
      Generator generator(seed_for(run_seed, 20 + s));
      if (s == kLinearProbe) {
        auto plain_loader = loader(dataset(target_train, kTargetClasses, false), 500, false, 0);
        const FeatureSet train_features = extract_features(*probe_backbone, *plain_loader);
        LinearProbeOptions probe_options;
        probe_options.epochs = options.probe_epochs;
        probe_options.weight_decay = options.weight_decay;
        probe_options.seed = run_seed;
        probe_options.progress = false;
        const LinearProbeResult probe = train_linear_probe(train_features, &test_features, probe_options);
        row[s] = probe.val_top1;
        steps[s] = options.probe_epochs * ((n + 255) / 256);
      } else {
        std::shared_ptr<nn::Module> model;
        if (s == kScratch) {
          model = models::create(options.model, {.num_classes = 5, .in_channels = 1, .generator = &generator});
        } else {
          model = pretrained_model(options, backbone, generator);
          if (s == kFinetuneFrozen) {
            nn::freeze(*model, {kFrozenPrefix});
            nn::freeze_bn_stats(*model);
          }
        }
        const double lr = s == kScratch ? options.scratch_lr : options.finetune_lr;
        steps[s] = fit(*model, param_groups(lr, options.weight_decay), *train_loader, epochs, false);
        row[s] = evaluate(*model, *target_test_loader).top1();
      }
      print_flush("  " + kStrategyTitles[s] + std::string(32 - kStrategyTitles[s].size(), ' ') +
                  std::to_string(steps[s]) + " steps  target test top-1 " + percent(row[s]) + "  (" +
                  number(seconds_since(start), 1) + " s)\n");
    }
    result.top1.push_back(row);
    result.steps.push_back(steps);
    end_phase("target task, " + std::to_string(k) + " labels per class");
  }
  result.total_seconds = seconds_since(run_start);
  return result;
}

std::string format_results_table(const TransferDemoResult& result) {
  std::string table = "| labels per class |";
  std::string rule = "|---:|";
  for (const std::string& title : kStrategyTitles) {
    table += " " + title + " |";
    rule += "---:|";
  }
  table += "\n" + rule + "\n";
  for (size_t i = 0; i < result.top1.size(); ++i) {
    const double best = *std::max_element(result.top1[i].begin(), result.top1[i].end());
    table += "| " + std::to_string(result.options.labels_per_class[i]) + " |";
    for (const double top1 : result.top1[i]) {
      const std::string cell = percent(top1);
      table += " " + (top1 == best ? "**" + cell + "**" : cell) + " |";
    }
    table += "\n";
  }
  return table;
}

std::vector<std::string> write_transfer_demo_outputs(const TransferDemoResult& result, const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(out_dir, error);
  GRAFT_CHECK(!error, "cannot create the output folder ", out_dir, ": ", error.message());
  const TransferDemoOptions& o = result.options;

  std::string md = "# Transfer on Fashion-MNIST\n\n";
  md += "Target test top-1 (classes " + kTargetClasses.front() + " ... " + kTargetClasses.back() + ", " +
        std::to_string(result.target_test_images) + " test images) of " + o.model + ", by labelled training images per "
        "class and strategy. The backbone was pretrained on the other five classes (" +
        std::to_string(result.source_train_images) + " images, " + std::to_string(o.pretrain_epochs) +
        " epochs): source test top-1 " + percent(result.source_test_top1) + ".\n\n";
  md += format_results_table(result) + "\n";
  md += "- from scratch: random initialization, every layer trained (lr " + number(o.scratch_lr, 3) + ")\n";
  md += "- linear probe: a linear classifier on the pretrained backbone's pooled features (" +
        std::to_string(o.probe_epochs) + " epochs)\n";
  md += "- fine-tune all: pretrained backbone and a new head, every layer trained (lr " +
        number(o.finetune_lr, 3) + ")\n";
  md += "- fine-tune, stem+layer1 frozen: the same with `" + std::string(kFrozenPrefix) +
        "` frozen, batch-norm statistics included\n\n";
  md += "Trained strategies: SGD with momentum 0.9, weight decay " + number(o.weight_decay, 4) +
        ", cosine schedule, batch " + std::to_string(o.batch_size) + ", about " + std::to_string(o.max_steps) +
        " steps and at most " + std::to_string(o.max_epochs) + " epochs; random horizontal flips. Seed " +
        std::to_string(o.seed) + ".\n\n";
  md += "| phase | seconds |\n|---|---:|\n";
  for (const auto& [name, seconds] : result.phase_seconds) md += "| " + name + " | " + number(seconds, 1) + " |\n";
  md += "| total | " + number(result.total_seconds, 1) + " |\n";

  std::string js = "{\n  \"dataset\": \"Fashion-MNIST\",\n  \"model\": " + json::quote(o.model) +
                   ",\n  \"seed\": " + std::to_string(o.seed) + ",\n  \"normalization\": {\"mean\": " +
                   number(result.pixel_mean, 6) + ", \"std\": " + number(result.pixel_std, 6) + "},\n";
  js += "  \"source\": {\"classes\": " + json_string_list(kSourceClasses) +
        ", \"train_images\": " + std::to_string(result.source_train_images) +
        ", \"epochs\": " + std::to_string(o.pretrain_epochs) + ", \"test_top1\": " + number(result.source_test_top1, 6) +
        "},\n";
  js += "  \"target\": {\"classes\": " + json_string_list(kTargetClasses) +
        ", \"test_images\": " + std::to_string(result.target_test_images) + "},\n";
  js += "  \"strategies\": " + json_string_list(transfer_strategies()) + ",\n  \"results\": [\n";
  for (size_t i = 0; i < result.top1.size(); ++i) {
    js += "    {\"labels_per_class\": " + std::to_string(o.labels_per_class[i]);
    for (size_t s = 0; s < transfer_strategies().size(); ++s) {
      js += ", " + json::quote(transfer_strategies()[s]) + ": {\"top1\": " + number(result.top1[i][s], 6) +
            ", \"steps\": " + std::to_string(result.steps[i][s]) + "}";
    }
    js += std::string("}") + (i + 1 < result.top1.size() ? "," : "") + "\n";
  }
  js += "  ],\n  \"phase_seconds\": {";
  for (size_t p = 0; p < result.phase_seconds.size(); ++p) {
    js += (p ? ", " : "") + json::quote(result.phase_seconds[p].first) + ": " + number(result.phase_seconds[p].second, 2);
  }
  js += "},\n  \"total_seconds\": " + number(result.total_seconds, 2) + "\n}\n";

  LineChart chart;
  chart.title = "Fashion-MNIST transfer: target test accuracy";
  chart.x_label = "labelled training images per class";
  chart.y_label = "top-1 accuracy";
  for (const int64_t k : o.labels_per_class) chart.x_categories.push_back(std::to_string(k));
  for (size_t s = 0; s < kStrategyTitles.size(); ++s) {
    ChartSeries series{kStrategyTitles[s], {}};
    for (const auto& row : result.top1) series.y.push_back(row[s]);
    chart.series.push_back(std::move(series));
  }

  const std::vector<std::string> paths = {out_dir + "/results.md", out_dir + "/results.json",
                                          out_dir + "/accuracy.svg"};
  write_file_atomically(paths[0], md);
  write_file_atomically(paths[1], js);
  write_file_atomically(paths[2], render_svg(chart));
  return paths;
}

}  // namespace graft::train
