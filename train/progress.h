#pragma once
// A one-line progress bar for training and evaluation: batches done, running loss and accuracy,
// images per second and the time left. On a terminal the line is redrawn in place; otherwise
// (logs, pipes) a line is printed at every tenth of the epoch, so logs stay short.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace graft::train {

class ProgressBar {
 public:
  // `label` prefixes the line ("epoch 3/10"); `total` is the number of batches (0 if unknown).
  ProgressBar(std::string label, int64_t total, bool enabled = true, FILE* out = stderr);
  // After each batch: its images, and the running mean loss and accuracy so far.
  void update(int64_t images, double loss, double accuracy);
  // Ends the line.
  void finish();

 private:
  void draw(bool final);

  std::string label_;
  int64_t total_, done_ = 0, images_ = 0;
  double loss_ = 0, accuracy_ = 0;
  bool enabled_, terminal_;
  int64_t last_tenth_ = -1;
  FILE* out_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace graft::train
