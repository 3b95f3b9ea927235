#pragma once
// Helpers for the image tests: the PIL/torchvision reference (tests/oracle/preprocess_reference.py
// run by oracle_python()), the shared photos, scratch folders and difference statistics.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/image.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace graft::testing {

// Whether oracle_python() has the packages `modules` (e.g. "PIL, numpy, torchvision"); else why not.
// Looks them up without importing them: importing torchvision takes seconds.
inline bool python_modules_available(const std::string& modules, std::string* reason) {
  const std::string check = "import importlib.util, sys; missing = [m for m in '" + modules +
                            "'.split(', ') if importlib.util.find_spec(m) is None]; "
                            "print(*missing); sys.exit(1 if missing else 0)";
  std::string output;
  if (!std::filesystem::exists(oracle_python())) {
    output = "Python itself";
  } else if (run_command(oracle_python() + " -c \"" + check + "\"", &output) == 0) {
    return true;
  }
  while (!output.empty() && output.back() == '\n') output.pop_back();
  *reason = "skipped: " + oracle_python() + " lacks " + output +
            " (run scripts/setup.sh test: it installs python3-pil, python3-numpy, python3-torchvision)";
  return false;
}

#define GRAFT_REQUIRE_PYTHON(modules)                                                            \
  do {                                                                                           \
    std::string reason_;                                                                         \
    if (!::graft::testing::python_modules_available(modules, &reason_)) GTEST_SKIP() << reason_; \
  } while (0)

// The 13 photos of ../shared/data/images, beside the project on development and CI machines only.
inline std::vector<std::string> shared_photos() {
  const std::filesystem::path dir = std::filesystem::path(GRAFT_SOURCE_DIR) / ".." / "shared" / "data" / "images";
  std::vector<std::string> photos;
  if (!std::filesystem::is_directory(dir)) return photos;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".jpg") photos.push_back(entry.path().string());
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

inline constexpr const char* kNoPhotosReason = "skipped: no photos in " GRAFT_SOURCE_DIR
                                               "/../shared/data/images (the shared reference data is beside "
                                               "the project on development and CI machines only)";

#define GRAFT_REQUIRE_SHARED_PHOTOS(photos)                                  \
  do {                                                                       \
    if ((photos).empty()) GTEST_SKIP() << ::graft::testing::kNoPhotosReason; \
  } while (0)

// An empty folder of its own for the running test, under the build's oracle folder.
inline std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::path(GRAFT_ORACLE_DIR) / (std::string("data.") + info->test_suite_name() + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string file_stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

// One reference computation: open `input` with PIL, convert to RGB, evaluate `expression` on it
// (`img`, `T` = torchvision.transforms), write the result to `output` (PPM or raw float32).
struct ReferenceJob {
  std::string input, expression, output;
};

inline std::string oracle_script() { return std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/preprocess_reference.py"; }

// Runs the jobs; on failure returns false with the script's output in `log`.
inline bool run_reference(const std::vector<ReferenceJob>& jobs, const std::string& dir, std::string* log) {
  const std::string jobs_path = dir + "/jobs.tsv";
  std::ofstream out(jobs_path);
  for (const auto& job : jobs) out << job.input << '\t' << job.expression << '\t' << job.output << '\n';
  out.close();
  return run_command(oracle_python() + " " + oracle_script() + " run " + jobs_path, log) == 0;
}

// Writes the synthetic test images (see make_images() in the script) into `dir`.
inline bool make_reference_images(const std::string& dir, std::string* log) {
  return run_command(oracle_python() + " " + oracle_script() + " make-images " + dir, log) == 0;
}

inline std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> values(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  return values;
}

struct Difference {
  double max = 0.0;
  double mean = 0.0;
};

template <class T>
Difference difference(const T* a, const T* b, size_t n) {
  Difference d;
  for (size_t i = 0; i < n; ++i) {
    const double diff = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    d.max = std::max(d.max, diff);
    d.mean += diff;
  }
  if (n > 0) d.mean /= static_cast<double>(n);
  return d;
}

inline Difference difference(const data::Image& a, const data::Image& b) {
  return difference(a.pixels.data(), b.pixels.data(), std::min(a.pixels.size(), b.pixels.size()));
}

inline Difference difference(const Tensor& a, const std::vector<float>& b) {
  return difference(a.data<float>(), b.data(), std::min(static_cast<size_t>(a.numel()), b.size()));
}

}  // namespace graft::testing
