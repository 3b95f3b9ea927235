#pragma once
// Runs tests/oracle/optim_reference.py (torch.optim as the oracle) for the optimizer, schedule and
// clipping tests. Each case's inputs and metadata go to a safetensors file in a fresh directory
// under the build tree; one run of the script with oracle_python() handles all cases (importing
// torch takes seconds, so tests batch their cases), and what it wrote is returned, in order. A
// failed run is reported as a test failure and returns nothing.
#include <filesystem>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "weights/safetensors.h"

namespace graft::testing {

// A double as Python reads it back exactly.
inline std::string py(double value) {
  std::ostringstream out;
  out << std::setprecision(17) << value;
  return out.str();
}

struct OracleCase {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
};

inline std::optional<std::vector<safetensors::File>> run_optim_reference(const std::vector<OracleCase>& cases) {
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name() + "." + std::to_string(counter++);
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  const std::filesystem::path dir = std::filesystem::path(GRAFT_ORACLE_DIR) / name;
  std::filesystem::create_directories(dir);
  std::string command = oracle_python() + " " + std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/optim_reference.py";
  std::vector<std::string> outputs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string in = (dir / ("case" + std::to_string(i) + ".in.safetensors")).string();
    outputs.push_back((dir / ("case" + std::to_string(i) + ".torch.safetensors")).string());
    safetensors::write(in, cases[i].tensors, cases[i].metadata);
    command += " " + in + " " + outputs.back();
  }
  std::string log;
  if (run_command(command, &log) != 0) {
    ADD_FAILURE() << "optim_reference.py failed:\n" << log;
    return std::nullopt;
  }
  std::vector<safetensors::File> results;
  for (const std::string& path : outputs) results.push_back(safetensors::read(path));
  return results;
}

}  // namespace graft::testing
