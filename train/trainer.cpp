#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/autograd.h"
#include "core/ops/ops.h"
#include "nn/optim/optimizer.h"
#include "train/checkpoint.h"
#include "train/class_weights.h"
#include "train/evaluate.h"
#include "train/progress.h"
#include "weights/json.h"
#include "weights/safetensors.h"

namespace graft::train {
namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

std::string number_list(const std::vector<double>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + number(values[i]);
  return out + "]";
}

class MetricsLog {
 public:
  MetricsLog(const std::string& path, bool append) {
    if (path.empty()) return;
    out_.open(path, append ? std::ios::app : std::ios::trunc);
    GRAFT_CHECK(out_.good(), "cannot write the metrics file ", path, "; check the folder exists and is writable");
  }
  void write(const std::string& line) {
    if (!out_.is_open()) return;
    out_ << line << '\n';
    out_.flush();
  }

 private:
  std::ofstream out_;
};

std::string step_line(int64_t step, int64_t epoch, double loss, const std::vector<nn::ParamGroup>& groups) {
  std::string line = "{\"step\": " + std::to_string(step) + ", \"epoch\": " + std::to_string(epoch) +
                     ", \"loss\": " + number(loss) + ", \"lr\": " + number(groups.front().lr);
  if (groups.size() > 1) {
    line += ", \"lr_groups\": {";
    for (size_t g = 0; g < groups.size(); ++g) {
      line += (g ? ", " : "") + json::quote(groups[g].name) + ": " + number(groups[g].lr);
    }
    line += "}";
  }
  return line + "}";
}

std::string epoch_line(const EpochSummary& e) {
  std::string line = "{\"epoch\": " + std::to_string(e.epoch) + ", \"train_loss\": " + number(e.train_loss) +
                     ", \"train_top1\": " + number(e.train_top1);
  if (e.val) {
    line += ", \"val_loss\": " + number(e.val->loss()) + ", \"val_top1\": " + number(e.val->top1()) +
            ", \"val_top5\": " + number(e.val->top5()) +
            ", \"val_per_class\": " + number_list(e.val->per_class_accuracy());
  }
  return line + ", \"seconds\": " + number(e.seconds) + ", \"images_per_second\": " + number(e.images_per_second) +
         "}";
}

std::vector<Tensor> trainable(const nn::Optimizer& optimizer) {
  std::vector<Tensor> params;
  for (const auto& group : optimizer.groups()) {
    for (const auto& entry : group.params) params.push_back(entry.second);
  }
  return params;
}

}  // namespace

int64_t optimizer_steps_per_epoch(int64_t batches, int64_t accumulate_batches) {
  return (batches + accumulate_batches - 1) / accumulate_batches;
}

Trainer::Trainer(nn::Module& model, nn::Optimizer& optimizer, nn::LrSchedule* schedule, TrainOptions options)
    : model_(model), optimizer_(optimizer), schedule_(schedule), options_(std::move(options)) {
  GRAFT_CHECK(options_.epochs > 0, "--epochs must be positive, got ", options_.epochs);
  GRAFT_CHECK(options_.clip_grad_norm >= 0, "--clip-grad-norm must not be negative");
  GRAFT_CHECK(options_.accumulate_batches >= 1, "--accumulate must be at least 1 (batches per optimizer step), got ",
              options_.accumulate_batches);
  GRAFT_CHECK(!options_.resume || !options_.output_dir.empty(),
              "--resume needs --output DIR: the folder of the run to continue");
}

FitResult Trainer::fit(data::Loader& train, data::Loader* val) {
  namespace fs = std::filesystem;
  const std::string last_path = options_.output_dir.empty() ? "" : options_.output_dir + "/last.safetensors";
  const std::string best_path = options_.output_dir.empty() ? "" : options_.output_dir + "/best.safetensors";
  if (!options_.output_dir.empty()) fs::create_directories(options_.output_dir);

  TrainingProgress progress;
  if (options_.resume) {
    progress = load_checkpoint(last_path, model_, optimizer_, schedule_);
    default_generator().set_state(progress.rng);
    std::fprintf(stderr, "resuming from %s after epoch %lld (step %lld)\n", last_path.c_str(),
                 static_cast<long long>(progress.epochs_done), static_cast<long long>(progress.steps_done));
  }
  MetricsLog log(options_.metrics_path, options_.resume);
  const std::vector<Tensor> params = trainable(optimizer_);
  const int64_t classes = static_cast<int64_t>(train.dataset().classes().size());
  const Tensor class_weights = class_weight_tensor(options_.class_weights, classes, options_.device, "the training loss");

  FitResult result;
  nn::StateDict best_state;
  for (int64_t epoch = progress.epochs_done + 1; epoch <= options_.epochs; ++epoch) {
    if (options_.early_stopping_patience > 0 &&
        progress.epochs_without_improvement >= options_.early_stopping_patience) {
      result.stopped_early = true;
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    model_.train();
    train.start_epoch(epoch - 1);
    ClassificationMetrics seen(classes);
    ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(options_.epochs),
                    train.batches_per_epoch(), options_.progress);
    // The batches of the current optimizer step: how many, how many are still to come, their loss.
    const int64_t batches = train.batches_per_epoch();
    int64_t batch_index = 0, group_size = 0, group_left = 0;
    double group_loss = 0;
    const auto optimizer_step = [&] {
      if (options_.clip_grad_norm > 0) nn::clip_grad_norm(params, options_.clip_grad_norm);
      ++progress.steps_done;
      log.write(step_line(progress.steps_done, epoch, group_loss, optimizer_.groups()));
      optimizer_.step();
      if (schedule_) schedule_->on_step();
    };
    while (auto batch = train.next()) {
      if (group_left == 0) {
        group_size = group_left = std::max<int64_t>(1, std::min(options_.accumulate_batches, batches - batch_index));
        group_loss = 0;
        optimizer_.zero_grad();
      }
      const Tensor images = batch->images.to(options_.device);
      const Tensor labels = batch->labels.to(options_.device);
      const Tensor logits = model_(images);
      GRAFT_CHECK(logits.dim() == 2 && logits.size(1) == classes, "the model gives ", shape_str(logits.shape()),
                  " logits but the data has ", classes, " classes; set the head's size (--num-classes) to match");
      const Tensor loss = training_loss(logits, labels, class_weights, options_.label_smoothing);
      const double loss_value = loss.item();
      GRAFT_CHECK(std::isfinite(loss_value), "the loss became ", loss_value, " at step ",
                  progress.steps_done + 1, " (epoch ", epoch, "); lower --lr or use --clip-grad-norm");
      (group_size == 1 ? loss : loss / static_cast<double>(group_size)).backward();
      group_loss += group_size == 1 ? loss_value : loss_value / static_cast<double>(group_size);
      ++batch_index;
      seen.add(logits.detach(), labels, loss_value);
      bar.update(images.size(0), seen.loss(), seen.top1());
      if (--group_left == 0) optimizer_step();
    }
    if (group_left > 0) optimizer_step();  // the loader gave fewer batches than it announced
    bar.finish();
    GRAFT_CHECK(seen.count() > 0, "epoch ", epoch, " had no training batches (", train.dataset().size(),
                " images, batch size and --drop-last leave none); lower --batch-size");

    EpochSummary summary;
    summary.epoch = epoch;
    summary.train_loss = seen.loss();
    summary.train_top1 = seen.top1();
    if (val) {
      summary.val = evaluate(model_, *val, options_.device);
      std::fprintf(stderr, "epoch %lld: val loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%lld images)\n",
                   static_cast<long long>(epoch), summary.val->loss(), 100 * summary.val->top1(),
                   100 * summary.val->top5(), static_cast<long long>(summary.val->count()));
      if (options_.print_confusion) std::fputs(summary.val->format(val->dataset().classes()).c_str(), stderr);
    }
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summary.images_per_second = seen.count() / summary.seconds;
    if (schedule_) schedule_->on_epoch_end(summary.val ? summary.val->loss() : summary.train_loss);
    log.write(epoch_line(summary));

    // The best epoch is judged by validation top-1, or by training top-1 without validation data.
    const double score = summary.val ? summary.val->top1() : summary.train_top1;
    if (score > progress.best_top1) {
      progress.best_top1 = score;
      progress.best_epoch = epoch;
      progress.epochs_without_improvement = 0;
      if (!best_path.empty()) safetensors::write(best_path, model_.state_dict(), {{"epoch", std::to_string(epoch)}});
      if (options_.restore_best) best_state = model_.state_dict_copy();
    } else {
      ++progress.epochs_without_improvement;
    }
    progress.epochs_done = epoch;
    progress.rng = default_generator().state();
    if (!last_path.empty()) save_checkpoint(last_path, model_, optimizer_, schedule_, progress);
    result.epochs.push_back(std::move(summary));
  }
  if (result.stopped_early) {
    std::fprintf(stderr, "early stopping: no better validation top-1 for %lld epochs (best %.2f%% at epoch %lld)\n",
                 static_cast<long long>(progress.epochs_without_improvement), 100 * progress.best_top1,
                 static_cast<long long>(progress.best_epoch));
  }
  if (options_.restore_best && progress.best_epoch > 0) {
    // A resumed run may have found its best epoch before the resume: then only the file has it.
    if (best_state.empty()) best_state = safetensors::read(best_path).tensors;
    model_.load_state_dict(best_state, /*strict=*/true);
    std::fprintf(stderr, "restored the weights of the best epoch (%lld)\n", static_cast<long long>(progress.best_epoch));
  }
  result.best_epoch = progress.best_epoch;
  result.best_top1 = progress.best_top1;
  return result;
}

}  // namespace graft::train
