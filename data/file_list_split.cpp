// split_file_list: a seeded, stratified train/validation split (see data/image_folder.h).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/image_folder.h"

namespace graft::data {

std::pair<FileList, FileList> split_file_list(const FileList& list, double val_fraction, uint64_t seed) {
  GRAFT_CHECK(val_fraction > 0.0 && val_fraction < 1.0, "split_file_list: the validation fraction must lie ",
              "strictly between 0 and 1, got ", val_fraction);
  const auto num_classes = static_cast<int64_t>(list.classes.size());
  std::vector<std::vector<size_t>> members(list.classes.size());
  for (size_t i = 0; i < list.files.size(); ++i) {
    const int64_t label = list.files[i].label;
    GRAFT_CHECK(label >= 0 && label < num_classes, "split_file_list: '", list.files[i].path, "' has label ", label,
                " but there are ", num_classes, " classes");
    members[label].push_back(i);
  }
  std::vector<bool> in_val(list.files.size(), false);
  for (int64_t label = 0; label < num_classes; ++label) {
    std::vector<size_t>& files = members[label];
    const auto n = static_cast<int64_t>(files.size());
    if (n == 0) continue;
    const int64_t wanted = round_half_even(val_fraction * static_cast<double>(n));
    const int64_t count = n < 2 ? 0 : std::clamp<int64_t>(wanted, 1, n - 1);
    Generator rng = derived_generator({seed, static_cast<uint64_t>(label)});
    for (int64_t i = n - 1; i > 0; --i) std::swap(files[i], files[random_below(rng, i + 1)]);
    for (int64_t i = 0; i < count; ++i) in_val[files[i]] = true;
  }
  std::pair<FileList, FileList> split{FileList{list.classes, {}}, FileList{list.classes, {}}};
  for (size_t i = 0; i < list.files.size(); ++i)
    (in_val[i] ? split.second : split.first).files.push_back(list.files[i]);
  return split;
}

}  // namespace graft::data
