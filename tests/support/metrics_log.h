#pragma once
// What the fine-tuning tests read from a metrics log (`graft finetune --metrics FILE`: one JSON
// object per line, for every step and every epoch).
#include <fstream>
#include <string>
#include <vector>

#include "weights/json.h"

namespace graft::testing {

// The loss of every step, in order.
inline std::vector<double> step_losses(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  std::vector<double> losses;
  for (std::string line; std::getline(in, line);) {
    const json::Value parsed = json::parse(line);
    const json::Object& entry = parsed.object("metrics line");
    if (entry.count("step")) losses.push_back(entry.at("loss").number("loss"));
  }
  return losses;
}

}  // namespace graft::testing
