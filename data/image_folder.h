#pragma once
// Lists of labelled image files, where they come from (a folder per class, or a CSV list), a seeded
// train/validation split, and the dataset that decodes them on demand.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"

namespace graft::data {

struct LabeledFile {
  std::string path;
  int64_t label = 0;
};

struct FileList {
  std::vector<std::string> classes;  // labels index into it
  std::vector<LabeledFile> files;
};

// Whether `name` ends (in any case) with an extension graft decodes: .jpg .jpeg .png .bmp .ppm .pgm
// .gif .tga.
bool is_image_file(const std::string& name);

// torchvision's ImageFolder rules (data/image_folder.cpp): one sub-folder of `root` per class, the
// classes sorted by name; a class's images are every image file in its folder and the folders below
// it (symbolic links followed), ordered as torchvision orders them: folder by folder in sorted path
// order, files sorted by name within a folder. Names compare byte by byte, as Python compares
// str (code point order). Unlike torchvision, hidden entries (names starting with '.', such as
// .ipynb_checkpoints) are skipped. Errors: `root` missing or not a folder, no class folders, a
// class folder with no images (named), a folder that links back into itself.
FileList list_image_folder(const std::string& root);

// A CSV list of "path,label" lines (data/csv_list.cpp). Paths may be quoted ("a, b.jpg", with ""
// for a quote); relative paths are relative to the CSV's folder. Labels are all integers or all
// class names. Blank lines are skipped; the first line is a header when its label field is "label"
// or "class" (any case).
//   `classes` empty: names give classes sorted by name (as ImageFolder would); integers give the
//     classes "0" .. "max".
//   `classes` given (e.g. the training list's, to read a validation list with the same labels):
//     names must be among them and integers below their count.
// Errors name file:line: a line without exactly two fields, a missing image file, a negative or
// mixed label, an unknown class name; and an empty list.
FileList read_csv_list(const std::string& csv_path, const std::vector<std::string>& classes = {});

// A seeded, stratified split (data/file_list_split.cpp): from each class, round(val_fraction * n)
// of its n files (halves to even), at least one when n >= 2 and at most n - 1, go to validation,
// chosen by a shuffle drawn from (seed, class). Both lists keep the input's order and its classes.
// val_fraction must lie in (0, 1).
std::pair<FileList, FileList> split_file_list(const FileList& list, double val_fraction, uint64_t seed);

// Files decoded on demand (data/image_file_dataset.cpp): get(i) loads files[i] and applies the
// transform. Errors from decoding and from the transform name the file.
class ImageFileDataset : public Dataset {
 public:
  ImageFileDataset(FileList files, ImageTransform transform);

  int64_t size() const override { return static_cast<int64_t>(list_.files.size()); }
  Sample get(int64_t index, Generator& rng) const override;
  int64_t label(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return list_.classes; }
  std::string describe(int64_t index) const override;

  const FileList& files() const { return list_; }

 private:
  FileList list_;
  ImageTransform transform_;
};

}  // namespace graft::data
