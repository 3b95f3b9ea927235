#include "cli/data_setup.h"

#include <filesystem>

#include "core/error.h"

namespace graft::cli {
namespace {

namespace fs = std::filesystem;

bool is_csv(const std::string& path) {
  return fs::path(path).extension() == ".csv" || fs::path(path).extension() == ".CSV";
}

std::string class_list(const std::vector<std::string>& classes) {
  std::string text;
  for (size_t i = 0; i < classes.size() && i < 8; ++i) text += (i ? ", " : "") + classes[i];
  return text + (classes.size() > 8 ? ", ..." : "");
}

}  // namespace

data::FileList read_file_list(const std::string& source) {
  GRAFT_CHECK(fs::exists(source), "data ", source, " does not exist; pass a folder with one sub-folder per class "
              "(or train/ and val/ folders), or a CSV file of path,label lines");
  return is_csv(source) ? data::read_csv_list(source) : data::list_image_folder(source);
}

DataSplits find_data(const std::string& data, const std::string& val_data, double val_fraction, uint64_t seed) {
  GRAFT_CHECK(!data.empty(), "--data is required: a folder of class folders or a CSV list");
  GRAFT_CHECK(val_fraction >= 0 && val_fraction < 1, "--val-fraction must be in [0, 1), got ", val_fraction);
  DataSplits splits;
  std::string val_source = val_data;
  if (fs::is_directory(data) && fs::is_directory(fs::path(data) / "train")) {
    splits.train = data::list_image_folder((fs::path(data) / "train").string());
    if (val_source.empty() && fs::is_directory(fs::path(data) / "val")) val_source = (fs::path(data) / "val").string();
    splits.description = data + "/train";
  } else {
    splits.train = read_file_list(data);
    splits.description = data;
  }
  if (!val_source.empty()) {
    splits.val = read_file_list(val_source);
    GRAFT_CHECK(splits.val.classes == splits.train.classes, "the validation data ", val_source, " has classes [",
                class_list(splits.val.classes), "] but the training data has [", class_list(splits.train.classes),
                "]; both need the same class folders");
    splits.description += " (validation: " + val_source + ")";
  } else if (val_fraction > 0) {
    auto [train, val] = data::split_file_list(splits.train, val_fraction, seed);
    splits.train = std::move(train);
    splits.val = std::move(val);
    splits.description += " (validation: a seeded " + std::to_string(static_cast<int>(val_fraction * 100 + 0.5)) +
                          "% of each class)";
  }
  return splits;
}

}  // namespace graft::cli
