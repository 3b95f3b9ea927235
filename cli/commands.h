#pragma once
// The graft command's subcommands: one file each under cli/.
#include <string>
#include <vector>

namespace graft::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

int run_selftest(const std::vector<std::string>& args);
int run_weights(const std::vector<std::string>& args);
int run_predict(const std::vector<std::string>& args);
int run_inspect(const std::vector<std::string>& args);
int run_convert(const std::vector<std::string>& args);
int run_finetune(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_features(const std::vector<std::string>& args);
int run_transfer_demo(const std::vector<std::string>& args);

}  // namespace graft::cli
