#pragma once
// graft::Error is the one exception type for bad input: its message says what is wrong, where,
// and how to fix it. GRAFT_CHECK builds that message from any streamable parts.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace graft {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "[2, 3, 4]"
std::string shape_str(const std::vector<int64_t>& shape);

template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(concat(parts...));
}

}  // namespace graft

#define GRAFT_CHECK(condition, ...)                    \
  do {                                                 \
    if (!(condition)) ::graft::fail(__VA_ARGS__);      \
  } while (0)
