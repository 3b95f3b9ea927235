#pragma once
// safetensors: graft's own checkpoint format (and Hugging Face's). Layout: an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
// {string: string}}, then the raw little-endian tensor bytes.
// Reading memory-maps the file (copy-on-write): tensors alias the mapping, nothing is copied;
// Module::load_state_dict then reads them from the file straight into the model's tensors.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace graft::safetensors {

struct File {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;

  // The tensor called `name`; an Error listing a few available names when absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
};

// Errors name the file and say what is wrong (truncated, bad header, offsets out of range, ...).
File read(const std::string& path);

// Writes atomically: to a temporary file beside `path`, then renamed over it.
void write(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
           const std::map<std::string, std::string>& metadata = {});

}  // namespace graft::safetensors
