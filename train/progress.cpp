#include "train/progress.h"

#include <unistd.h>

#include <algorithm>

namespace graft::train {
namespace {

std::string clock_text(double seconds) {
  const long long s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  }
  return text;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled, FILE* out)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      terminal_(isatty(fileno(out)) != 0),
      out_(out),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int64_t images, double loss, double accuracy) {
  ++done_;
  images_ += images;
  loss_ = loss;
  accuracy_ = accuracy;
  if (!enabled_) return;
  if (terminal_) {
    draw(false);
    return;
  }
  const int64_t tenth = total_ > 0 ? done_ * 10 / total_ : done_ / 100;
  if (tenth != last_tenth_ && done_ != total_) {
    last_tenth_ = tenth;
    draw(false);
  }
}

void ProgressBar::finish() {
  if (enabled_) draw(true);
}

void ProgressBar::draw(bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? images_ / elapsed : 0;
  constexpr int kWidth = 24;
  std::string bar;
  if (total_ > 0) {
    const int filled = static_cast<int>(kWidth * std::min<int64_t>(done_, total_) / total_);
    bar = "[" + std::string(filled, '=') + std::string(kWidth - filled, ' ') + "] ";
  }
  std::string eta = final ? "took " + clock_text(elapsed) : "ETA ?";
  if (!final && total_ > 0 && done_ > 0) eta = "ETA " + clock_text(elapsed / done_ * (total_ - done_));
  std::fprintf(out_, "%s%s %s%lld/%lld  loss %.4f  acc %5.1f%%  %.1f img/s  %s%s", terminal_ ? "\r" : "",
               label_.c_str(), bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), loss_,
               100 * accuracy_, rate, eta.c_str(), terminal_ && !final ? "   " : "\n");
  std::fflush(out_);
}

}  // namespace graft::train
