#pragma once
// A whole file memory-mapped copy-on-write, as a CPU Storage: checkpoint tensors alias it, and
// writing to them changes private pages, never the file.
#include <memory>
#include <string>

#include "core/storage.h"

namespace graft::weights {

// Errors name the file: cannot open, not a regular file, cannot map.
std::shared_ptr<Storage> map_file(const std::string& path);

}  // namespace graft::weights
