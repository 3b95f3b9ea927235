// Listing image folders (order equal to torchvision's ImageFolder), CSV lists, the stratified
// split, ImageFileDataset, and their errors. The folder trees are written into scratch folders.
#include "data/image_folder.h"

#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/data/augment_oracle.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

namespace fs = std::filesystem;

void write_png(const std::string& path, int height, int width, uint8_t shade) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> pixels(static_cast<size_t>(height * width * 3), shade);
  ASSERT_TRUE(stbi_write_png(path.c_str(), width, height, 3, pixels.data(), width * 3)) << path;
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A tree exercising torchvision's ordering rules: byte order of names (upper case first, "10" before
// "2"), nested folders in full-path order ("sub", then "sub x", then "sub/deeper"), a linked folder, extensions in
// any case; and what is left out: other extensions, hidden files and folders, files at the root.
std::string make_tree(const std::string& dir) {
  const std::string root = dir + "/tree";
  for (const char* file : {"cat/b.jpg", "cat/a.PNG", "cat/sub/z.png", "cat/sub x/y.png", "cat/sub/deeper/w.png",
                           "dog/1.jpeg", "dog/10.png", "dog/2.png", "Zebra/x.png", "bird/own.png"}) {
    write_png(root + "/" + file, 4, 5, 100);
  }
  for (const char* ignored : {"cat/notes.txt", "cat/.hidden.jpg", "cat/sub/.ipynb_checkpoints/q.png", "readme.md",
                              "dog/photo.jpg.bak", "loose.png"}) {
    write_text(root + "/" + ignored, "not part of the dataset");
  }
  write_text(root + "/Zebra/frame.GIF", "GIF89a");  // listed, never decoded here
  fs::create_directory_symlink("../dog", root + "/bird/linked");
  return root;
}

const std::vector<std::pair<std::string, int64_t>> kExpectedOrder = {{"Zebra/frame.GIF", 0},
                                                                     {"Zebra/x.png", 0},
                                                                     {"bird/own.png", 1},
                                                                     {"bird/linked/1.jpeg", 1},
                                                                     {"bird/linked/10.png", 1},
                                                                     {"bird/linked/2.png", 1},
                                                                     {"cat/a.PNG", 2},
                                                                     {"cat/b.jpg", 2},
                                                                     {"cat/sub/z.png", 2},
                                                                     {"cat/sub x/y.png", 2},
                                                                     {"cat/sub/deeper/w.png", 2},
                                                                     {"dog/1.jpeg", 3},
                                                                     {"dog/10.png", 3},
                                                                     {"dog/2.png", 3}};

TEST(ImageFolder, ListsInTorchvisionOrder) {
  const std::string root = make_tree(testing::scratch_dir());
  const FileList list = list_image_folder(root);
  EXPECT_EQ(list.classes, (std::vector<std::string>{"Zebra", "bird", "cat", "dog"}));
  ASSERT_EQ(list.files.size(), kExpectedOrder.size());
  for (size_t i = 0; i < kExpectedOrder.size(); ++i) {
    EXPECT_EQ(list.files[i].path, root + "/" + kExpectedOrder[i].first) << i;
    EXPECT_EQ(list.files[i].label, kExpectedOrder[i].second) << i;
  }
}

TEST(ImageFolder, MatchesTorchvisionImageFolder) {
  GRAFT_REQUIRE_PYTHON("PIL, numpy, torch, torchvision");
  const std::string dir = testing::scratch_dir();
  const std::string root = make_tree(dir);
  std::string log;
  ASSERT_EQ(
      testing::run_command(testing::augment_reference_command("folder " + root + " " + dir + "/torchvision.tsv"), &log),
      0)
      << log;
  const FileList list = list_image_folder(root);
  std::vector<std::string> expected;
  for (size_t i = 0; i < list.classes.size(); ++i) expected.push_back(list.classes[i] + "\t" + std::to_string(i));
  for (const LabeledFile& file : list.files) expected.push_back(file.path + "\t" + std::to_string(file.label));
  std::vector<std::string> torchvision;
  std::ifstream in(dir + "/torchvision.tsv");
  for (std::string line; std::getline(in, line);) torchvision.push_back(line);
  EXPECT_EQ(expected, torchvision);
}

TEST(ImageFolder, SkipsHiddenClassFoldersAndRecognisesExtensions) {
  const std::string root = testing::scratch_dir() + "/tree";
  write_png(root + "/a/1.png", 2, 2, 0);
  write_png(root + "/.ipynb_checkpoints/1.png", 2, 2, 0);
  const FileList list = list_image_folder(root);
  EXPECT_EQ(list.classes, (std::vector<std::string>{"a"}));
  for (const char* name : {"x.jpg", "x.JPEG", "x.Png", "x.bmp", "x.ppm", "x.pgm", "x.gif", "x.tga"}) {
    EXPECT_TRUE(is_image_file(name)) << name;
  }
  for (const char* name : {"x.webp", "x.tiff", "jpg", "x.jpg.txt", "x"}) EXPECT_FALSE(is_image_file(name)) << name;
}

TEST(ImageFolder, Errors) {
  const std::string dir = testing::scratch_dir();
  testing::expect_error([&] { list_image_folder(dir + "/missing"); }, "list_image_folder", "does not exist");
  write_text(dir + "/file.txt", "x");
  testing::expect_error([&] { list_image_folder(dir + "/file.txt"); }, "list_image_folder", "is not a folder");
  fs::create_directories(dir + "/empty");
  testing::expect_error([&] { list_image_folder(dir + "/empty"); }, "list_image_folder", "has no class folders");
  write_png(dir + "/flat/1.png", 2, 2, 0);
  testing::expect_error([&] { list_image_folder(dir + "/flat"); }, "no class folders", "1 image(s) directly inside");
  write_png(dir + "/some/cat/1.png", 2, 2, 0);
  write_text(dir + "/some/dog/notes.txt", "x");
  fs::create_directories(dir + "/some/eel");
  testing::expect_error([&] { list_image_folder(dir + "/some"); }, "'dog', 'eel'", "hold no images");
  fs::create_directories(dir + "/none/a");
  fs::create_directories(dir + "/none/b");
  testing::expect_error([&] { list_image_folder(dir + "/none"); }, "list_image_folder", "no images at all");
  write_png(dir + "/loop/a/1.png", 2, 2, 0);
  fs::create_directory_symlink("..", dir + "/loop/a/up");
  testing::expect_error([&] { list_image_folder(dir + "/loop"); }, "list_image_folder", "links back");
}

TEST(CsvList, NamesPathsHeaderAndQuotes) {
  const std::string dir = testing::scratch_dir();
  write_png(dir + "/img/a.png", 2, 2, 0);
  write_png(dir + "/img/b, c.png", 2, 2, 0);
  write_png(dir + "/img/d.png", 2, 2, 0);
  write_png(dir + "/abs.png", 2, 2, 0);
  write_text(dir + "/lists/train.csv", "path,label\r\n../img/a.png,dog\r\n\r\n\"../img/b, c.png\", cat\r\n" + dir +
                                           "/abs.png,dog\r\n../img/d.png,ant\r\n");
  const FileList list = read_csv_list(dir + "/lists/train.csv");
  EXPECT_EQ(list.classes, (std::vector<std::string>{"ant", "cat", "dog"}));
  ASSERT_EQ(list.files.size(), 4u);
  EXPECT_EQ(fs::path(list.files[0].path), fs::path(dir + "/lists/../img/a.png"));
  EXPECT_EQ(list.files[0].label, 2);
  EXPECT_EQ(fs::path(list.files[1].path), fs::path(dir + "/lists/../img/b, c.png"));
  EXPECT_EQ(list.files[1].label, 1);
  EXPECT_EQ(list.files[2].path, dir + "/abs.png");
  EXPECT_EQ(list.files[3].label, 0);
  // A second list read with the first one's classes keeps their numbering.
  write_text(dir + "/lists/val.csv", "../img/d.png,dog\n");
  EXPECT_EQ(read_csv_list(dir + "/lists/val.csv", list.classes).files[0].label, 2);
}

TEST(CsvList, IntegerLabels) {
  const std::string dir = testing::scratch_dir();
  write_png(dir + "/a.png", 2, 2, 0);
  write_text(dir + "/list.csv", "a.png,3\na.png,0\n");
  const FileList list = read_csv_list(dir + "/list.csv");
  EXPECT_EQ(list.classes, (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(list.files[0].label, 3);
  const FileList named = read_csv_list(dir + "/list.csv", {"a", "b", "c", "d"});
  EXPECT_EQ(named.classes[3], "d");
}

TEST(CsvList, Errors) {
  const std::string dir = testing::scratch_dir();
  write_png(dir + "/a.png", 2, 2, 0);
  const auto csv = [&](const std::string& name, const std::string& text) {
    write_text(dir + "/" + name, text);
    return dir + "/" + name;
  };
  testing::expect_error([&] { read_csv_list(dir + "/missing.csv"); }, "read_csv_list", "no such file");
  testing::expect_error([&] { read_csv_list(csv("fields.csv", "a.png,cat\na.png,cat,extra\n")); }, "fields.csv:2",
                        "3 fields");
  testing::expect_error([&] { read_csv_list(csv("quote.csv", "\"a.png,cat\n")); }, "quote.csv:1", "unterminated quote");
  testing::expect_error([&] { read_csv_list(csv("gone.csv", "a.png,cat\nb.png,dog\n")); }, "gone.csv:2",
                        "does not exist");
  testing::expect_error([&] { read_csv_list(csv("mixed.csv", "a.png,1\na.png,dog\n")); }, "mixed.csv:2",
                        "not an integer");
  testing::expect_error([&] { read_csv_list(csv("negative.csv", "a.png,-1\n")); }, "negative.csv:1", "negative");
  testing::expect_error(
      [&] {
        read_csv_list(csv("unknown.csv", "a.png,cat\na.png,emu\n"), {"cat", "dog"});
      },
      "unknown.csv:2", "unknown class name 'emu'; the classes are cat, dog");
  testing::expect_error(
      [&] {
        read_csv_list(csv("range.csv", "a.png,2\n"), {"cat", "dog"});
      },
      "range.csv:1", "not below the number of classes");
  testing::expect_error([&] { read_csv_list(csv("empty.csv", "path,label\n\n")); }, "read_csv_list", "lists no images");
}

FileList numbered_list(const std::vector<int>& class_sizes) {
  FileList list;
  for (size_t c = 0; c < class_sizes.size(); ++c) {
    list.classes.push_back("class" + std::to_string(c));
    for (int i = 0; i < class_sizes[c]; ++i) {
      list.files.push_back({"c" + std::to_string(c) + "_" + std::to_string(i), static_cast<int64_t>(c)});
    }
  }
  std::rotate(list.files.begin(), list.files.begin() + 3, list.files.end());  // classes interleaved
  return list;
}

TEST(SplitFileList, StratifiedSeededAndOrdered) {
  const FileList list = numbered_list({10, 5, 1, 2, 0});
  const auto [train, val] = split_file_list(list, 0.2, 7);
  EXPECT_EQ(train.classes, list.classes);
  EXPECT_EQ(val.classes, list.classes);
  std::vector<int> val_per_class(5, 0);
  for (const LabeledFile& f : val.files) ++val_per_class[f.label];
  // round(0.2 * n), at least 1 when n >= 2, at most n - 1.
  EXPECT_EQ(val_per_class, (std::vector<int>{2, 1, 0, 1, 0}));
  // A partition of the input, each part in the input's order.
  size_t t = 0, v = 0;
  for (const LabeledFile& f : list.files) {
    if (t < train.files.size() && train.files[t].path == f.path) {
      ++t;
    } else {
      ASSERT_LT(v, val.files.size());
      EXPECT_EQ(val.files[v++].path, f.path);
    }
  }
  EXPECT_EQ(t + v, list.files.size());
  EXPECT_EQ(t, train.files.size());
  // Same seed, same split; another seed, another split.
  EXPECT_EQ(split_file_list(list, 0.2, 7).second.files.size(), val.files.size());
  const auto paths = [](const FileList& l) {
    std::vector<std::string> p;
    for (const auto& f : l.files) p.push_back(f.path);
    return p;
  };
  EXPECT_EQ(paths(split_file_list(list, 0.2, 7).second), paths(val));
  bool differs = false;
  for (uint64_t seed = 8; seed < 12; ++seed) differs |= paths(split_file_list(list, 0.2, seed).second) != paths(val);
  EXPECT_TRUE(differs);
  testing::expect_error([&] { split_file_list(list, 1.0, 0); }, "split_file_list", "strictly between 0 and 1");
}

TEST(ImageFileDataset, DecodesTransformsAndNamesFiles) {
  const std::string dir = testing::scratch_dir();
  write_png(dir + "/a/1.png", 6, 8, 51);
  write_png(dir + "/b/2.png", 7, 8, 102);
  const ImageFileDataset dataset(list_image_folder(dir), make_eval_transform(Preprocess::none, 8));
  ASSERT_EQ(dataset.size(), 2);
  EXPECT_EQ(dataset.label(1), 1);
  EXPECT_EQ(dataset.describe(0), dir + "/a/1.png");
  Generator rng(0);
  testing::expect_error([&] { dataset.get(0, rng); }, dir + "/a/1.png", "6 x 8");
  const ImageFileDataset resized(list_image_folder(dir), make_eval_transform(Preprocess::imagenet, 4, 5));
  const Sample sample = resized.get(1, rng);
  EXPECT_EQ(sample.image.shape(), (Shape{3, 4, 4}));
  EXPECT_EQ(sample.label, 1);
  EXPECT_NEAR(sample.image.to_vector<float>()[0], (102 / 255.0 - 0.485) / 0.229, 1e-5);
  testing::expect_error([&] { resized.get(2, rng); }, "ImageFileDataset::get", "out of range");
  write_text(dir + "/a/1.png", "broken");
  testing::expect_error([&] { resized.get(0, rng); }, dir + "/a/1.png", "cannot decode");
  testing::expect_error(
      [&] {
        ImageFileDataset(FileList{{"a"}, {{"x.png", 1}}}, make_eval_transform(Preprocess::none));
      },
      "ImageFileDataset", "label 1");
  testing::expect_error([&] { ImageFileDataset(FileList{}, ImageTransform{}); }, "ImageFileDataset", "no transform");
}

}  // namespace
}  // namespace graft::data
