#pragma once
// The Fashion-MNIST transfer demo: does a network pretrained on some classes help to learn other
// classes from few labels? Everything runs on the CPU in a few minutes.
//
//  1. Source task: the classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat). A small ResNet
//     (models/small_resnet.h) is trained on their training images and scored on their test images.
//  2. Target task: the classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), relabelled 0-4, with
//     only k labelled training images per class (a seeded choice; the sets are nested, the 10 are
//     the first 10 of the 50). Every model is scored on all the target test images.
//  3. Four strategies per k: training from scratch (random initialization, all trainable); a linear
//     probe on the pretrained backbone's features (extracted once per set); fine-tuning everything
//     from the pretrained weights with a new head; and fine-tuning with the stem and layer1 frozen
//     (weights and batch-norm statistics). The trained strategies share one step budget: about
//     max_steps optimizer steps, at most max_epochs passes over the k-shot set.
//
// Images are normalized with the mean and standard deviation of the whole training set; training
// images are flipped left-right at random. Same seed and thread count: the same numbers.
#include <cstdint>
#include <string>
#include <vector>

namespace graft::train {

struct TransferDemoOptions {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string model = "resnet8";  // a small model: models::small_names()
  uint64_t seed = 0;
  std::vector<int64_t> labels_per_class = {10, 50, 200};

  // Source pretraining: SGD with momentum 0.9 and a cosine schedule.
  int64_t pretrain_epochs = 2;
  int64_t pretrain_batch_size = 128;
  double pretrain_lr = 0.1;
  int64_t source_images = 0;  // 0: all 30,000; otherwise a seeded choice of this many
  int64_t test_images = 0;    // per task; 0: all 5,000, otherwise the first this many

  // Target training (scratch and both fine-tunings): SGD with momentum 0.9, cosine schedule.
  int64_t batch_size = 32;
  int64_t max_steps = 150;
  int64_t max_epochs = 30;
  double scratch_lr = 0.05;
  double finetune_lr = 0.05;  // pretrained layers and new head alike
  double weight_decay = 5e-4;
  int64_t probe_epochs = 100;      // linear probe: full-batch-ish SGD on cached features

  bool progress = true;  // progress bars while pretraining (stderr)
};

// Tiny sizes for tests and a first look: 1,500 source images for one epoch, 5 and 10 labels per
// class, 300 test images per task, 10 steps per target run. Seconds instead of minutes.
TransferDemoOptions quick_transfer_demo_options();

// The strategy names, in table order.
const std::vector<std::string>& transfer_strategies();

struct TransferDemoResult {
  TransferDemoOptions options;
  double pixel_mean = 0, pixel_std = 0;  // of the training images, used to normalize
  int64_t source_train_images = 0, target_test_images = 0;
  double source_test_top1 = 0;
  // top1[i][j]: target test accuracy with options.labels_per_class[i] labels per class and
  // transfer_strategies()[j]; steps[i][j] the optimizer steps it trained (probe: its epochs).
  std::vector<std::vector<double>> top1;
  std::vector<std::vector<int64_t>> steps;
  std::vector<std::pair<std::string, double>> phase_seconds;  // in order
  double total_seconds = 0;

  // Whether the best transfer strategy (probe or fine-tuning) beats training from scratch at
  // every label count up to `max_labels` per class (false when there is no such count).
  bool transfer_beats_scratch(int64_t max_labels) const;
};

// Runs the whole demo, printing each phase and its time to stdout. Errors: Fashion-MNIST missing
// (the message says how to install it), an unknown or non-small model, bad sizes, or more labels
// per class than the training set holds.
TransferDemoResult run_transfer_demo(const TransferDemoOptions& options);

// The results as a Markdown table: one row per label count, one column per strategy.
std::string format_results_table(const TransferDemoResult& result);

// Writes results.md (the table, source accuracy, settings and phase times), results.json and
// accuracy.svg (accuracy against labels per class, one line per strategy) into `out_dir`, creating
// it; each file is written atomically. Returns the paths written.
std::vector<std::string> write_transfer_demo_outputs(const TransferDemoResult& result, const std::string& out_dir);

}  // namespace graft::train
