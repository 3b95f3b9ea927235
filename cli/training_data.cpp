#include "cli/training_data.h"

#include "core/device.h"
#include "core/error.h"
#include "data/augment.h"

namespace graft::cli {
namespace {

data::Preprocess preprocess_of(const Args& args) {
  const std::string mode = args.get("preprocess", "imagenet");
  if (mode == "imagenet") return data::Preprocess::imagenet;
  if (mode == "none") return data::Preprocess::none;
  fail("--preprocess must be imagenet or none, got '", mode, "'");
}

data::Augment augment_of(const Args& args) {
  const std::string mode = args.get("augment", "default");
  if (mode == "default") return data::Augment::standard;
  if (mode == "none") return data::Augment::none;
  fail("--augment must be default or none, got '", mode, "'");
}

// --input-size N: the network's input (crop) size; ImageNet preprocessing resizes the shorter
// side to N / 0.875 first (256 for 224), as torchvision's recipes do.
int64_t input_size(const Args& args) {
  const int64_t size = args.get_int("input-size", 224);
  GRAFT_CHECK(size >= 8, "--input-size must be at least 8, got ", size);
  return size;
}

int64_t resize_of(int64_t crop) { return static_cast<int64_t>(crop / 0.875 + 0.5); }

data::LoaderOptions loader_options(const Args& args) {
  data::LoaderOptions options;
  options.batch_size = args.get_int("batch-size", 32);
  GRAFT_CHECK(options.batch_size > 0, "--batch-size must be positive, got ", options.batch_size);
  options.workers = args.get_int("workers", 2);
  GRAFT_CHECK(options.workers >= 0, "--workers must not be negative, got ", options.workers);
  options.seed = static_cast<uint64_t>(args.get_int("seed", 0));
  options.pin_memory = Device::parse(args.get("device", "cpu")).is_cuda();
  const std::string bad = args.get("bad-images", "error");
  GRAFT_CHECK(bad == "error" || bad == "skip", "--bad-images must be error or skip, got '", bad, "'");
  options.bad_images = bad == "skip" ? data::BadImagePolicy::skip : data::BadImagePolicy::error;
  return options;
}

}  // namespace

std::unique_ptr<data::Loader> make_train_loader(const data::FileList& files, const Args& args) {
  data::LoaderOptions options = loader_options(args);
  options.shuffle = !args.flag("no-shuffle");
  options.drop_last = args.flag("drop-last");
  auto dataset = std::make_shared<data::ImageFileDataset>(
      files, data::make_train_transform(augment_of(args), preprocess_of(args), input_size(args),
                                                resize_of(input_size(args))));
  return std::make_unique<data::Loader>(dataset, options);
}

std::unique_ptr<data::Loader> make_eval_loader(const data::FileList& files, const Args& args) {
  data::LoaderOptions options = loader_options(args);
  options.shuffle = false;
  auto dataset = std::make_shared<data::ImageFileDataset>(files, data::make_eval_transform(preprocess_of(args), input_size(args),
                                                                                  resize_of(input_size(args))));
  return std::make_unique<data::Loader>(dataset, options);
}

}  // namespace graft::cli
