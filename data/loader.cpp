// The threaded loader (see data/loader.h for the contract).
//
// Shared state, all under one mutex: the epoch's plan (its order and number), the next batch a
// worker may claim, the next batch next() returns, and the finished batches filed by number. A
// plan carries a generation number; start_epoch and the destructor bump the generation, and a
// worker that finishes a batch of an older generation drops it. Workers also poll the generation
// (an atomic) between samples, so abandoning an epoch waits for at most one sample per worker.
#include "data/loader.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "data/collate.h"
#include "data/random.h"

namespace graft::data {
namespace {

// Tags that keep the order stream and the per-sample streams of one seed apart.
constexpr uint64_t kOrderStream = 0x6f72646572;     // "order"
constexpr uint64_t kSampleStream = 0x73616d706c65;  // "sample"

struct Plan {
  uint64_t generation = 0;
  int64_t epoch = 0;
  std::vector<int64_t> order;  // dataset indices in the order of the epoch
  int64_t num_batches = 0;
};

struct Result {
  std::optional<Batch> batch;  // empty when every sample was skipped, or the work was abandoned
  std::exception_ptr error;
};

}  // namespace

class Loader::Impl {
 public:
  Impl(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
      : dataset_(std::move(dataset)), options_(options) {
    GRAFT_CHECK(dataset_ != nullptr, "Loader: no dataset given");
    GRAFT_CHECK(dataset_->size() > 0, "Loader: the dataset is empty; check the folder or list it was made from");
    GRAFT_CHECK(options_.batch_size > 0, "Loader: batch_size must be positive, got ", options_.batch_size);
    GRAFT_CHECK(options_.workers >= 0, "Loader: workers must be 0 (load on the calling thread) or more, got ",
                options_.workers);
    GRAFT_CHECK(options_.prefetch > 0, "Loader: prefetch must be at least 1 batch per worker, got ", options_.prefetch);
    GRAFT_CHECK(!options_.pin_memory || cuda::built_with_cuda(), "Loader: pin_memory needs a build with CUDA; ",
                "turn it off (pinned memory only speeds up copies to a GPU)");
    GRAFT_CHECK(!options_.pin_memory || cuda::device_count() > 0, "Loader: pin_memory needs a CUDA GPU and none ",
                "is available; turn it off (pinned memory only speeds up copies to a GPU)");
    try {
      for (int64_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {
      stop();
      fail("Loader: could not start worker thread ", workers_.size() + 1, " of ", options_.workers, ": ", e.what(),
           "; use fewer workers");
    }
  }

  ~Impl() { stop(); }

  int64_t batches_per_epoch() const {
    const int64_t n = dataset_->size(), size = options_.batch_size;
    return options_.drop_last ? n / size : (n + size - 1) / size;
  }

  void start_epoch(int64_t epoch) {
    GRAFT_CHECK(epoch >= 0, "Loader::start_epoch: the epoch must be non-negative, got ", epoch);
    auto plan = std::make_shared<Plan>();
    plan->epoch = epoch;
    plan->num_batches = batches_per_epoch();
    plan->order.resize(static_cast<size_t>(dataset_->size()));
    for (size_t i = 0; i < plan->order.size(); ++i) plan->order[i] = static_cast<int64_t>(i);
    if (options_.shuffle) {
      Generator rng = derived_generator({options_.seed, static_cast<uint64_t>(epoch), kOrderStream});
      for (int64_t i = static_cast<int64_t>(plan->order.size()) - 1; i > 0; --i) {
        std::swap(plan->order[i], plan->order[random_below(rng, i + 1)]);
      }
    }
    {
      std::lock_guard lock(mutex_);
      plan->generation = ++generation_;
      live_generation_ = plan->generation;
      plan_ = std::move(plan);
      next_claim_ = 0;
      next_out_ = 0;
      results_.clear();
    }
    work_ready_.notify_all();
  }

  std::optional<Batch> next() {
    while (true) {
      Result result;
      if (options_.workers == 0) {
        GRAFT_CHECK(plan_ != nullptr, "Loader::next: no epoch started; call start_epoch(epoch) first");
        if (next_out_ >= plan_->num_batches) return std::nullopt;
        result = produce(*plan_, next_out_++);
      } else {
        std::unique_lock lock(mutex_);
        GRAFT_CHECK(plan_ != nullptr, "Loader::next: no epoch started; call start_epoch(epoch) first");
        if (next_out_ >= plan_->num_batches) return std::nullopt;
        result_ready_.wait(lock, [&] { return results_.count(next_out_) > 0; });
        auto found = results_.find(next_out_);
        result = std::move(found->second);
        results_.erase(found);
        ++next_out_;
        lock.unlock();
        work_ready_.notify_all();  // the prefetch window moved
      }
      if (result.error) std::rethrow_exception(result.error);
      if (result.batch) return std::move(result.batch);
    }
  }

  int64_t skipped_images() const { return skipped_.load(); }
  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return options_; }

 private:
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      live_generation_ = ++generation_;
    }
    work_ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  bool can_claim() const {
    return plan_ != nullptr && next_claim_ < plan_->num_batches &&
           next_claim_ < next_out_ + options_.workers * options_.prefetch;
  }

  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      work_ready_.wait(lock, [&] { return stopping_ || can_claim(); });
      if (stopping_) return;
      const std::shared_ptr<const Plan> plan = plan_;
      const int64_t number = next_claim_++;
      lock.unlock();
      Result result = produce(*plan, number);
      lock.lock();
      if (plan->generation == generation_) {
        results_.emplace(number, std::move(result));
        result_ready_.notify_all();
      }
    }
  }

  // Builds batch `number` of `plan`; every error is captured in the result.
  Result produce(const Plan& plan, int64_t number) {
    Result result;
    try {
      const int64_t begin = number * options_.batch_size;
      const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(plan.order.size()));
      std::vector<Sample> samples;
      std::vector<int64_t> indices;
      for (int64_t position = begin; position < end; ++position) {
        if (live_generation_.load() != plan.generation) return result;  // abandoned
        const int64_t index = plan.order[position];
        Generator rng = derived_generator(
            {options_.seed, static_cast<uint64_t>(plan.epoch), static_cast<uint64_t>(index), kSampleStream});
        try {
          samples.push_back(dataset_->get(index, rng));
          indices.push_back(index);
        } catch (const Error& e) {
          if (options_.bad_images == BadImagePolicy::error) throw_naming_sample(index, e);
          report_skipped(index, e);
        }
      }
      if (!samples.empty()) result.batch = collate(samples, indices, *dataset_, options_.pin_memory);
    } catch (...) {
      result.error = std::current_exception();
    }
    return result;
  }

  // Re-raises a sample's error, prefixed with what the sample is unless the message names it.
  [[noreturn]] void throw_naming_sample(int64_t index, const Error& e) const {
    const std::string what = dataset_->describe(index);
    if (std::string(e.what()).find(what) != std::string::npos) throw e;
    fail(what, ": ", e.what());
  }

  void report_skipped(int64_t index, const Error& e) {
    ++skipped_;
    std::lock_guard lock(warned_mutex_);
    if (warned_.insert(index).second) {
      std::cerr << "warning: skipping " << dataset_->describe(index) << " (bad_images=skip): " << e.what() << "\n";
    }
  }

  const std::shared_ptr<const Dataset> dataset_;
  const LoaderOptions options_;

  std::mutex mutex_;
  std::condition_variable work_ready_;    // a batch can be claimed, or the loader stops
  std::condition_variable result_ready_;  // a batch was filed
  std::shared_ptr<const Plan> plan_;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> live_generation_{0};  // generation_, readable without the mutex
  int64_t next_claim_ = 0;
  int64_t next_out_ = 0;
  std::map<int64_t, Result> results_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  std::atomic<int64_t> skipped_{0};
  std::mutex warned_mutex_;
  std::set<int64_t> warned_;
};

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : impl_(std::make_unique<Impl>(std::move(dataset), options)) {}
Loader::~Loader() = default;
void Loader::start_epoch(int64_t epoch) { impl_->start_epoch(epoch); }
std::optional<Batch> Loader::next() { return impl_->next(); }
int64_t Loader::batches_per_epoch() const { return impl_->batches_per_epoch(); }
int64_t Loader::skipped_images() const { return impl_->skipped_images(); }
const Dataset& Loader::dataset() const { return impl_->dataset(); }
const LoaderOptions& Loader::options() const { return impl_->options(); }

}  // namespace graft::data
