// PyTorch-style printing: tensor([[...]], dtype=..., device=..., requires_grad=True).
// Large tensors show the first and last three entries of each dimension.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "core/autograd.h"
#include "core/tensor.h"

namespace graft {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Format {
  bool integer = true;     // every value is a whole number
  bool scientific = false;
  int width = 1;

  std::string operator()(double v) const {
    char buf[64];
    if (std::isnan(v) || std::isinf(v)) {
      std::snprintf(buf, sizeof buf, "%s", std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
    } else if (scientific) {
      std::snprintf(buf, sizeof buf, "%.4e", v);
    } else if (integer) {
      std::snprintf(buf, sizeof buf, "%.0f.", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return buf;
  }
};

Format choose_format(const std::vector<double>& values, bool is_int) {
  Format f;
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    f.integer = f.integer && v == std::round(v);
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  f.scientific = !is_int && !f.integer && (max_abs >= 1e8 || min_abs < 1e-4 || max_abs / min_abs > 1e3);
  for (double v : values) f.width = std::max<int>(f.width, static_cast<int>(f(v).size()));
  return f;
}

class Printer {
 public:
  Printer(const Tensor& t, std::ostream& out) : t_(t.detach().to(Device::cpu()).contiguous()), out_(out) {
    values_ = t_.to_vector<double>();
    summarize_ = t_.numel() > kSummarizeAbove;
    is_int_ = t_.dtype() == DType::i64;
    std::vector<double> shown;
    collect(0, 0, shown);
    format_ = choose_format(shown, is_int_);
  }

  void print(int indent) {
    if (t_.dim() == 0) {
      out_ << value(0);
      return;
    }
    print_dim(0, 0, indent);
  }

 private:
  bool skip(int64_t d, int64_t i) const {
    return summarize_ && t_.size(d) > 2 * kEdgeItems && i == kEdgeItems;
  }
  int64_t jump(int64_t d) const { return t_.size(d) - kEdgeItems; }

  void collect(int64_t d, int64_t base, std::vector<double>& shown) const {
    if (t_.dim() == 0) {
      shown.push_back(values_[0]);
      return;
    }
    for (int64_t i = 0; i < t_.size(d); ++i) {
      if (skip(d, i)) i = jump(d);
      const int64_t at = base + i * t_.strides()[d];
      if (d + 1 == t_.dim()) {
        shown.push_back(values_[at]);
      } else {
        collect(d + 1, at, shown);
      }
    }
  }

  std::string value(int64_t at) const {
    std::string s = format_(values_[at]);
    if (is_int_ && s.back() == '.') s.pop_back();
    return std::string(std::max<int>(0, format_.width - (is_int_ ? 1 : 0) - static_cast<int>(s.size())), ' ') + s;
  }

  void print_dim(int64_t d, int64_t base, int indent) {
    out_ << '[';
    for (int64_t i = 0; i < t_.size(d); ++i) {
      if (i > 0) {
        out_ << ',';
        if (d + 1 == t_.dim()) {
          out_ << ' ';
        } else {
          out_ << std::string(t_.dim() - d - 1, '\n') << std::string(indent + d + 1, ' ');
        }
      }
      if (skip(d, i)) {
        out_ << "...";
        i = jump(d) - 1;
        continue;
      }
      const int64_t at = base + i * t_.strides()[d];
      if (d + 1 == t_.dim()) {
        out_ << value(at);
      } else {
        print_dim(d + 1, at, indent);
      }
    }
    out_ << ']';
  }

  Tensor t_;
  std::ostream& out_;
  std::vector<double> values_;
  bool summarize_ = false, is_int_ = false;
  Format format_;
};

}  // namespace

std::string Tensor::str() const {
  std::ostringstream out;
  out << *this;
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "tensor(undefined)";
  out << "tensor(";
  Printer(t, out).print(7);
  if (t.numel() == 0) out << ", size=" << shape_str(t.shape());
  if (t.dtype() != DType::f32 && t.dtype() != DType::i64) out << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) out << ", device='" << t.device().str() << "'";
  if (t.grad_fn()) {
    out << ", grad_fn=<" << t.grad_fn()->name() << ">";
  } else if (t.requires_grad()) {
    out << ", requires_grad=True";
  }
  return out << ")";
}

}  // namespace graft
