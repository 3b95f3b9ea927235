// list_image_folder: the file order of torchvision's ImageFolder. torchvision sorts the class
// folders, then for each class walks its folder with os.walk(followlinks=True), visiting the folders
// in sorted order of their full paths and each folder's files in sorted order of their names. Only
// the part below the class folder differs between those paths, so sorting the relative paths gives
// the same order.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace graft::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".tga"};
constexpr const char* kExtensionList = ".jpg .jpeg .png .bmp .ppm .pgm .gif .tga";

bool is_hidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

struct Entries {
  std::vector<std::string> folders, files;  // names, sorted
};

Entries list_entries(const fs::path& folder) {
  Entries entries;
  std::error_code error;
  fs::directory_iterator it(folder, error), end;
  GRAFT_CHECK(!error, "list_image_folder: cannot read the folder '", folder.string(), "': ", error.message());
  for (; it != end; it.increment(error)) {
    GRAFT_CHECK(!error, "list_image_folder: cannot read the folder '", folder.string(), "': ", error.message());
    const std::string name = it->path().filename().string();
    if (is_hidden(name)) continue;
    std::error_code status_error;
    (it->is_directory(status_error) ? entries.folders : entries.files).push_back(name);  // follows links
  }
  std::sort(entries.folders.begin(), entries.folders.end());
  std::sort(entries.files.begin(), entries.files.end());
  return entries;
}

// Every folder at or below `top`, as paths relative to it ("" for `top` itself). `ancestors` holds
// the canonical paths of the folders being descended, to refuse a link back into one of them
// (os.walk would loop forever).
void collect_folders(const fs::path& top, const fs::path& relative, std::vector<fs::path>& ancestors,
                     std::vector<std::string>& out) {
  const fs::path folder = relative.empty() ? top : top / relative;
  std::error_code error;
  const fs::path canonical = fs::canonical(folder, error);
  GRAFT_CHECK(!error, "list_image_folder: cannot resolve '", folder.string(), "': ", error.message());
  GRAFT_CHECK(std::find(ancestors.begin(), ancestors.end(), canonical) == ancestors.end(), "list_image_folder: '",
              folder.string(), "' links back to '", canonical.string(),
              "', one of the folders containing it; remove the link");
  out.push_back(relative.string());
  ancestors.push_back(canonical);
  for (const std::string& name : list_entries(folder).folders) collect_folders(top, relative / name, ancestors, out);
  ancestors.pop_back();
}

std::vector<std::string> class_images(const fs::path& class_folder) {
  std::vector<fs::path> ancestors;
  std::vector<std::string> folders;
  collect_folders(class_folder, fs::path(), ancestors, folders);
  std::sort(folders.begin(), folders.end());
  std::vector<std::string> images;
  for (const std::string& relative : folders) {
    const fs::path folder = relative.empty() ? class_folder : class_folder / relative;
    for (const std::string& name : list_entries(folder).files) {
      if (is_image_file(name)) images.push_back((folder / name).string());
    }
  }
  return images;
}

}  // namespace

bool is_image_file(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(std::begin(kImageExtensions), std::end(kImageExtensions),
                     [&](const std::string& ext) { return lower.size() >= ext.size() && lower.ends_with(ext); });
}

FileList list_image_folder(const std::string& root) {
  std::error_code error;
  GRAFT_CHECK(fs::exists(root, error), "list_image_folder: the folder '", root,
              "' does not exist; give the folder that holds one sub-folder per class");
  GRAFT_CHECK(fs::is_directory(root, error), "list_image_folder: '", root,
              "' is not a folder; give the folder that holds one sub-folder per class");
  const Entries top = list_entries(root);
  if (top.folders.empty()) {
    const auto loose = std::count_if(top.files.begin(), top.files.end(), is_image_file);
    fail("list_image_folder: '", root, "' has no class folders; put each class's images in a sub-folder named ",
         "after it (", root, "/cat/1.jpg, ", root, "/dog/2.jpg, ...)",
         loose > 0 ? concat("; its ", loose, " image(s) directly inside belong to no class") : std::string());
  }
  FileList list;
  list.classes = top.folders;
  std::vector<std::string> empty_classes;
  for (size_t label = 0; label < list.classes.size(); ++label) {
    const std::vector<std::string> images = class_images(fs::path(root) / list.classes[label]);
    if (images.empty()) empty_classes.push_back(list.classes[label]);
    for (const std::string& path : images) list.files.push_back({path, static_cast<int64_t>(label)});
  }
  if (!empty_classes.empty()) {
    std::string names;
    for (const std::string& name : empty_classes) names += (names.empty() ? "'" : ", '") + name + "'";
    fail("list_image_folder: ", list.files.empty() ? "no images at all in '" + root + "': " : std::string(),
         "the class folder(s) ", names, " in '", root, "' hold no images (", kExtensionList,
         "); add images or remove the folder(s)");
  }
  return list;
}

}  // namespace graft::data
