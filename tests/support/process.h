#pragma once
// Runs a shell command for a test: returns its exit code (128 + the signal's number when a signal
// killed it, -1 when it could not run) and appends its stdout and stderr to `output`.
#include <string>

namespace graft::testing {

int run_command(const std::string& command, std::string* output);

// The Python that runs the PyTorch oracle scripts: $GRAFT_TORCH_PYTHON when set (a machine whose
// torch lives in an environment of its own), else Debian's /usr/bin/python3 with python3-torch.
const std::string& oracle_python();

}  // namespace graft::testing
