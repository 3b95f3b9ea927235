#pragma once
// Runs a shell command for a test: returns its exit code (128 + the signal's number when a signal
// killed it, -1 when it could not run) and appends its stdout and stderr to `output`.
#include <string>

namespace graft::testing {

int run_command(const std::string& command, std::string* output);

}  // namespace graft::testing
