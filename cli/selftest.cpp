// graft selftest: trains a small CNN (conv-bn-relu-pool x2, linear) on Fashion-MNIST for a few
// hundred steps with graft's autograd and CPU kernels, then reports test accuracy. It exercises
// the whole training path end to end and fails if the network does not learn.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/autograd.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "data/idx.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft selftest [options]

Trains a small CNN on Fashion-MNIST with SGD and checks that test accuracy passes a threshold.
  --data DIR          folder with the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)
  --steps N           optimizer steps (default 300)
  --batch-size N      images per step (default 64)
  --lr X              learning rate (default 0.05)
  --seed N            random seed for initialization and shuffling (default 0)
  --min-accuracy X    fail below this test accuracy (default 0.7)
)";

struct Param {
  Tensor value, velocity;
};

Tensor parameter(const Shape& shape, Generator& gen, double fan_in_gain) {
  Tensor t = Tensor::empty(shape);
  if (fan_in_gain > 0) {
    init::kaiming_normal_(t, 0.0, init::FanMode::fan_in, gen);
  } else {
    t.fill_(shape.size() == 1 && fan_in_gain == 0 ? 0.0 : 1.0);
  }
  t.set_requires_grad(true);
  return t;
}

struct SmallCnn {
  Tensor conv1, bn1_weight, bn1_bias, bn1_mean, bn1_var;
  Tensor conv2, bn2_weight, bn2_bias, bn2_mean, bn2_var;
  Tensor fc_weight, fc_bias;

  explicit SmallCnn(Generator& gen)
      : conv1(parameter({8, 1, 3, 3}, gen, 1)),
        bn1_weight(parameter({8}, gen, -1)),
        bn1_bias(parameter({8}, gen, 0)),
        bn1_mean(Tensor::zeros({8})),
        bn1_var(Tensor::ones({8})),
        conv2(parameter({16, 8, 3, 3}, gen, 1)),
        bn2_weight(parameter({16}, gen, -1)),
        bn2_bias(parameter({16}, gen, 0)),
        bn2_mean(Tensor::zeros({16})),
        bn2_var(Tensor::ones({16})),
        fc_weight(parameter({10, 16 * 7 * 7}, gen, 1)),
        fc_bias(parameter({10}, gen, 0)) {}

  std::vector<Tensor> parameters() const {
    return {conv1, bn1_weight, bn1_bias, conv2, bn2_weight, bn2_bias, fc_weight, fc_bias};
  }

  Tensor forward(const Tensor& x, bool training) const {
    Tensor h = ops::conv2d(x, conv1, {}, {1, 1}, {1, 1});
    h = ops::max_pool2d(ops::relu(ops::batch_norm(h, bn1_mean, bn1_var, bn1_weight, bn1_bias, training)), {2, 2});
    h = ops::conv2d(h, conv2, {}, {1, 1}, {1, 1});
    h = ops::max_pool2d(ops::relu(ops::batch_norm(h, bn2_mean, bn2_var, bn2_weight, bn2_bias, training)), {2, 2});
    return ops::linear(h.flatten(1), fc_weight, fc_bias);
  }
};

// Rows `indices[begin, end)` of images [N, ...] and labels [N].
std::pair<Tensor, Tensor> batch(const Tensor& images, const Tensor& labels, const int64_t* indices,
                                int64_t begin, int64_t end) {
  const int64_t row = images.numel() / images.size(0);
  Shape shape = images.shape();
  shape[0] = end - begin;
  Tensor x = Tensor::empty(shape), y = Tensor::empty({end - begin}, DType::i64);
  for (int64_t i = begin; i < end; ++i) {
    std::memcpy(x.data<float>() + (i - begin) * row, images.data<float>() + indices[i] * row, row * sizeof(float));
    y.data<int64_t>()[i - begin] = labels.data<int64_t>()[indices[i]];
  }
  return {x, y};
}

double accuracy(const SmallCnn& model, const Tensor& images, const Tensor& labels) {
  NoGradGuard no_grad;
  int64_t correct = 0;
  const Tensor order = Tensor::arange(images.size(0));
  for (int64_t start = 0; start < images.size(0); start += 500) {
    const int64_t end = std::min(start + 500, images.size(0));
    auto [x, y] = batch(images, labels, order.data<int64_t>(), start, end);
    const Tensor logits = model.forward(x, false);
    const float* l = logits.data<float>();
    for (int64_t i = 0; i < end - start; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < 10; ++c) best = l[i * 10 + c] > l[i * 10 + best] ? c : best;
      correct += best == y.data<int64_t>()[i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(images.size(0));
}

}  // namespace

int run_selftest(const std::vector<std::string>& argv) {
  const Args args(argv, {"data", "steps", "batch-size", "lr", "seed", "min-accuracy"}, {"help"});
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string dir = args.get("data", "/usr/share/datasets/fashion-mnist");
  const int64_t steps = args.get_int("steps", 300), batch_size = args.get_int("batch-size", 64);
  const double lr = args.get_double("lr", 0.05), min_accuracy = args.get_double("min-accuracy", 0.7);
  GRAFT_CHECK(steps > 0 && batch_size > 0 && lr > 0, "--steps, --batch-size and --lr must be positive");
  GRAFT_CHECK(std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"), "Fashion-MNIST was not found in ",
              dir, "; install it with 'apt-get install dataset-fashion-mnist' or pass --data DIR");

  const Tensor train_x = data::read_idx_images(dir + "/train-images-idx3-ubyte.gz", 12000);
  const Tensor train_y = data::read_idx_labels(dir + "/train-labels-idx1-ubyte.gz", 12000);
  const Tensor test_x = data::read_idx_images(dir + "/t10k-images-idx3-ubyte.gz", 2000);
  const Tensor test_y = data::read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz", 2000);
  std::printf("selftest: Fashion-MNIST, %lld training and %lld test images, %lld steps of batch %lld\n",
              static_cast<long long>(train_x.size(0)), static_cast<long long>(test_x.size(0)),
              static_cast<long long>(steps), static_cast<long long>(batch_size));

  Generator gen(static_cast<uint64_t>(args.get_int("seed", 0)));
  SmallCnn model(gen);
  std::vector<Tensor> velocity;
  for (const Tensor& p : model.parameters()) velocity.push_back(Tensor::zeros(p.shape()));

  Tensor order = randperm(train_x.size(0), gen);
  int64_t cursor = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= steps; ++step) {
    if (cursor + batch_size > train_x.size(0)) {
      order = randperm(train_x.size(0), gen);
      cursor = 0;
    }
    auto [x, y] = batch(train_x, train_y, order.data<int64_t>(), cursor, cursor + batch_size);
    cursor += batch_size;
    Tensor loss = ops::cross_entropy(model.forward(x, true), y);
    loss.backward();
    {
      NoGradGuard no_grad;  // SGD with momentum 0.9
      const auto params = model.parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        velocity[i].copy_(velocity[i] * 0.9 + params[i].grad());
        params[i].copy_(params[i] - velocity[i] * lr);
        params[i].set_grad(Tensor());
      }
    }
    if (step % 50 == 0 || step == 1) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("step %4lld  loss %.4f  %.0f images/s\n", static_cast<long long>(step), loss.item(),
                  static_cast<double>(step * batch_size) / seconds);
      std::fflush(stdout);
    }
  }
  const double acc = accuracy(model, test_x, test_y);
  std::printf("test accuracy %.2f%% (threshold %.0f%%)\n", 100 * acc, 100 * min_accuracy);
  if (acc < min_accuracy) {
    std::fprintf(stderr, "graft selftest: error: the network did not learn (accuracy %.3f < %.3f)\n", acc, min_accuracy);
    return 1;
  }
  std::printf("selftest passed\n");
  return 0;
}

}  // namespace graft::cli
