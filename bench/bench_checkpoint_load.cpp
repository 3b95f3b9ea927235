// Loading a checkpoint into a model against reading the file's bytes, warm and cold page cache.
//   GRAFT_BENCH_CHECKPOINT=resnet50.pth build/bench/bench_checkpoint_load
// (bench/checkpoint_load.sh writes a torchvision resnet50 checkpoint and runs this.)
// Cold runs evict the file's pages with posix_fadvise(DONTNEED) before each iteration; warm runs
// start from the page cache as reading the file leaves it (see cache_as_read).
// The reference reads the file with fread into a reused, page-aligned 4 MiB buffer: the least
// work that touches every byte (the buffer stays in cache; on some CPUs a kernel copy into a
// buffer misaligned by 16 bytes runs several times slower, so the alignment is not left to
// malloc). BM_ReadFileIntoOneBuffer reads it into memory that holds the whole file, as a loader
// must; the model's tensors are that memory for BM_LoadIntoResNet50.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

// Leaves the whole file in the page cache as reading it front to back does, so that every warm run
// starts alike. How the pages got there matters: faulting a mapping in, in scattered order (as
// loading through the mapping did), caches the file in single pages, and copying out of those
// costs about twice the CPU time of copying out of the large folios that sequential reads leave.
void cache_as_read(const std::string& path) {
  evict_from_page_cache(path);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return;
  std::vector<char> chunk(1 << 20);
  while (std::fread(chunk.data(), 1, chunk.size(), f) > 0) {
  }
  std::fclose(f);
}

// A page-aligned, zero-filled buffer (the pages are touched, as a model's tensors are).
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : data(static_cast<char*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096))), size(n) {
    std::memset(data, 0, size);
  }
  ~AlignedBuffer() { std::free(data); }
  char* data;
  size_t size;
};

// Reads the whole file with fread in 4 MiB requests, each into the start of the buffer or, with
// `advance`, into the next part of it (the buffer then holds the whole file).
void read_file(benchmark::State& state, size_t buffer_size, bool advance) {
  const std::string path = checkpoint_path();
  if (path.empty()) return state.SkipWithError("set GRAFT_BENCH_CHECKPOINT to a .pth file");
  const bool cold = state.range(0) != 0;
  AlignedBuffer buffer(buffer_size);
  const size_t step = 1 << 22;
  int64_t bytes = 0;
  if (!cold) cache_as_read(path);
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      evict_from_page_cache(path);
      state.ResumeTiming();
    }
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return state.SkipWithError("cannot open the GRAFT_BENCH_CHECKPOINT file");
    size_t n, at = 0;
    while ((n = std::fread(buffer.data + at, 1, std::min(step, buffer.size - at), f)) > 0) {
      bytes += static_cast<int64_t>(n);
      if (advance) at += n;
    }
    std::fclose(f);
  }
  state.SetBytesProcessed(bytes);
  state.SetLabel(cold ? "cold cache" : "warm cache");
}

void BM_ReadFileBytes(benchmark::State& state) { read_file(state, 1 << 22, /*advance=*/false); }

void BM_ReadFileIntoOneBuffer(benchmark::State& state) {
  const std::string path = checkpoint_path();
  std::error_code error;
  const auto size = path.empty() ? 0 : std::filesystem::file_size(path, error);
  read_file(state, error ? 0 : static_cast<size_t>(size), /*advance=*/true);
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
  if (!cold) cache_as_read(path);
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
BENCHMARK(BM_ReadFileIntoOneBuffer)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_LoadIntoResNet50)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
