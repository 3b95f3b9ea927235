#include "weights/download.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "weights/sha256.h"

extern char** environ;

namespace graft::weights {
namespace {

// Runs curl without a shell; returns its exit status (127 when curl cannot be started).
int run_curl(const std::string& url, const std::string& output, bool quiet) {
  std::vector<std::string> args = {"curl", "--fail", "--location", "--retry", "2", "--connect-timeout", "20",
                                   quiet ? "--silent" : "--progress-bar", "--output", output, url};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "curl", nullptr, nullptr, argv.data(), environ) != 0) return 127;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

std::string cache_dir() {
  if (const char* home = std::getenv("GRAFT_HOME"); home && *home) return home;
  const char* user_home = std::getenv("HOME");
  GRAFT_CHECK(user_home && *user_home, "neither GRAFT_HOME nor HOME is set; set GRAFT_HOME to a writable folder for the weights cache");
  return std::string(user_home) + "/.cache/graft";
}

std::string cached_path(const PublishedWeights& w) { return cache_dir() + "/weights/" + w.file; }

void download(const std::string& url, const std::string& destination, const std::string& sha256_prefix) {
  namespace fs = std::filesystem;
  const fs::path dest(destination);
  std::error_code ec;
  if (dest.has_parent_path()) fs::create_directories(dest.parent_path(), ec);
  GRAFT_CHECK(!ec, "cannot create the folder ", dest.parent_path().string(), ": ", ec.message(),
              "; set GRAFT_HOME to a writable folder");
  const std::string partial = destination + ".partial." + std::to_string(::getpid());
  const std::string by_hand = "; without network access, download " + url + " elsewhere and put it at " + destination;
  const int status = run_curl(url, partial, std::getenv("GRAFT_QUIET") != nullptr);
  if (status != 0) {
    std::remove(partial.c_str());
    GRAFT_CHECK(status != 127, "downloading ", url, " needs the curl program, which was not found (install curl)", by_hand);
    fail("could not download ", url, " (curl exit status ", status, ")", by_hand);
  }
  if (!sha256_prefix.empty()) {
    const std::string sum = sha256_file(partial);
    if (sum.rfind(sha256_prefix, 0) != 0) {
      std::remove(partial.c_str());
      fail("checksum mismatch for ", url, ": SHA-256 ", sum, " does not start with ", sha256_prefix,
           "; the download is corrupt or the file has changed. Nothing was kept", by_hand);
    }
  }
  fs::rename(partial, dest, ec);
  if (ec) {
    std::remove(partial.c_str());
    fail("could not move the download into place at ", destination, ": ", ec.message());
  }
}

std::string fetch(const PublishedWeights& w, const std::string& url_override, bool quiet) {
  const std::string path = cached_path(w);
  if (std::filesystem::exists(path)) return path;
  const std::string url = url_override.empty() ? w.url : url_override;
  if (!quiet) std::fprintf(stderr, "downloading %s to %s\n", url.c_str(), path.c_str());
  download(url, path, w.sha256_prefix);
  return path;
}

Verification verify(const std::string& path) {
  Verification v;
  v.sha256 = sha256_file(path);
  v.known = published_weights_by_file(std::filesystem::path(path).filename().string());
  v.matches = v.known && v.sha256.rfind(v.known->sha256_prefix, 0) == 0;
  return v;
}

}  // namespace graft::weights
