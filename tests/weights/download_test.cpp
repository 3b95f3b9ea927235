#include "weights/download.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "core/error.h"
#include "weights/sha256.h"

namespace graft::weights {
namespace {

namespace fs = std::filesystem;

// A fresh GRAFT_HOME for one test, removed afterwards.
class CacheDir {
 public:
  CacheDir() : path_(fs::temp_directory_path() / ("graft_home_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    fs::create_directories(path_);
    ::setenv("GRAFT_HOME", path_.c_str(), 1);
    ::setenv("GRAFT_QUIET", "1", 1);
  }
  ~CacheDir() {
    ::unsetenv("GRAFT_HOME");
    fs::remove_all(path_);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

bool has_curl() { return std::system("curl --version >/dev/null 2>&1") == 0; }

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  if (fs::exists(dir)) {
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  }
  return names;
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million.data(), million.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Registry, CoversThirteenModelsWithConsistentNames) {
  EXPECT_EQ(published_weights().size(), 13u);
  for (const auto& w : published_weights()) {
    EXPECT_EQ(w.file, w.model + "-" + w.sha256_prefix + ".pth");
    EXPECT_EQ(w.url.substr(w.url.size() - w.file.size()), w.file);
    EXPECT_GT(w.top1, 60);
    EXPECT_GT(w.top5, w.top1);
  }
  EXPECT_EQ(published_weights_for("resnet18").file, "resnet18-f37072fd.pth");
  testing::expect_error([] { published_weights_for("alexnet"); }, "alexnet", "resnet18");
  EXPECT_EQ(imagenet_class_names().size(), 1000u);
  EXPECT_EQ(imagenet_class_names()[0], "tench");
  EXPECT_EQ(imagenet_class_names()[999], "toilet tissue");
}

TEST(Download, FileUrlIsVerifiedAndCached) {
  if (!has_curl()) GTEST_SKIP() << "skipped: curl is not installed";
  CacheDir home;
  const std::string payload = "pretend checkpoint bytes";
  const std::string source = write_file(home.path() / "source.bin", payload);
  PublishedWeights w = published_weights_for("resnet18");
  w.sha256_prefix = sha256_hex(payload.data(), payload.size()).substr(0, 8);
  const std::string path = fetch(w, "file://" + source, true);
  EXPECT_EQ(path, (home.path() / "weights" / w.file).string());
  std::ifstream in(path, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), payload);
  fs::remove(source);
  EXPECT_EQ(fetch(w, "file://" + source, true), path);  // cached: no second download
}

TEST(Download, ChecksumMismatchLeavesNothingBehind) {
  if (!has_curl()) GTEST_SKIP() << "skipped: curl is not installed";
  CacheDir home;
  const std::string source = write_file(home.path() / "source.bin", "tampered bytes");
  const PublishedWeights& w = published_weights_for("resnet18");
  testing::expect_error([&] { fetch(w, "file://" + source, true); }, "checksum mismatch", "put it at");
  EXPECT_TRUE(files_in(home.path() / "weights").empty());
}

TEST(Download, OfflineErrorSaysWhereToPutTheFile) {
  if (!has_curl()) GTEST_SKIP() << "skipped: curl is not installed";
  CacheDir home;
  const PublishedWeights& w = published_weights_for("vgg16");
  // Port 9 on loopback: nothing listens there, so the connection is refused at once.
  testing::expect_error([&] { fetch(w, "http://127.0.0.1:9/" + w.file, true); }, "could not download",
                        (home.path() / "weights" / w.file).string());
  EXPECT_TRUE(files_in(home.path() / "weights").empty());
}

TEST(Download, FromALoopbackHttpServer) {
  if (!has_curl()) GTEST_SKIP() << "skipped: curl is not installed";
  if (std::system("/usr/bin/python3 -c 'import http.server' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "skipped: /usr/bin/python3 is needed to serve files on loopback";
  }
  CacheDir home;
  const fs::path served = home.path() / "served";
  fs::create_directories(served);
  std::string payload(300000, 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7919 % 251);
  write_file(served / "model-abc.pth", payload);
  const int port = 20000 + ::getpid() % 20000;
  const pid_t server = fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    ::execl("/usr/bin/python3", "python3", "-m", "http.server", std::to_string(port).c_str(), "--bind", "127.0.0.1",
            "--directory", served.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  PublishedWeights w = published_weights_for("resnet50");
  w.sha256_prefix = sha256_hex(payload.data(), payload.size()).substr(0, 8);
  std::string path;
  for (int attempt = 0; attempt < 50 && path.empty(); ++attempt) {  // wait for the server to listen
    try {
      path = fetch(w, "http://127.0.0.1:" + std::to_string(port) + "/model-abc.pth", true);
    } catch (const Error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  ASSERT_FALSE(path.empty()) << "the loopback download never succeeded";
  EXPECT_EQ(sha256_file(path).substr(0, 8), w.sha256_prefix);
}

TEST(Verify, MatchesRegistryByFileName) {
  CacheDir home;
  const std::string path = write_file(home.path() / "resnet18-f37072fd.pth", "not the real file");
  const Verification v = verify(path);
  ASSERT_NE(v.known, nullptr);
  EXPECT_EQ(v.known->model, "resnet18");
  EXPECT_FALSE(v.matches);
  EXPECT_EQ(verify(write_file(home.path() / "other.pth", "x")).known, nullptr);
}

}  // namespace
}  // namespace graft::weights
