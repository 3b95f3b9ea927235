#pragma once
// Reads PyTorch .pth checkpoints in the three layouts torch.save has written over the years:
//   zip     torch >= 1.6    <archive>/data.pkl plus one stored entry per storage, <archive>/data/<key>
//   legacy  torch 0.4-1.5   a stream of pickles after a magic number, then each storage's raw bytes
//   tar     torch <= 0.3    tar members sys_info, pickle, tensors and storages
// The pickles are read by a restricted unpickler (weights/pickle.h) that runs no code: a file that
// names anything besides OrderedDict, torch's tensor and parameter rebuild functions and its
// storage and tensor types is refused with an Error naming the global.
//
// The result is the saved object's tensors as an ordered list of (dotted name, Tensor). Nested
// dicts, lists and tuples are flattened with '.': {"model": {"fc.weight": t}} gives
// "model.fc.weight", {"w": [a, b]} gives "w.0" and "w.1", and a tensor saved on its own is named "".
// Values that are not tensors (epoch numbers, strings, None) are skipped. Picking the state dict
// out of a training checkpoint (the "state_dict." or "model." prefix) is the caller's business.
//
// The file is memory-mapped. A tensor aliases the mapping (copy-on-write: writing to it leaves the
// file intact) when its storage's bytes are aligned to the element size in the file, which
// torch.save's zip files always are (it aligns records to 64 bytes); otherwise it is copied.
// Loading reads only the headers and pickles; Module::load_state_dict then reads each tensor from
// the file straight into the model's own (weights/mapped_file.h), in one pass over the file.
// Tensors that shared a storage in PyTorch share one graft Storage and keep their strides and
// storage offsets. Storages of int32, int16, int8, uint8 and bool, which graft has no dtype for,
// are widened to int64 (values unchanged); TensorInfo reports the dtype in the file.
// requires_grad is not restored: which parameters train is the model's business.
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace graft {

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in the saved object's order
  std::string layout;                                   // "zip", "legacy" or "tar"

  // The tensor called `name`; an Error listing a few available names when absent.
  const Tensor& at(const std::string& name) const;
};

// Errors name the file and say what is wrong: not a checkpoint, truncated (and where), a refused
// global, a malformed pickle or archive, an unsupported dtype.
Checkpoint load_pth(const std::string& path);

struct TensorInfo {
  std::string name;
  std::string dtype;  // torch's name for the type in the file: "float32", "int64", "uint8", ...
  Shape shape;
  Shape strides;
  int64_t storage_offset = 0;
  bool complete = false;  // the file holds all of this tensor's storage
};

struct Inspection {
  std::string layout;               // "zip", "legacy" or "tar"; empty when the file is none of them
  std::vector<TensorInfo> tensors;  // every tensor whose metadata could be read, in order
  std::string error;                // why load_pth would fail; empty when it would succeed
};

// Reads a checkpoint's metadata without building tensors. Never throws: on a damaged or truncated
// file it lists every tensor it could read and puts the reason in `error`.
Inspection inspect_pth(const std::string& path) noexcept;

// True when the file starts like one of the three layouts (a zip or tar archive, or the legacy
// magic number). Reads only the first bytes; never throws.
bool looks_like_pth(const std::string& path) noexcept;

}  // namespace graft
