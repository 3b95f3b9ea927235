// graft weights list | fetch NAME | verify FILE: the registry of published ImageNet weights and
// the local cache ($GRAFT_HOME/weights, default ~/.cache/graft/weights).
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "weights/download.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft weights list
       graft weights fetch NAME [--url URL]
       graft weights verify FILE

  list     the published torchvision ImageNet weights graft knows, with accuracy and cache state
  fetch    download NAME's weights into the cache (checksum verified; --url overrides the source)
  verify   compute FILE's SHA-256 and compare it with the published checksum of the same file name
)";

int list() {
  std::printf("%-10s %-24s %7s %7s  %s\n", "model", "file", "top-1", "top-5", "cached");
  for (const weights::PublishedWeights& w : weights::published_weights()) {
    const std::string path = weights::cached_path(w);
    std::printf("%-10s %-24s %6.2f%% %6.2f%%  %s\n", w.model.c_str(), w.file.c_str(), w.top1, w.top5,
                std::filesystem::exists(path) ? path.c_str() : "no");
  }
  return 0;
}

int verify(const std::string& path) {
  GRAFT_CHECK(std::filesystem::exists(path), path, ": no such file");
  const weights::Verification v = weights::verify(path);
  std::printf("%s  %s\n", v.sha256.c_str(), path.c_str());
  if (!v.known) {
    std::printf("not a published file name; nothing to compare with\n");
    return 0;
  }
  if (v.matches) {
    std::printf("ok: matches the published %s weights (prefix %s)\n", v.known->model.c_str(), v.known->sha256_prefix.c_str());
    return 0;
  }
  std::fprintf(stderr, "graft weights: error: %s does not match the published checksum prefix %s; the file is "
               "corrupt or incomplete, download it again\n", path.c_str(), v.known->sha256_prefix.c_str());
  return 1;
}

}  // namespace

int run_weights(const std::vector<std::string>& argv) {
  const Args args(argv, {"url"}, {"help"});
  const auto& pos = args.positional();
  if (args.flag("help") || pos.empty()) {
    std::fputs(kHelp, args.flag("help") ? stdout : stderr);
    return args.flag("help") ? 0 : 2;
  }
  const std::string& action = pos[0];
  if (action == "list" && pos.size() == 1) return list();
  if (action == "fetch" && pos.size() == 2) {
    std::printf("%s\n", weights::fetch(weights::published_weights_for(pos[1]), args.get("url", "")).c_str());
    return 0;
  }
  if (action == "verify" && pos.size() == 2) return verify(pos[1]);
  fail("unknown or incomplete subcommand '", action, "'; expected list, fetch NAME or verify FILE");
}

}  // namespace graft::cli
