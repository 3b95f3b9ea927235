#include "tests/support/process.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include <sys/wait.h>

namespace graft::testing {

int run_command(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output->append(buf.data(), n);
  const int status = ::pclose(pipe);
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const std::string& oracle_python() {
  static const std::string python = [] {
    const char* chosen = std::getenv("GRAFT_TORCH_PYTHON");
    return std::string(chosen && *chosen ? chosen : "/usr/bin/python3");
  }();
  return python;
}

}  // namespace graft::testing
