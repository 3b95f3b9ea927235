#pragma once
// Finding the training and validation images a command was given:
//   --data DIR        DIR/train and DIR/val (one sub-folder per class each), or, without them,
//                     DIR's own class folders split by --val-fraction (stratified, seeded);
//   --data FILE.csv   "path,label" lines; validation from --val-data or split off the same way;
//   --val-data DIR|FILE.csv  an explicit validation set (overrides the split).
#include <cstdint>
#include <string>

#include "data/image_folder.h"

namespace graft::cli {

struct DataSplits {
  data::FileList train;
  data::FileList val;  // empty files: no validation
  std::string description;  // where the two came from, for the log
};

DataSplits find_data(const std::string& data, const std::string& val_data, double val_fraction, uint64_t seed);

// One folder of class folders, or a CSV list.
data::FileList read_file_list(const std::string& source);

}  // namespace graft::cli
