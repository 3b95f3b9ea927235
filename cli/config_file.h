#pragma once
// Options from a config file. `--config FILE` names a JSON object whose keys are option names
// without dashes: {"model": "resnet18", "lr": 0.01, "freeze": "conv1.*,bn1.*", "no-shuffle": true}.
// Its entries count as if given before the command line, so flags typed on the command line win.
#include <string>
#include <vector>

namespace graft::cli {

// argv with every "--config FILE" (or "--config=FILE") replaced by the file's options, placed first.
std::vector<std::string> expand_config(const std::vector<std::string>& argv);

}  // namespace graft::cli
