#include "data/dataset.h"

#include "core/error.h"

namespace graft::data {

std::string Dataset::describe(int64_t index) const { return "sample " + std::to_string(index); }

void Dataset::check_index(int64_t index, const char* op) const {
  GRAFT_CHECK(index >= 0 && index < size(), op, ": index ", index, " is out of range for a dataset of ", size(),
              " samples");
}

}  // namespace graft::data
