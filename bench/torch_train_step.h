// PyTorch eager's images/s for the training step graft's step benchmarks time, from
// bench/torch_train_step.py run right after graft's runs, with /usr/bin/python3 (Debian's torch) or
// the Python named by GRAFT_TORCH_PYTHON.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace graft::bench {

struct TorchStepRun {
  std::string device;  // "cpu" or "cuda"
  int64_t batch = 0;
  int steps = 0;
  int threads = 0;  // CPU threads; 0 leaves torch's default
};

// images/s per model name; a model is missing when PyTorch could not run it (the reason is on stderr).
inline std::map<std::string, double> torch_images_per_second(const TorchStepRun& run,
                                                             const std::vector<std::string>& models) {
  const char* python = std::getenv("GRAFT_TORCH_PYTHON");
  std::string command = std::string(python ? python : "/usr/bin/python3") + " " + GRAFT_SOURCE_DIR +
                        "/bench/torch_train_step.py --device " + run.device + " --batch " + std::to_string(run.batch) +
                        " --steps " + std::to_string(run.steps) + " --threads " + std::to_string(run.threads);
  for (const std::string& model : models) command += " " + model;
  std::map<std::string, double> result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  char name[64];
  double images_per_second = 0;
  while (std::fscanf(pipe, "%63s %lf", name, &images_per_second) == 2) result[name] = images_per_second;
  if (::pclose(pipe) != 0) std::fprintf(stderr, "PyTorch's training step did not run: %s\n", command.c_str());
  return result;
}

}  // namespace graft::bench
