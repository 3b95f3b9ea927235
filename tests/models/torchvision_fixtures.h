#pragma once
// Reference data from torchvision for the models tests, made by tests/oracle/torchvision_models.py
// with oracle_python():
//  - torchvision_spec(name): the state-dict names, dtypes and shapes of torchvision.models.<name>();
//  - parity_fixtures_dir(): random-weight checkpoints with inputs and outputs for all 13 models
//    (2.7 GB, written in about 40 s), or for the models named (the same values). They are made
//    once, by whichever test process asks first (under a file lock: ctest runs tests in parallel
//    processes), and kept in the build directory under a name that changes with the script's
//    contents.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "tests/support/files.h"
#include "tests/support/process.h"
#include "weights/json.h"

namespace graft::testing {

inline const std::string kModelsScript = std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/torchvision_models.py";

// Runs `command` through the shell; returns its exit status, with stdout in `output` and stderr
// in `errors`.
inline int run_capturing(const std::string& command, std::string* output, std::string* errors) {
  const std::filesystem::path stderr_path =
      std::filesystem::temp_directory_path() / ("graft_models_stderr." + std::to_string(::getpid()));
  FILE* pipe = ::popen((command + " 2>" + stderr_path.string()).c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output->append(buffer.data(), n);
  const int status = ::pclose(pipe);
  *errors = read_file(stderr_path.string());
  std::filesystem::remove(stderr_path);
  return status;
}

struct TensorSpec {
  std::string name;
  std::string dtype;  // torch's name, e.g. "float32"
  Shape shape;
  bool operator==(const TensorSpec&) const = default;
};

inline std::ostream& operator<<(std::ostream& out, const TensorSpec& spec) {
  return out << spec.name << " " << spec.dtype << " " << shape_str(spec.shape);
}

// torchvision's state dict for `model`, in order. Errors (a failing script) raise graft::Error.
inline std::vector<TensorSpec> torchvision_spec(const std::string& model) {
  std::string output, errors;
  const int status = run_capturing(testing::oracle_python() + " " + kModelsScript + " spec " + model, &output, &errors);
  GRAFT_CHECK(status == 0, "torchvision_models.py spec ", model, " failed: ", errors);
  const json::Value document = json::parse(output);
  std::vector<TensorSpec> spec;
  for (const json::Value& entry : document.array("spec")) {
    const json::Object& fields = entry.object("spec entry");
    TensorSpec tensor{fields.at("name").string("name"), fields.at("dtype").string("dtype"), {}};
    for (const json::Value& size : fields.at("shape").array("shape")) tensor.shape.push_back(size.integer("size"));
    spec.push_back(std::move(tensor));
  }
  return spec;
}

// FNV-1a of the script, so that editing it regenerates the fixtures.
inline std::string script_fingerprint() {
  const std::string text = read_file(kModelsScript);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  std::ostringstream hex;
  hex << std::hex << hash;
  return hex.str();
}

// Holds an exclusive lock on a file while alive.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    GRAFT_CHECK(fd_ >= 0, "cannot open the lock file ", path.string());
    ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// The folder holding the parity fixtures of `models` (all 13 when empty), made on first use.
// Errors raise graft::Error.
inline std::string parity_fixtures_dir(const std::vector<std::string>& models = {}) {
  namespace fs = std::filesystem;
  const fs::path root = GRAFT_ORACLE_DIR;
  fs::create_directories(root);
  const std::string prefix = "torchvision_models.";
  const std::string current = prefix + script_fingerprint();
  std::string name = current, arguments;
  for (const std::string& model : models) {
    name += "." + model;
    arguments += " " + model;
  }
  const fs::path dir = root / name;
  const FileLock lock(root / "torchvision_models.lock");
  if (fs::exists(dir / "complete")) return dir.string();

  // Fixtures of earlier versions of the script are gigabytes: remove them.
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string entry_name = entry.path().filename().string();
    const bool this_version = entry_name == current || entry_name.rfind(current + ".", 0) == 0;
    if (entry.is_directory() && entry_name.rfind(prefix, 0) == 0 && !this_version)
      fs::remove_all(entry.path());
  }
  std::string output, errors;
  const int status = run_capturing(
      testing::oracle_python() + " " + kModelsScript + " fixtures " + dir.string() + arguments, &output, &errors);
  GRAFT_CHECK(status == 0, "torchvision_models.py fixtures failed: ", errors);
  std::ofstream(dir / "complete") << "written by " << kModelsScript << "\n";
  return dir.string();
}

}  // namespace graft::testing
