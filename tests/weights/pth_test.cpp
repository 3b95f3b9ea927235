// The .pth reader against checkpoints that torch itself wrote (fixtures made at test time by
// tests/oracle/make_pth_fixtures.py), the published torchvision fragments in ../shared/data, and
// hostile files.
#include "weights/pth.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <typeinfo>

#include "gtest/gtest.h"
#include "nn/module.h"
#include "tests/support/files.h"
#include "tests/support/process.h"
#include "tests/support/torch_oracle.h"
#include "weights/json.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

// A fresh file each time: truncating one in place can make the filesystem flush it (slow).
void write_bytes(const std::string& path, const std::string& bytes) {
  std::remove(path.c_str());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A string literal's bytes, embedded NULs included.
template <size_t N>
std::string B(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / ("graft_pth_" + name)).string(); }

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The fixture folder; empty (with `reason`) when PyTorch is unavailable. ctest runs each test in
// its own process, so the folder is kept between them: named after the script's contents (a new
// script makes new fixtures) and written under a temporary name, then renamed (parallel tests
// never see a half-written one).
std::string fixtures(std::string* reason) {
  static std::string dir, why;
  static bool done = false;
  if (!done) {
    done = true;
    const std::string script = std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/make_pth_fixtures.py";
    const std::string final_dir = std::string(GRAFT_ORACLE_DIR) + "/pth_fixtures_" +
                                  std::to_string(std::hash<std::string>{}(testing::read_file(script)));
    if (fs::exists(final_dir)) {
      dir = final_dir + "/";
    } else if (testing::torch_available(&why)) {
      const std::string scratch = final_dir + ".tmp" + std::to_string(::getpid());
      const std::string command = testing::oracle_python() + " " + script + " " + scratch + " 2>&1";
      std::string log;
      FILE* pipe = ::popen(command.c_str(), "r");
      std::array<char, 4096> buf{};
      for (size_t n; pipe && (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) log.append(buf.data(), n);
      if (!pipe || ::pclose(pipe) != 0) {
        why = "make_pth_fixtures.py failed:\n" + log;
      } else {
        std::error_code ignored;
        fs::rename(scratch, final_dir, ignored);  // fails when a parallel test got there first
        fs::remove_all(scratch, ignored);
        dir = final_dir + "/";
      }
    }
  }
  *reason = why;
  return dir;
}

#define REQUIRE_FIXTURES(dir)                                     \
  std::string reason_;                                            \
  const std::string dir = fixtures(&reason_);                     \
  if (dir.empty()) {                                              \
    if (reason_.rfind("skipped", 0) == 0) GTEST_SKIP() << reason_; \
    FAIL() << reason_;                                            \
  }

// What make_pth_fixtures.py says each tensor is: values, and dtype/shape/strides/offset.
struct Expected {
  explicit Expected(const std::string& stem)
      : values(safetensors::read(stem + ".safetensors")), info(json::parse(testing::read_file(stem + ".json"))) {}
  std::vector<std::string> order() const {
    std::vector<std::string> names;
    for (const json::Value& v : info.object("root").at("order").array("order")) names.push_back(v.string("name"));
    return names;
  }
  const json::Object& tensor(const std::string& name) const {
    return info.object("root").at("tensors").object("tensors").at(name).object("tensor");
  }
  safetensors::File values;
  json::Value info;
};

Shape ints(const json::Value& v) {
  Shape out;
  for (const json::Value& x : v.array("list")) out.push_back(x.integer("int"));
  return out;
}

DType loaded_dtype(const std::string& torch_name) {
  if (torch_name == "float32") return DType::f32;
  if (torch_name == "float64") return DType::f64;
  if (torch_name == "float16") return DType::f16;
  if (torch_name == "bfloat16") return DType::bf16;
  return DType::i64;  // int64, and the narrower integer types graft widens
}

// Bit patterns, so that -0.0 differs from 0.0.
std::vector<uint64_t> bits(const std::vector<double>& values) {
  std::vector<uint64_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(&out[i], &values[i], sizeof(double));
  return out;
}

// Every name, dtype, view and value (bit for bit) must match what torch saved.
void expect_matches(const Checkpoint& checkpoint, const Expected& expected, const std::string& what) {
  const std::vector<std::string> order = expected.order();
  ASSERT_EQ(checkpoint.tensors.size(), order.size()) << what;
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& [name, t] = checkpoint.tensors[i];
    ASSERT_EQ(name, order[i]) << what;
    const json::Object& info = expected.tensor(name);
    const Tensor& want = expected.values.at(name);
    EXPECT_EQ(t.dtype(), loaded_dtype(info.at("dtype").string("dtype"))) << what << " " << name;
    EXPECT_EQ(t.shape(), ints(info.at("shape"))) << what << " " << name;
    EXPECT_EQ(t.strides(), ints(info.at("strides"))) << what << " " << name;
    EXPECT_EQ(t.offset(), info.at("offset").integer("offset")) << what << " " << name;
    EXPECT_FALSE(t.requires_grad()) << what << " " << name;
    if (t.dtype() == DType::i64) {
      EXPECT_EQ(t.to_vector<int64_t>(), want.to_vector<int64_t>()) << what << " " << name;
    } else {
      EXPECT_EQ(bits(t.to_vector<double>()), bits(want.to_vector<double>())) << what << " " << name;
    }
  }
}

TEST(Pth, EveryLayoutLoadsTheStateDictExactly) {
  REQUIRE_FIXTURES(dir);
  const Expected expected(dir + "expected_state");
  const std::vector<std::pair<std::string, std::string>> files = {
      {"zip.pth", "zip"},       {"zip_protocol4.pth", "zip"}, {"legacy.pth", "legacy"},
      {"tar.pth", "tar"},       {"repacked.pth", "zip"},      {"no_directory.pth", "zip"}};
  for (const auto& [file, layout] : files) {
    SCOPED_TRACE(file);
    const Checkpoint c = load_pth(dir + file);
    EXPECT_EQ(c.layout, layout);
    expect_matches(c, expected, file);
    // Tensors that shared a storage in PyTorch share one here; others do not.
    EXPECT_TRUE(c.at("sliced").same_storage(c.at("base")));
    EXPECT_TRUE(c.at("column").same_storage(c.at("base")));
    EXPECT_TRUE(c.at("shared_b").same_storage(c.at("shared_a")));
    EXPECT_FALSE(c.at("f32").same_storage(c.at("base")));
  }
}

TEST(Pth, InspectionReportsTheFileDtypesAndViews) {
  REQUIRE_FIXTURES(dir);
  const Expected expected(dir + "expected_state");
  for (const std::string file : {"zip.pth", "legacy.pth", "tar.pth"}) {
    const Inspection inspection = inspect_pth(dir + file);
    EXPECT_EQ(inspection.error, "") << file;
    ASSERT_EQ(inspection.tensors.size(), expected.order().size()) << file;
    for (const TensorInfo& t : inspection.tensors) {
      const json::Object& info = expected.tensor(t.name);
      EXPECT_EQ(t.dtype, info.at("dtype").string("dtype")) << file << " " << t.name;
      EXPECT_EQ(t.shape, ints(info.at("shape"))) << file << " " << t.name;
      EXPECT_EQ(t.strides, ints(info.at("strides"))) << file << " " << t.name;
      EXPECT_EQ(t.storage_offset, info.at("offset").integer("offset")) << file << " " << t.name;
      EXPECT_TRUE(t.complete) << file << " " << t.name;
    }
    EXPECT_TRUE(looks_like_pth(dir + file)) << file;
  }
}

TEST(Pth, TrainingCheckpointsFlattenWithDots) {
  REQUIRE_FIXTURES(dir);
  const Checkpoint c = load_pth(dir + "nested.pth");
  const Expected expected(dir + "expected_nested");
  EXPECT_EQ(expected.order(), (std::vector<std::string>{"model.conv.weight", "model.conv.bias", "history.0",
                                                        "history.1", "optimizer.state.0.momentum_buffer"}));
  expect_matches(c, expected, "nested.pth");
  EXPECT_NE(error_of([&] { c.at("epoch"); }).find("no tensor named 'epoch'"), std::string::npos);
}

TEST(Pth, LoadedTensorsAreCopyOnWrite) {
  REQUIRE_FIXTURES(dir);
  const std::string before = testing::read_file(dir + "zip.pth");
  {
    const Checkpoint c = load_pth(dir + "zip.pth");
    c.at("f32").fill_(42.0);
    c.at("base").fill_(-1.0);
    EXPECT_EQ(c.at("sliced").to_vector<float>()[0], -1.0f);  // a view of the written storage
  }
  EXPECT_EQ(testing::read_file(dir + "zip.pth"), before);
  expect_matches(load_pth(dir + "zip.pth"), Expected(dir + "expected_state"), "reloaded zip.pth");
}

// A module with one buffer per checkpoint tensor, of the same name, shape and dtype, holding -7.
class Holder : public nn::Module {
 public:
  explicit Holder(const Checkpoint& checkpoint) {
    for (const auto& [name, t] : checkpoint.tensors) {
      held.emplace_back(name, register_buffer(name, Tensor::full(t.shape(), -7.0, t.dtype())));
    }
  }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Holder"; }

  std::vector<std::pair<std::string, Tensor>> held;
};

void expect_same_values(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  if (got.dtype() == DType::i64) {
    EXPECT_EQ(got.to_vector<int64_t>(), want.to_vector<int64_t>()) << what;
  } else {
    EXPECT_EQ(bits(got.to_vector<double>()), bits(want.to_vector<double>())) << what;
  }
}

// load_state_dict reads contiguous tensors from the file straight into the model (views with
// storage offsets included) and copies the rest (transposed, strided, widened integers).
TEST(Pth, LoadStateDictFillsTheModelFromEveryLayout) {
  REQUIRE_FIXTURES(dir);
  for (const std::string file :
       {"zip.pth", "zip_protocol4.pth", "legacy.pth", "tar.pth", "repacked.pth", "no_directory.pth"}) {
    const Checkpoint checkpoint = load_pth(dir + file);
    Holder model(checkpoint);
    EXPECT_TRUE(model.load_state_dict(checkpoint.tensors).ok()) << file;
    for (const auto& [name, t] : model.held) expect_same_values(t, checkpoint.at(name), file + " " + name);
  }
}

// Tensors written in place after loading live in private pages that the file lacks: loading them
// into a model must give the written values, not the file's.
TEST(Pth, LoadStateDictSeesCheckpointTensorsWrittenInPlace) {
  REQUIRE_FIXTURES(dir);
  const Checkpoint checkpoint = load_pth(dir + "zip.pth");
  checkpoint.at("f32").fill_(42.0);
  checkpoint.at("base").fill_(-1.0);  // "sliced" is a view of it
  Holder model(checkpoint);
  model.load_state_dict(checkpoint.tensors);
  for (const auto& [name, t] : model.held) expect_same_values(t, checkpoint.at(name), name);
  EXPECT_EQ(model.held[0].second.to_vector<float>(), std::vector<float>(12, 42.0f));
  const Tensor sliced = checkpoint.at("sliced");
  for (const auto& [name, t] : model.held) {
    if (name == "sliced") {
      EXPECT_EQ(t.to_vector<float>(), std::vector<float>(15, -1.0f));
    }
  }
  EXPECT_EQ(sliced.to_vector<float>(), std::vector<float>(15, -1.0f));
}

TEST(Pth, RefusesCheckpointsThatWouldRunCode) {
  REQUIRE_FIXTURES(dir);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"evil_system.pth", "refusing to load global 'posix.system'"},
      {"evil_eval.pth", "refusing to load global 'builtins.eval'"}};
  for (const auto& [file, message] : cases) {
    EXPECT_NE(error_of([&] { load_pth(dir + file); }).find(message), std::string::npos)
        << error_of([&] { load_pth(dir + file); });
    const Inspection inspection = inspect_pth(dir + file);
    EXPECT_NE(inspection.error.find(message), std::string::npos) << inspection.error;
    EXPECT_TRUE(inspection.tensors.empty());
  }
}

// The legacy layout around a hand-made object pickle: magic number, version 1001, sys_info, the
// object, an empty storage list.
std::string legacy_stream(const std::string& object_pickle) {
  const std::string magic = B("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
  return magic + B("\x80\x02M\xe9\x03.") + B("\x80\x02}.") + object_pickle + B("\x80\x02].");
}

std::string load_error(const std::string& bytes) {
  const std::string path = temp_path("crafted.pth");
  write_bytes(path, bytes);
  std::string message = error_of([&] { load_pth(path); });
  EXPECT_EQ(inspect_pth(path).error, message);
  fs::remove(path);
  return message;
}

TEST(Pth, CraftedPicklesNamingCodeAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {B("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsR."), "'os.system'"},
      {B("\x80\x02" "cposix\nsystem\nX\x02\x00\x00\x00lsR."), "'posix.system'"},
      {B("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x03" "1+1\x85R."), "'builtins.eval'"},
      {B("\x80\x02" "c__builtin__\nexec\n."), "'__builtin__.exec'"},
      {B("\x80\x02" "ctorch\nload\n."), "'torch.load'"},
      // A dict entry before the exploit does not let it through.
      {B("\x80\x02}(X\x01\x00\x00\x00" "acsubprocess\ncall\nu."), "'subprocess.call'"}};
  for (const auto& [pickle_bytes, name] : cases) {
    const std::string message = load_error(legacy_stream(pickle_bytes));
    EXPECT_NE(message.find("refusing to load global " + name), std::string::npos) << message;
  }
}

TEST(Pth, HostileObjectGraphsAreBounded) {
  // A million nested tuples, a list that contains itself, and a DAG whose paths number 2^60.
  const std::string deep = B("\x80\x02)") + std::string(1'000'000, '\x85') + ".";
  EXPECT_NE(load_error(legacy_stream(deep)).find("deeper than"), std::string::npos);
  const std::string cycle = B("\x80\x02]q\x00h\x00" "a.");  // EMPTY_LIST, BINPUT, BINGET, APPEND
  EXPECT_NE(load_error(legacy_stream(cycle)).find("deeper than"), std::string::npos);
  std::string dag = B("\x80\x02)");
  for (int i = 0; i < 60; ++i) dag += "2\x86";  // DUP, TUPLE2: t = (t, t)
  EXPECT_NE(load_error(legacy_stream(dag + ".")).find("too large"), std::string::npos);
}

TEST(Pth, DamagedFilesGiveClearErrors) {
  const std::string text = temp_path("notes.txt");
  write_bytes(text, "these are not weights\n");
  EXPECT_NE(error_of([&] { load_pth(text); }).find("not a PyTorch checkpoint"), std::string::npos);
  EXPECT_EQ(inspect_pth(text).layout, "");
  EXPECT_FALSE(looks_like_pth(text));
  write_bytes(text, "");
  EXPECT_NE(error_of([&] { load_pth(text); }).find("empty"), std::string::npos);
  fs::remove(text);
  EXPECT_NE(error_of([&] { load_pth(temp_path("missing.pth")); }).find("cannot open"), std::string::npos);
  EXPECT_NE(inspect_pth(temp_path("missing.pth")).error.find("cannot open"), std::string::npos);
  EXPECT_FALSE(looks_like_pth(temp_path("missing.pth")));

  std::string reason;
  const std::string dir = fixtures(&reason);
  if (dir.empty()) GTEST_SKIP() << reason;
  EXPECT_NE(error_of([&] { load_pth(dir + "compressed.pth"); }).find("is compressed"), std::string::npos);
  const std::string safetensors_file = temp_path("w.safetensors");
  safetensors::write(safetensors_file, {{"w", Tensor::ones({2})}});
  EXPECT_FALSE(looks_like_pth(safetensors_file));
  fs::remove(safetensors_file);
}

TEST(Pth, ACutPickleStillListsTheTensorsBeforeTheCut) {
  REQUIRE_FIXTURES(dir);
  for (const std::string file : {"zip.pth", "legacy.pth"}) {
    const std::string bytes = testing::read_file(dir + file);
    const std::string cut_path = temp_path("cut_" + file);
    write_bytes(cut_path, bytes.substr(0, bytes.find("transposed")));
    const Inspection inspection = inspect_pth(cut_path);
    EXPECT_NE(inspection.error.find("truncated"), std::string::npos) << inspection.error;
    ASSERT_EQ(inspection.tensors.size(), 10u) << file;  // f32 ... special
    EXPECT_EQ(inspection.tensors.front().name, "f32");
    EXPECT_EQ(inspection.tensors.back().name, "special");
    for (const TensorInfo& t : inspection.tensors) EXPECT_FALSE(t.complete);
    EXPECT_NE(error_of([&] { load_pth(cut_path); }).find("truncated"), std::string::npos);
    fs::remove(cut_path);
  }
}

// Loads and inspects the file cut every `cut_step` bytes and with bytes changed every
// `change_step` bytes; anything but success or graft::Error fails (a crash fails the whole run).
void expect_only_errors(const std::string& source, size_t cut_step, size_t change_step) {
  const std::string bytes = testing::read_file(source);
  const std::string path = temp_path("fuzz.pth");
  auto attempt = [&](const std::string& damaged, const std::string& how) {
    write_bytes(path, damaged);
    try {
      load_pth(path);
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << source << " " << how << ": " << typeid(e).name() << ": " << e.what();
    }
    inspect_pth(path);  // noexcept: an escaping exception would terminate
  };
  for (size_t n = 0; n < bytes.size(); n += cut_step) attempt(bytes.substr(0, n), "cut at " + std::to_string(n));
  for (size_t i = 0; i < bytes.size(); i += change_step) {
    const char original = bytes[i];
    for (const char changed : {'\x00', '\xff', static_cast<char>(original ^ 0x80)}) {
      std::string damaged = bytes;
      damaged[i] = changed;
      attempt(damaged, "byte " + std::to_string(i) + " changed");
    }
  }
  fs::remove(path);
}

TEST(Pth, TruncatedOrCorruptedFixturesNeverCrash) {
  REQUIRE_FIXTURES(dir);
  expect_only_errors(dir + "zip.pth", 2, 5);
  expect_only_errors(dir + "legacy.pth", 2, 5);
  expect_only_errors(dir + "no_directory.pth", 7, 11);
  expect_only_errors(dir + "tar.pth", 17, 23);
}

// ---- the published torchvision checkpoints (first bytes of each; see ../shared/data/README.md)

std::string fragment(const std::string& name) {
  return std::string(GRAFT_SOURCE_DIR) + "/../shared/data/published-fragments/" + name;
}

#define REQUIRE_FRAGMENTS()                                                                          \
  if (!fs::exists(fragment("resnet18-f37072fd.head.pth"))) {                                         \
    GTEST_SKIP() << "skipped: ../shared/data/published-fragments is absent (it exists on development " \
                    "machines and in CI)";                                                           \
  }

// torchvision's resnet18 state dict as the published files order it: each batch norm lists its
// running statistics before its weight and bias.
std::vector<std::pair<std::string, Shape>> resnet18_tensors() {
  std::vector<std::pair<std::string, Shape>> out;
  auto bn = [&](const std::string& prefix, int64_t c) {
    for (const char* n : {"running_mean", "running_var", "weight", "bias"}) out.push_back({prefix + "." + n, {c}});
  };
  out.push_back({"conv1.weight", {64, 3, 7, 7}});
  bn("bn1", 64);
  int64_t in = 64;
  for (int layer = 1; layer <= 4; ++layer) {
    const int64_t planes = 64 << (layer - 1);
    for (int block = 0; block < 2; ++block) {
      const std::string p = "layer" + std::to_string(layer) + "." + std::to_string(block) + ".";
      out.push_back({p + "conv1.weight", {planes, in, 3, 3}});
      bn(p + "bn1", planes);
      out.push_back({p + "conv2.weight", {planes, planes, 3, 3}});
      bn(p + "bn2", planes);
      if (block == 0 && layer > 1) {
        out.push_back({p + "downsample.0.weight", {planes, in, 1, 1}});
        bn(p + "downsample.1", planes);
      }
      in = planes;
    }
  }
  out.push_back({"fc.weight", {1000, 512}});
  out.push_back({"fc.bias", {1000}});
  return out;
}

TEST(PthPublished, BothResNet18FilesListEveryTensor) {
  REQUIRE_FRAGMENTS();
  const auto expected = resnet18_tensors();
  ASSERT_EQ(expected.size(), 102u);
  for (const auto& [file, layout] : std::vector<std::pair<std::string, std::string>>{
           {"resnet18-f37072fd.head.pth", "zip"}, {"resnet18-5c106cde.head.pth", "tar"}}) {
    SCOPED_TRACE(file);
    const Inspection inspection = inspect_pth(fragment(file));
    EXPECT_EQ(inspection.layout, layout);
    ASSERT_EQ(inspection.tensors.size(), 102u) << inspection.error;
    size_t complete = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const TensorInfo& t = inspection.tensors[i];
      EXPECT_EQ(t.name, expected[i].first);
      EXPECT_EQ(t.shape, expected[i].second) << t.name;
      EXPECT_EQ(t.strides, contiguous_strides(t.shape)) << t.name;
      EXPECT_EQ(t.dtype, "float32") << t.name;
      EXPECT_EQ(t.storage_offset, 0) << t.name;
      complete += t.complete;
    }
    EXPECT_GT(complete, 0u);  // the storages at the head of the file are all there
    EXPECT_LT(complete, 102u);
    EXPECT_NE(inspection.error.find("truncated"), std::string::npos) << inspection.error;
    const std::string message = error_of([&] { load_pth(fragment(file)); });
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_TRUE(looks_like_pth(fragment(file)));
  }
}

TEST(PthPublished, ResNet50MetadataIsComplete) {
  REQUIRE_FRAGMENTS();
  const Inspection inspection = inspect_pth(fragment("resnet50-19c8e357.head.pth"));
  EXPECT_EQ(inspection.layout, "tar");
  ASSERT_EQ(inspection.tensors.size(), 267u);  // 2017 batch norms have no num_batches_tracked
  std::map<std::string, Shape> shapes;
  for (const TensorInfo& t : inspection.tensors) {
    shapes[t.name] = t.shape;
    EXPECT_EQ(t.dtype, "float32");
    EXPECT_EQ(t.strides, contiguous_strides(t.shape)) << t.name;
  }
  EXPECT_EQ(inspection.tensors.front().name, "conv1.weight");
  EXPECT_EQ(inspection.tensors.back().name, "fc.bias");
  EXPECT_EQ(shapes["conv1.weight"], (Shape{64, 3, 7, 7}));
  EXPECT_EQ(shapes["layer1.0.conv1.weight"], (Shape{64, 64, 1, 1}));
  EXPECT_EQ(shapes["layer1.0.downsample.0.weight"], (Shape{256, 64, 1, 1}));
  EXPECT_EQ(shapes["layer3.5.conv2.weight"], (Shape{256, 256, 3, 3}));
  EXPECT_EQ(shapes["layer4.2.conv3.weight"], (Shape{2048, 512, 1, 1}));
  EXPECT_EQ(shapes["layer4.2.bn3.running_var"], (Shape{2048}));
  EXPECT_EQ(shapes["fc.weight"], (Shape{1000, 2048}));
  EXPECT_NE(inspection.error.find("truncated"), std::string::npos) << inspection.error;
  EXPECT_NE(error_of([&] { load_pth(fragment("resnet50-19c8e357.head.pth")); }).find("truncated"), std::string::npos);
}

TEST(PthPublished, FragmentsCutAnywhereNeverCrash) {
  REQUIRE_FRAGMENTS();
  for (const std::string file : {"resnet18-f37072fd.head.pth", "resnet18-5c106cde.head.pth"}) {
    const std::string bytes = testing::read_file(fragment(file)).substr(0, 40000);  // the metadata and a few storages
    const std::string path = temp_path("fragment.pth");
    for (size_t n = 0; n < bytes.size(); n += 97) {
      write_bytes(path, bytes.substr(0, n));
      EXPECT_FALSE(error_of([&] { load_pth(path); }).empty()) << file << " cut at " << n;
      inspect_pth(path);
    }
    fs::remove(path);
  }
}

}  // namespace
}  // namespace graft
