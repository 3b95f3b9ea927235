// graft convert IN.pth OUT.safetensors: rewrites a torch checkpoint (any layout) as safetensors,
// every tensor under its dotted name, written atomically.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "weights/pth.h"
#include "weights/safetensors.h"

namespace graft::cli {

int run_convert(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {"help"});
  if (args.flag("help")) {
    std::puts("usage: graft convert IN.pth OUT.safetensors\n\n"
              "Rewrites a PyTorch checkpoint (zip, legacy or tar layout) as a safetensors file.");
    return 0;
  }
  GRAFT_CHECK(args.positional().size() == 2, "expected IN.pth OUT.safetensors; see --help");
  const std::string& in = args.positional()[0];
  const std::string& out = args.positional()[1];
  const Checkpoint checkpoint = load_pth(in);
  GRAFT_CHECK(!checkpoint.tensors.empty(), in, " holds no tensors; nothing to convert");
  safetensors::write(out, checkpoint.tensors, {{"format", "pt"}, {"converted_from", in}, {"layout", checkpoint.layout}});
  std::printf("wrote %zu tensors from %s (%s layout) to %s\n", checkpoint.tensors.size(), in.c_str(),
              checkpoint.layout.c_str(), out.c_str());
  return 0;
}

}  // namespace graft::cli
