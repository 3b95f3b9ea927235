#pragma once
// Reading a whole file in a test.
#include <fstream>
#include <iterator>
#include <string>

namespace graft::testing {

// The bytes of the file at `path`; empty when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace graft::testing
