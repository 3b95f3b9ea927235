// ImageFileDataset: files decoded on demand, then transformed (see data/image_folder.h).
#include "core/error.h"
#include "data/image_folder.h"

namespace graft::data {

ImageFileDataset::ImageFileDataset(FileList files, ImageTransform transform)
    : list_(std::move(files)), transform_(std::move(transform)) {
  GRAFT_CHECK(transform_ != nullptr, "ImageFileDataset: no transform given; use make_train_transform or ",
              "make_eval_transform");
  const auto num_classes = static_cast<int64_t>(list_.classes.size());
  for (const LabeledFile& file : list_.files) {
    GRAFT_CHECK(file.label >= 0 && file.label < num_classes, "ImageFileDataset: '", file.path, "' has label ",
                file.label, " but there are ", num_classes, " classes");
  }
}

Sample ImageFileDataset::get(int64_t index, Generator& rng) const {
  check_index(index, "ImageFileDataset::get");
  const LabeledFile& file = list_.files[index];
  const Image image = load_image(file.path);  // its errors name the file
  try {
    return {transform_(image, rng), file.label};
  } catch (const Error& e) {
    fail("'", file.path, "': ", e.what());
  }
}

int64_t ImageFileDataset::label(int64_t index) const {
  check_index(index, "ImageFileDataset::label");
  return list_.files[index].label;
}

std::string ImageFileDataset::describe(int64_t index) const {
  check_index(index, "ImageFileDataset::describe");
  return list_.files[index].path;
}

}  // namespace graft::data
