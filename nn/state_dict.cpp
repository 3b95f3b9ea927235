// Module::state_dict and Module::load_state_dict, and the load report.
#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "kernels/cpu/parallel.h"
#include "nn/module.h"

namespace graft::nn {
namespace {

constexpr size_t kNamesShown = 5;

// "3 missing: a, b, c" with at most kNamesShown names and "(and N more)".
template <class Item, class Describe>
void describe_category(std::ostringstream& out, const std::vector<Item>& items, const char* what,
                       Describe&& describe) {
  if (items.empty()) return;
  if (out.tellp() > 0) out << "; ";
  out << items.size() << " " << what << ": ";
  for (size_t i = 0; i < items.size() && i < kNamesShown; ++i) out << (i ? ", " : "") << describe(items[i]);
  if (items.size() > kNamesShown) out << " (and " << items.size() - kNamesShown << " more)";
}

// A run of bytes to copy out of a source storage (Storage::read) into a destination.
struct ByteCopy {
  const Storage* source;
  size_t offset;
  size_t bytes;
  unsigned char* destination;
};

constexpr size_t kPieceBytes = size_t{1} << 20;

// Whether `source` goes into `destination` as raw bytes: both on the CPU, of one dtype, contiguous,
// in different storages. Then the source storage's read() does the copy, and for a checkpoint
// memory-mapped from a file that reads the file straight into the destination, without faulting
// the mapping in and copying again.
bool copies_as_bytes(const Tensor& destination, const Tensor& source) {
  return source.device().is_cpu() && destination.device().is_cpu() && source.dtype() == destination.dtype() &&
         source.is_contiguous() && destination.is_contiguous() && !source.same_storage(destination);
}

// Appends the copy of `source` into `destination`, cut into pieces of at most kPieceBytes.
void add_pieces(const Tensor& destination, const Tensor& source, std::vector<ByteCopy>& pieces) {
  const size_t element = dtype_size(source.dtype());
  const size_t offset = static_cast<size_t>(source.offset()) * element;
  const size_t bytes = static_cast<size_t>(source.numel()) * element;
  auto* out = static_cast<unsigned char*>(destination.raw_data());
  for (size_t done = 0; done < bytes; done += kPieceBytes) {
    pieces.push_back({source.storage().get(), offset + done, std::min(kPieceBytes, bytes - done), out + done});
  }
}

// Whether two pieces write to the same bytes (a tensor registered under two names): they must then
// run one after the other, in order, for a deterministic result.
bool destinations_overlap(const std::vector<ByteCopy>& pieces) {
  std::vector<std::pair<const unsigned char*, const unsigned char*>> ranges;
  for (const ByteCopy& p : pieces) ranges.emplace_back(p.destination, p.destination + p.bytes);
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return true;
  }
  return false;
}

// Runs the pieces on GRAFT_NUM_THREADS threads, each taking the next piece in order: together they
// still read a checkpoint file front to back (so the kernel's read-ahead keeps streaming it from
// disk), while bytes already in the page cache are copied by every core. The first error (a file
// cut short while loading) is rethrown.
void copy_pieces(const std::vector<ByteCopy>& pieces) {
  if (pieces.empty()) return;
  const int threads = destinations_overlap(pieces)
                          ? 1
                          : static_cast<int>(std::min<size_t>(kernels::cpu::num_threads(), pieces.size()));
  std::atomic<size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
#pragma omp parallel num_threads(threads) if (threads > 1)
  for (size_t k; (k = next.fetch_add(1)) < pieces.size();) {
    try {
      pieces[k].source->read(pieces[k].offset, pieces[k].bytes, pieces[k].destination);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = pieces.size();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

std::string LoadReport::str() const {
  std::ostringstream out;
  const auto name = [](const std::string& n) { return n; };
  describe_category(out, missing, "missing from the checkpoint", name);
  describe_category(out, unexpected, "unexpected in the checkpoint", name);
  describe_category(out, shape_mismatched, "with mismatched shapes", [](const ShapeMismatch& m) {
    return concat(m.name, " (model ", shape_str(m.expected), ", checkpoint ", shape_str(m.got), ")");
  });
  return ok() ? "all tensors matched" : out.str();
}

void Module::collect_state(const std::string& prefix, std::vector<StateEntry>& out) const {
  const auto full = [&](const std::string& name) { return prefix.empty() ? name : prefix + "." + name; };
  for (const auto& [name, p] : parameters_) out.push_back({full(name), p, false});
  for (const Buffer& b : buffers_) out.push_back({full(b.name), b.value, b.options.may_be_absent_from_checkpoints});
  for (const auto& [name, child] : children_) child->collect_state(full(name), out);
}

StateDict Module::state_dict() const {
  std::vector<StateEntry> entries;
  collect_state("", entries);
  StateDict out;
  out.reserve(entries.size());
  for (const StateEntry& e : entries) out.emplace_back(e.name, e.value.detach());
  return out;
}

StateDict Module::state_dict_copy() const {
  StateDict copy = state_dict();
  for (auto& entry : copy) entry.second = entry.second.clone();
  return copy;
}

LoadReport Module::load_state_dict(const StateDict& source, bool strict) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : source) {
    GRAFT_CHECK(given.emplace(name, &tensor).second, "load_state_dict: the checkpoint holds '", name, "' twice");
    GRAFT_CHECK(tensor.defined(), "load_state_dict: the checkpoint's tensor '", name, "' is undefined");
  }

  std::vector<StateEntry> targets;
  collect_state("", targets);
  LoadReport report;
  std::vector<std::pair<const Tensor*, const Tensor*>> copies;  // (destination, source)
  std::set<std::string> known;
  for (const StateEntry& target : targets) {
    known.insert(target.name);
    const auto it = given.find(target.name);
    if (it == given.end()) {
      if (!target.may_be_absent) report.missing.push_back(target.name);
    } else if (it->second->shape() != target.value.shape()) {
      report.shape_mismatched.push_back({target.name, target.value.shape(), it->second->shape()});
    } else {
      copies.emplace_back(&target.value, it->second);
    }
  }
  for (const auto& [name, tensor] : source) {
    if (!known.count(name)) report.unexpected.push_back(name);
  }

  GRAFT_CHECK(!strict || report.ok(), "load_state_dict: the checkpoint does not match the ", type_name(),
              " model: ", report.str(), ". Fix the model options (e.g. num_classes) or load with strict=false "
              "to copy only the matching tensors");
  // In the order the sources lie in memory: a memory-mapped checkpoint (whose records torch.save
  // orders by storage key as text, not in state-dict order) is then read front to back.
  std::stable_sort(copies.begin(), copies.end(), [](const auto& a, const auto& b) {
    return std::less<const void*>()(a.second->raw_data(), b.second->raw_data());
  });
  NoGradGuard no_grad;
  std::vector<ByteCopy> pieces;
  for (const auto& [destination, value] : copies) {
    if (copies_as_bytes(*destination, *value)) {
      add_pieces(*destination, *value, pieces);
    } else {
      destination->copy_(*value);
    }
  }
  copy_pieces(pieces);
  return report;
}

}  // namespace graft::nn
