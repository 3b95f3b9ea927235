// Images per second of the training input pipeline: JPEG decoding (stb_image) plus the standard
// augmentation (RandomResizedCrop 224, horizontal flip, ToTensor + Normalize), over the shared
// photos (13 JPEGs, 480x360 to 1800x1200).
//   BM_DecodeAugment:     one image at a time on the calling thread; items_per_second per CPU second.
//   BM_Loader/workers:N:  whole epochs through data::Loader with N worker threads (batch 13, four
//                         passes over the photos per epoch). items_per_second counts the CPU time of
//                         the whole process, so it is the rate of one worker with a core to itself
//                         (and shows the loader's overhead); wall_images_per_s is the rate the
//                         training loop sees, which also depends on how many cores are free.
// The photos are read from ../shared/data/images beside the project, or from GRAFT_BENCH_IMAGES.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "data/augment.h"
#include "data/image_folder.h"
#include "data/loader.h"

namespace {

using namespace graft;

std::vector<std::string> photos() {
  const char* override_dir = std::getenv("GRAFT_BENCH_IMAGES");
  const std::filesystem::path dir =
      override_dir ? std::filesystem::path(override_dir)
                   : std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data" / "images";
  std::vector<std::string> paths;
  if (!std::filesystem::is_directory(dir)) return paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (data::is_image_file(entry.path().filename().string())) paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

void BM_DecodeAugment(benchmark::State& state) {
  const std::vector<std::string> paths = photos();
  if (paths.empty()) return state.SkipWithError("no photos: set GRAFT_BENCH_IMAGES to a folder of JPEGs");
  const data::ImageTransform transform =
      data::make_train_transform(data::Augment::standard, data::Preprocess::imagenet);
  Generator rng(0);
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(transform(data::load_image(paths[next]), rng));
    next = (next + 1) % paths.size();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Loader(benchmark::State& state) {
  const std::vector<std::string> paths = photos();
  if (paths.empty()) return state.SkipWithError("no photos: set GRAFT_BENCH_IMAGES to a folder of JPEGs");
  data::FileList list{{"photo"}, {}};
  for (int pass = 0; pass < 4; ++pass) {
    for (const std::string& path : paths) list.files.push_back({path, 0});
  }
  const auto images = static_cast<int64_t>(list.files.size());
  auto dataset = std::make_shared<data::ImageFileDataset>(
      std::move(list), data::make_train_transform(data::Augment::standard, data::Preprocess::imagenet));
  data::LoaderOptions options;
  options.batch_size = 13;
  options.workers = state.range(0);
  data::Loader loader(dataset, options);
  int64_t epoch = 0;
  double wall_seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    loader.start_epoch(epoch++);
    while (auto batch = loader.next()) benchmark::DoNotOptimize(batch->images.raw_data());
    wall_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  state.SetItemsProcessed(state.iterations() * images);
  state.counters["wall_images_per_s"] = static_cast<double>(state.iterations() * images) / wall_seconds;
}

BENCHMARK(BM_DecodeAugment)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Loader)->ArgName("workers")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
