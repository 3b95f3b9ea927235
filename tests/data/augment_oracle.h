#pragma once
// Runs tests/oracle/augment_reference.py (torchvision and PIL, with oracle_python()) for the data
// pipeline tests: jobs evaluated on PIL images, and ImageFolder listings.
#include <fstream>
#include <string>
#include <vector>

#include "tests/data/image_oracle.h"

namespace graft::testing {

inline std::string augment_reference_command(const std::string& arguments) {
  return oracle_python() + " " + GRAFT_SOURCE_DIR + "/tests/oracle/augment_reference.py " + arguments;
}

// Evaluates the jobs (see the script's `run`) in one Python process; on failure returns false with
// the script's output in `log`.
inline bool run_augment_reference(const std::vector<ReferenceJob>& jobs, const std::string& dir, std::string* log) {
  const std::string jobs_path = dir + "/augment_jobs.tsv";
  std::ofstream out(jobs_path);
  for (const auto& job : jobs) out << job.input << '\t' << job.expression << '\t' << job.output << '\n';
  out.close();
  return run_command(augment_reference_command("run " + jobs_path), log) == 0;
}

}  // namespace graft::testing
