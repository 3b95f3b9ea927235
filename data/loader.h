#pragma once
// The threaded data loader: batches of a Dataset in a seeded order, decoded and augmented by worker
// threads ahead of the training loop.
//
// Determinism: epoch e's order is a permutation drawn from (seed, e) alone, and sample i's
// augmentation generator is derived from (seed, e, i) alone (data/random.h). A batch therefore
// holds the same samples with the same augmentations whatever the number of workers, the timing of
// the threads, or whether the run was resumed at epoch e. Batches are returned in order.
//
// Threads: each worker claims the next unclaimed batch of the epoch, builds it, and files it by
// number; next() waits (on a condition variable) for the batch it is due to return. Workers may run
// at most workers * prefetch batches ahead of next(). start_epoch during an epoch, and the
// destructor, abandon the batches in flight: workers check between samples and drop stale work.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "data/dataset.h"

namespace graft::data {

// What to do with a sample whose image cannot be read (a graft::Error from Dataset::get).
enum class BadImagePolicy {
  error,  // next() raises the Error, naming the file
  skip,   // the sample is left out of its batch, counted, and reported once per file on stderr
};

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;  // drop the last batch of an epoch when it is smaller than batch_size
  int64_t workers = 2;     // 0 = decode on the calling thread, inside next()
  int64_t prefetch = 2;    // batches queued ahead per worker
  uint64_t seed = 0;
  bool pin_memory = false;  // page-locked host batches for fast copies to CUDA (needs a CUDA build
                            // and a GPU; otherwise the constructor raises an Error)
  BadImagePolicy bad_images = BadImagePolicy::error;
};

struct Batch {
  Tensor images;                 // float32 [N, C, H, W]
  Tensor labels;                 // int64 [N]
  std::vector<int64_t> indices;  // the dataset index of each sample
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~Loader();  // stops and joins the workers, abandoning any epoch in progress
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts epoch `epoch` (>= 0), abandoning the rest of the current one.
  void start_epoch(int64_t epoch);
  // The next batch in order, or std::nullopt at the end of the epoch. An Error from a sample is
  // raised here (naming the file) when its batch is due; the following call goes on with the next
  // batch. With BadImagePolicy::skip, bad samples are left out, and a batch left empty is passed over.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t skipped_images() const;  // samples skipped over the loader's life (each epoch counts again)
  const Dataset& dataset() const;
  const LoaderOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graft::data
