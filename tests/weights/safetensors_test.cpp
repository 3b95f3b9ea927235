#include "weights/safetensors.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/rng.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"
#include "weights/json.h"

namespace graft {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("graft_st_" + name)).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void expect_error_containing(const std::function<void()>& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "expected graft::Error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  Generator gen(3);
  const std::string path = temp_path("roundtrip.safetensors");
  Tensor f = randn({2, 3}, gen);
  Tensor d = randn({4}, gen, DType::f64);
  Tensor i = Tensor::from_vector<int64_t>({-1, 7}, {2});
  Tensor h = f.to(DType::f16), b = f.to(DType::bf16);
  Tensor empty = Tensor::zeros({0, 3});
  Tensor strided = f.t();  // written contiguously
  safetensors::write(path, {{"f", f}, {"d", d}, {"i", i}, {"h", h}, {"b", b}, {"empty", empty}, {"t", strided}},
                     {{"format", "pt"}, {"note", "quote \" and newline \n"}});
  const safetensors::File file = safetensors::read(path);
  ASSERT_EQ(file.tensors.size(), 7u);
  EXPECT_EQ(file.tensors[0].first, "f");  // file order
  EXPECT_EQ(file.at("f").to_vector<float>(), f.to_vector<float>());
  EXPECT_EQ(file.at("d").to_vector<double>(), d.to_vector<double>());
  EXPECT_EQ(file.at("i").to_vector<int64_t>(), i.to_vector<int64_t>());
  EXPECT_EQ(file.at("h").dtype(), DType::f16);
  EXPECT_EQ(file.at("h").to_vector<float>(), h.to_vector<float>());
  EXPECT_EQ(file.at("b").to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(file.at("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(file.at("t").to_vector<float>(), strided.contiguous().to_vector<float>());
  EXPECT_EQ(file.metadata.at("note"), "quote \" and newline \n");
  EXPECT_FALSE(file.contains("missing"));
  expect_error_containing([&] { file.at("missing"); }, "no tensor named 'missing'");
  // Mapped tensors are writable copies: changing one leaves the file intact.
  file.at("f").fill_(0);
  EXPECT_EQ(safetensors::read(path).at("f").to_vector<float>(), f.to_vector<float>());
  std::filesystem::remove(path);
}

TEST(Safetensors, ReadsAFileWrittenByTheReferenceLayout) {
  // A hand-built file: header {"x": F32 [2] at [0, 8)} followed by 1.0 and -2.0.
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  const float values[2] = {1.0f, -2.0f};
  bytes += header + std::string(reinterpret_cast<const char*>(values), 8);
  const std::string path = temp_path("manual.safetensors");
  write_bytes(path, bytes);
  EXPECT_EQ(safetensors::read(path).at("x").to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
  std::filesystem::remove(path);
}

TEST(Safetensors, DamagedFilesGiveClearErrors) {
  const std::string good = temp_path("good.safetensors");
  safetensors::write(good, {{"w", Tensor::ones({16})}});
  const std::string bytes = testing::read_file(good);
  const std::string bad = temp_path("bad.safetensors");

  write_bytes(bad, bytes.substr(0, bytes.size() - 4));
  expect_error_containing([&] { safetensors::read(bad); }, "truncated");
  write_bytes(bad, bytes.substr(0, 5));
  expect_error_containing([&] { safetensors::read(bad); }, "truncated");
  write_bytes(bad, bytes.substr(0, 20));
  expect_error_containing([&] { safetensors::read(bad); }, "truncated");
  std::string corrupt = bytes;
  corrupt[9] = '[';
  write_bytes(bad, corrupt);
  expect_error_containing([&] { safetensors::read(bad); }, "header");
  write_bytes(bad, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "junk");
  expect_error_containing([&] { safetensors::read(bad); }, "not a safetensors file");
  std::string wrong_dtype = bytes;
  wrong_dtype.replace(wrong_dtype.find("F32"), 3, "U16");
  write_bytes(bad, wrong_dtype);
  expect_error_containing([&] { safetensors::read(bad); }, "U16");
  expect_error_containing([&] { safetensors::read(temp_path("does-not-exist")); }, "cannot open");
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

TEST(Safetensors, WriteIsAtomicAndReportsUnwritablePaths) {
  expect_error_containing([] { safetensors::write("/nonexistent-dir/x.safetensors", {{"a", Tensor::ones({1})}}); },
                          "cannot create");
  const std::string path = temp_path("atomic.safetensors");
  safetensors::write(path, {{"a", Tensor::ones({3})}});
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
    EXPECT_EQ(entry.path().string().find(path + ".tmp"), std::string::npos) << "temporary file left behind";
  }
  std::filesystem::remove(path);
}

TEST(Json, ParsesAndRejects) {
  const json::Value v = json::parse(R"( {"a": [1, -2.5e1, "s\u00e9\n"], "b": {"c": true, "d": null}} )");
  const auto& a = v.object("root").at("a").array("a");
  EXPECT_EQ(a[0].integer("a0"), 1);
  EXPECT_DOUBLE_EQ(a[1].number("a1"), -25.0);
  EXPECT_EQ(a[2].string("a2"), "s\xc3\xa9\n");
  EXPECT_THROW(json::parse("{\"a\": }"), Error);
  EXPECT_THROW(json::parse("[1, 2"), Error);
  EXPECT_THROW(json::parse("{} extra"), Error);
  EXPECT_THROW(json::parse(std::string(100, '[')), Error);
  EXPECT_THROW(a[0].string("a0"), Error);
  EXPECT_EQ(json::quote("a\"b\\\x01"), "\"a\\\"b\\\\\\u0001\"");
}

}  // namespace
}  // namespace graft
