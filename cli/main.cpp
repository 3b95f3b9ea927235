// graft: the command-line tool. Each subcommand lives in its own file under cli/.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "kernels/gemm.h"

namespace {

const std::vector<graft::cli::Command>& commands() {
  static const std::vector<graft::cli::Command> list = {
      {"selftest", "train a small CNN on Fashion-MNIST with graft's own kernels and check it learns",
       graft::cli::run_selftest},
      {"transfer-demo", "Fashion-MNIST transfer from few labels: scratch vs linear probe vs fine-tuning",
       graft::cli::run_transfer_demo},
      {"finetune", "train a model on your images: new head, freezing, optimizers, schedules, checkpoints",
       graft::cli::run_finetune},
      {"eval", "accuracy, per-class accuracy and confusion matrix of a classifier on labelled images",
       graft::cli::run_eval},
      {"features", "extract penultimate-layer features of a dataset to a file (for linear probes)",
       graft::cli::run_features},
      {"predict", "classify images with a model and its weights (top-k classes)", graft::cli::run_predict},
      {"inspect", "show a model's layers, or the tensors of a checkpoint file", graft::cli::run_inspect},
      {"convert", "rewrite a .pth checkpoint as .safetensors", graft::cli::run_convert},
      {"weights", "list, fetch and verify the published ImageNet weights", graft::cli::run_weights},
  };
  return list;
}

void usage(FILE* out) {
  std::fprintf(out, "usage: graft <command> [options]\n\ncommands:\n");
  for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'graft <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  try {
    graft::kernels::cpu::check_cpu_isa_environment();
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "graft: error: %s\n", e.what());
    return 2;
  }
  for (const auto& command : commands()) {
    if (name != command.name) continue;
    try {
      return command.run(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const graft::Error& e) {
      std::fprintf(stderr, "graft %s: error: %s\n", name.c_str(), e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "graft %s: internal error: %s\n", name.c_str(), e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "graft: unknown command '%s'; run 'graft --help' for the list\n", name.c_str());
  return 2;
}
