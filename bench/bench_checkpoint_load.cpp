// Loading a checkpoint into a model against reading the file's bytes, warm and cold page cache.
//   GRAFT_BENCH_CHECKPOINT=resnet50.pth build/bench/bench_checkpoint_load
// (bench/checkpoint_load.sh writes a torchvision resnet50 checkpoint and runs this.)
// Cold runs evict the file's pages with posix_fadvise(DONTNEED) before each iteration.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/registry.h"
#include "nn/default_init.h"
#include "weights/pth.h"

namespace {

std::string checkpoint_path() {
  const char* path = std::getenv("GRAFT_BENCH_CHECKPOINT");
  return path ? path : "";
}

void evict_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void BM_ReadFileBytes(benchmark::State& state) {
  const std::string path = checkpoint_path();
  if (path.empty()) return state.SkipWithError("set GRAFT_BENCH_CHECKPOINT to a .pth file");
  const bool cold = state.range(0) != 0;
  std::vector<char> buffer(1 << 22);
  int64_t bytes = 0;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      evict_from_page_cache(path);
      state.ResumeTiming();
    }
    FILE* f = std::fopen(path.c_str(), "rb");
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) bytes += static_cast<int64_t>(n);
    std::fclose(f);
  }
  state.SetBytesProcessed(bytes);
  state.SetLabel(cold ? "cold cache" : "warm cache");
}

void BM_LoadIntoResNet50(benchmark::State& state) {
  const std::string path = checkpoint_path();
  if (path.empty()) return state.SkipWithError("set GRAFT_BENCH_CHECKPOINT to a .pth file");
  const bool cold = state.range(0) != 0;
  std::shared_ptr<graft::nn::Module> model;
  {
    graft::nn::SkipInitGuard skip;
    model = graft::models::create("resnet50");
  }
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      evict_from_page_cache(path);
      state.ResumeTiming();
    }
    const graft::Checkpoint checkpoint = graft::load_pth(path);
    model->load_state_dict(checkpoint.tensors, /*strict=*/true);
  }
  state.SetLabel(cold ? "cold cache" : "warm cache");
}

BENCHMARK(BM_ReadFileBytes)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_LoadIntoResNet50)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
