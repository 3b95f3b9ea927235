#include "train/features.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "core/autograd.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "nn/linear.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"
#include "train/class_weights.h"
#include "train/metrics.h"
#include "weights/json.h"
#include "weights/safetensors.h"

namespace graft::train {
namespace {

std::string join_classes(const std::vector<std::string>& classes) {
  std::string text = "[";
  for (size_t i = 0; i < classes.size(); ++i) text += (i ? ", " : "") + json::quote(classes[i]);
  return text + "]";
}

// Rows of `x` ([N, ...], contiguous f32 or i64) in the order `order`.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& order) {
  const Tensor source = x.contiguous();
  Shape shape = source.shape();
  shape[0] = static_cast<int64_t>(order.size());
  Tensor out = Tensor::empty(shape, source.dtype());
  const size_t row_bytes = static_cast<size_t>(source.numel() / source.size(0)) * dtype_size(source.dtype());
  const char* from = static_cast<const char*>(source.raw_data());
  char* to = static_cast<char*>(out.raw_data());
  for (size_t i = 0; i < order.size(); ++i) std::memcpy(to + i * row_bytes, from + order[i] * row_bytes, row_bytes);
  return out;
}

ClassificationMetrics score(nn::Linear& head, const FeatureSet& set) {
  NoGradGuard no_grad;
  ClassificationMetrics metrics(static_cast<int64_t>(set.classes.size()));
  const Tensor logits = head(set.features);
  metrics.add(logits, set.labels, ops::cross_entropy(logits, set.labels).item());
  return metrics;
}

void check_set(const FeatureSet& set, const char* what) {
  GRAFT_CHECK(set.features.defined() && set.features.dim() == 2 && set.features.size(0) > 0,
              "linear probe: the ", what, " features must be a non-empty [N, F] tensor");
  GRAFT_CHECK(set.labels.dim() == 1 && set.labels.size(0) == set.features.size(0),
              "linear probe: the ", what, " labels must be [", set.features.size(0), "]");
  GRAFT_CHECK(!set.classes.empty(), "linear probe: the ", what, " features name no classes");
}

}  // namespace

FeatureSet extract_features(nn::Module& backbone, data::Loader& loader, Device device) {
  const bool was_training = backbone.is_training();
  backbone.eval();
  NoGradGuard no_grad;
  std::vector<Tensor> features, labels;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    features.push_back(backbone(batch->images.to(device)).flatten(1).to(Device::cpu()).contiguous());
    labels.push_back(batch->labels);
  }
  backbone.train(was_training);
  GRAFT_CHECK(!features.empty(), "no images to extract features from");
  return {ops::cat(features, 0), ops::cat(labels, 0), loader.dataset().classes()};
}

void save_features(const std::string& path, const std::vector<std::pair<std::string, FeatureSet>>& sets,
                   const std::string& description) {
  nn::StateDict tensors;
  std::map<std::string, std::string> metadata = {{"format", "graft features 1"}, {"description", description}};
  for (const auto& [name, set] : sets) {
    tensors.emplace_back(name + ".features", set.features);
    tensors.emplace_back(name + ".labels", set.labels);
    metadata[name + ".classes"] = join_classes(set.classes);
  }
  safetensors::write(path, tensors, metadata);
}

FeatureSet load_features(const std::string& path, const std::string& name) {
  const safetensors::File file = safetensors::read(path);
  auto classes = file.metadata.find(name + ".classes");
  if (classes == file.metadata.end() || !file.contains(name + ".features")) {
    std::string held;
    for (const auto& [key, value] : file.metadata) {
      if (key.size() > 8 && key.compare(key.size() - 8, 8, ".classes") == 0) held += " " + key.substr(0, key.size() - 8);
    }
    fail(path, ": holds no feature set '", name, "' (sets:", held.empty() ? " none" : held,
         "); write it with graft features");
  }
  FeatureSet set;
  set.features = file.at(name + ".features");
  set.labels = file.at(name + ".labels");
  const json::Value names = json::parse(classes->second);
  for (const json::Value& v : names.array("classes")) set.classes.push_back(v.string("class"));
  return set;
}

LinearProbeResult train_linear_probe(const FeatureSet& train, const FeatureSet* val,
                                     const LinearProbeOptions& options) {
  check_set(train, "training");
  if (val) {
    check_set(*val, "validation");
    GRAFT_CHECK(val->features.size(1) == train.features.size(1) && val->classes == train.classes,
                "linear probe: validation features do not match the training ones (feature size or classes)");
  }
  GRAFT_CHECK(options.epochs > 0 && options.batch_size > 0, "linear probe: epochs and batch size must be positive");
  const int64_t n = train.features.size(0), classes = static_cast<int64_t>(train.classes.size());
  Generator generator(options.seed);
  nn::Linear head(train.features.size(1), classes, /*bias=*/true, generator);
  std::vector<nn::ParamGroup> groups(1);
  groups[0].name = "head";
  groups[0].params = {{"weight", head.weight()}, {"bias", head.bias()}};
  groups[0].lr = options.lr;
  groups[0].weight_decay = options.weight_decay;
  nn::Sgd optimizer(groups, {.momentum = options.momentum});
  const int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  auto schedule = nn::make_schedule("cosine", optimizer, steps_per_epoch, options.epochs);
  std::ofstream metrics;
  if (!options.metrics_path.empty()) {
    metrics.open(options.metrics_path, std::ios::trunc);
    GRAFT_CHECK(metrics.good(), "cannot write the metrics file ", options.metrics_path);
  }

  const Tensor features = train.features.to(DType::f32).contiguous();
  const Tensor class_weights = class_weight_tensor(options.class_weights, classes, Device::cpu(), "the linear probe");
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const std::vector<int64_t> order = randperm(n, generator).to_vector<int64_t>();
    const Tensor x = gather_rows(features, order), y = gather_rows(train.labels, order);
    double loss_sum = 0;
    for (int64_t start = 0; start < n; start += options.batch_size) {
      const int64_t end = std::min(n, start + options.batch_size);
      const Tensor logits = head(x.slice(0, start, end)), labels = y.slice(0, start, end);
      const Tensor loss = training_loss(logits, labels, class_weights, 0.0);
      const double value = loss.item();
      loss_sum += value * (end - start);
      optimizer.zero_grad();
      loss.backward();
      if (metrics.is_open()) {
        char line[160];
        std::snprintf(line, sizeof line, "{\"step\": %lld, \"epoch\": %lld, \"loss\": %.9g, \"lr\": %.9g}\n",
                      static_cast<long long>(++step), static_cast<long long>(epoch), value, optimizer.groups()[0].lr);
        metrics << line;
      }
      optimizer.step();
      schedule->on_step();
    }
    schedule->on_epoch_end(loss_sum / n);
    if (options.progress && (epoch % std::max<int64_t>(1, options.epochs / 10) == 0 || epoch == options.epochs)) {
      std::fprintf(stderr, "linear probe epoch %lld/%lld: train loss %.4f\n", static_cast<long long>(epoch),
                   static_cast<long long>(options.epochs), loss_sum / n);
    }
  }
  LinearProbeResult result;
  result.weight = head.weight().detach();
  result.bias = head.bias().detach();
  result.train_top1 = score(head, train).top1();
  if (val) {
    const ClassificationMetrics m = score(head, *val);
    result.val_top1 = m.top1();
    result.val_top5 = m.top5();
  }
  return result;
}

}  // namespace graft::train
