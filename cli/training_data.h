#pragma once
// Loaders for the training commands, configured from their shared options: --batch-size,
// --workers, --seed, --no-shuffle, --drop-last, --bad-images, --augment, --preprocess,
// --input-size, --device.
#include <memory>

#include "cli/args.h"
#include "data/image_folder.h"
#include "data/loader.h"

namespace graft::cli {

// Shuffled (unless --no-shuffle), with the --augment transform.
std::unique_ptr<data::Loader> make_train_loader(const data::FileList& files, const Args& args);
// In file order, every image, with the evaluation transform.
std::unique_ptr<data::Loader> make_eval_loader(const data::FileList& files, const Args& args);

}  // namespace graft::cli
