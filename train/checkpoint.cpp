#include "train/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "weights/safetensors.h"

namespace graft::train {
namespace {

constexpr const char* kFormat = "graft training checkpoint 1";

void add_prefixed(nn::StateDict& out, const std::string& prefix, const nn::StateDict& entries) {
  for (const auto& [name, tensor] : entries) out.emplace_back(prefix + name, tensor);
}

// The entries under `prefix`, with the prefix removed.
nn::StateDict take_prefixed(const nn::StateDict& all, const std::string& prefix) {
  nn::StateDict out;
  for (const auto& [name, tensor] : all) {
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), tensor);
  }
  return out;
}

std::string hex64(uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

uint64_t parse_hex64(const std::string& text, const std::string& what) {
  GRAFT_CHECK(text.size() == 16 && text.find_first_not_of("0123456789abcdef") == std::string::npos,
              "checkpoint field ", what, " is not a 64-bit hex number: '", text, "'");
  return std::stoull(text, nullptr, 16);
}

// The RNG state as hex words: s0 s1 s2 s3, whether a normal is cached, and its bits.
std::string encode_rng(const Generator::State& state) {
  uint64_t normal_bits;
  std::memcpy(&normal_bits, &state.cached_normal, sizeof normal_bits);
  std::string text;
  for (uint64_t word : state.s) text += hex64(word) + " ";
  return text + (state.has_cached_normal ? "1 " : "0 ") + hex64(normal_bits);
}

Generator::State decode_rng(const std::string& text) {
  Generator::State state;
  GRAFT_CHECK(text.size() == 4 * 17 + 2 + 16, "checkpoint field rng is malformed: '", text, "'");
  for (int i = 0; i < 4; ++i) state.s[i] = parse_hex64(text.substr(i * 17, 16), "rng");
  state.has_cached_normal = text[68] == '1';
  const uint64_t normal_bits = parse_hex64(text.substr(70, 16), "rng");
  std::memcpy(&state.cached_normal, &normal_bits, sizeof normal_bits);
  return state;
}

const std::string& field(const std::map<std::string, std::string>& metadata, const std::string& key,
                         const std::string& path) {
  auto it = metadata.find(key);
  GRAFT_CHECK(it != metadata.end(), path, ": not a graft training checkpoint (metadata '", key,
              "' missing); pass the folder given to --output of an earlier run");
  return it->second;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const nn::Optimizer& optimizer,
                     const nn::LrSchedule* schedule, const TrainingProgress& progress) {
  nn::StateDict tensors;
  add_prefixed(tensors, "model.", model.state_dict());
  add_prefixed(tensors, "optimizer.", optimizer.state_dict());
  if (schedule) add_prefixed(tensors, "", schedule->state_dict());  // its names start with "schedule."
  char best[32];
  std::snprintf(best, sizeof best, "%.17g", progress.best_top1);
  const std::map<std::string, std::string> metadata = {
      {"format", kFormat},
      {"epochs_done", std::to_string(progress.epochs_done)},
      {"steps_done", std::to_string(progress.steps_done)},
      {"best_top1", best},
      {"best_epoch", std::to_string(progress.best_epoch)},
      {"epochs_without_improvement", std::to_string(progress.epochs_without_improvement)},
      {"rng", encode_rng(progress.rng)},
  };
  safetensors::write(path, tensors, metadata);
}

TrainingProgress load_checkpoint(const std::string& path, nn::Module& model, nn::Optimizer& optimizer,
                                 nn::LrSchedule* schedule) {
  GRAFT_CHECK(std::filesystem::exists(path), "checkpoint ", path, " does not exist; nothing to resume");
  const safetensors::File file = safetensors::read(path);
  GRAFT_CHECK(field(file.metadata, "format", path) == kFormat, path, ": unsupported checkpoint format '",
              file.metadata.at("format"), "'");
  try {
    model.load_state_dict(take_prefixed(file.tensors, "model."), /*strict=*/true);
    optimizer.load_state_dict(take_prefixed(file.tensors, "optimizer."));
    if (schedule) {
      nn::StateDict entries;
      for (const auto& entry : file.tensors) {
        if (entry.first.rfind("schedule.", 0) == 0) entries.push_back(entry);
      }
      schedule->load_state_dict(entries);
    }
  } catch (const Error& e) {
    fail(path, ": the checkpoint does not fit this run (", e.what(),
         "); resume with the same model, freezing, optimizer and schedule options");
  }
  TrainingProgress progress;
  progress.epochs_done = std::stoll(field(file.metadata, "epochs_done", path));
  progress.steps_done = std::stoll(field(file.metadata, "steps_done", path));
  progress.best_top1 = std::stod(field(file.metadata, "best_top1", path));
  progress.best_epoch = std::stoll(field(file.metadata, "best_epoch", path));
  progress.epochs_without_improvement = std::stoll(field(file.metadata, "epochs_without_improvement", path));
  progress.rng = decode_rng(field(file.metadata, "rng", path));
  return progress;
}

}  // namespace graft::train
