// graft predict: classify images with a model and its weights, printing the top-k classes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_setup.h"
#include "cli/weights_file.h"
#include "core/autograd.h"
#include "data/image.h"
#include "data/transforms.h"
#include "models/registry.h"
#include "nn/default_init.h"
#include "weights/json.h"
#include "weights/registry.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft predict --model NAME --weights FILE|imagenet [options] IMAGE...

Classifies each image and prints its top-k classes with probabilities.
  --model NAME           resnet18/34/50/101/152, vgg11/13/16/19, vgg11_bn/13_bn/16_bn/19_bn
  --weights FILE         a .pth (any torch layout) or .safetensors file, or 'imagenet' for the
                         published torchvision weights (downloaded into $GRAFT_HOME once)
  --topk K               classes to show per image (default 5)
  --preprocess MODE      imagenet: resize the shorter side to 256, center-crop 224 (default);
                         none: the image already has the model's input size, only scale and normalize
  --device cpu|cuda[:N]  where the model runs (default cpu)
  --json                 one JSON object per image and line:
                         {"image": PATH, "top": [{"index": I, "label": NAME, "prob": P, "logit": L}, ...]}
)";

struct Ranked {
  int64_t index;
  double prob, logit;
};

// Softmax over one row of logits, computed in double, highest probabilities first.
std::vector<Ranked> rank(const float* logits, int64_t classes, int64_t topk) {
  const double max_logit = *std::max_element(logits, logits + classes);
  double total = 0;
  for (int64_t c = 0; c < classes; ++c) total += std::exp(static_cast<double>(logits[c]) - max_logit);
  std::vector<Ranked> all(classes);
  for (int64_t c = 0; c < classes; ++c) {
    all[c] = {c, std::exp(static_cast<double>(logits[c]) - max_logit) / total, logits[c]};
  }
  const int64_t k = std::min(topk, classes);
  std::partial_sort(all.begin(), all.begin() + k, all.end(), [](const Ranked& a, const Ranked& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.index < b.index);
  });
  all.resize(k);
  return all;
}

std::string label_of(int64_t index, int64_t classes) {
  if (classes == 1000) return weights::imagenet_class_names()[index];
  return "class " + std::to_string(index);
}

void print_result(const std::string& image, const std::vector<Ranked>& top, int64_t classes, bool json_out) {
  if (json_out) {
    std::string line = "{\"image\": " + json::quote(image) + ", \"top\": [";
    for (size_t i = 0; i < top.size(); ++i) {
      char numbers[96];
      std::snprintf(numbers, sizeof numbers, ", \"prob\": %.8g, \"logit\": %.8g}", top[i].prob, top[i].logit);
      line += (i ? ", " : "") + std::string("{\"index\": ") + std::to_string(top[i].index) +
              ", \"label\": " + json::quote(label_of(top[i].index, classes)) + numbers;
    }
    std::printf("%s]}\n", line.c_str());
    return;
  }
  std::printf("%s\n", image.c_str());
  for (size_t i = 0; i < top.size(); ++i) {
    std::printf("  %zu. %6.2f%%  %s (%lld)\n", i + 1, 100 * top[i].prob, label_of(top[i].index, classes).c_str(),
                static_cast<long long>(top[i].index));
  }
}

}  // namespace

int run_predict(const std::vector<std::string>& argv) {
  const Args args(argv, {"model", "weights", "topk", "preprocess", "device"}, {"json", "help"});
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string model_name = args.get("model", ""), source = args.get("weights", "");
  const std::string preprocess = args.get("preprocess", "imagenet");
  const int64_t topk = args.get_int("topk", 5);
  GRAFT_CHECK(!model_name.empty() && !source.empty(), "--model and --weights are required; see --help");
  GRAFT_CHECK(!args.positional().empty(), "no images given; see --help");
  GRAFT_CHECK(topk > 0, "--topk must be positive, got ", topk);
  GRAFT_CHECK(preprocess == "imagenet" || preprocess == "none", "--preprocess must be imagenet or none, got '",
              preprocess, "'");
  const Device device = device_option(args);

  const nn::StateDict state = read_weights(source, model_name);
  const int64_t classes = head_classes(state);
  GRAFT_CHECK(classes > 0, "the weights hold no classifier head (fc.weight or classifier.6.weight); "
              "predict needs a full classifier");
  std::shared_ptr<nn::Module> model;
  {
    nn::SkipInitGuard skip_init;  // every weight is loaded right below
    model = models::create(model_name, {.num_classes = classes});
  }
  model->load_state_dict(state, /*strict=*/true);
  model->eval();
  model->to(device);
  NoGradGuard no_grad;

  weights::Preprocessing pre;  // torchvision's ImageNet evaluation preprocessing
  const data::Normalization stats{pre.mean, pre.std};
  int failures = 0;
  for (const std::string& path : args.positional()) {
    try {
      const data::Image image = data::load_image(path);
      const Tensor input = preprocess == "imagenet"
                               ? data::imagenet_eval_transform(image, pre.resize, pre.crop, stats)
                               : data::to_tensor_only(image, stats);
      const Tensor logits = (*model)(input.unsqueeze(0).to(device)).to(Device::cpu()).contiguous();
      print_result(path, rank(logits.data<float>(), classes, topk), classes, args.flag("json"));
    } catch (const Error& e) {
      std::fprintf(stderr, "graft predict: error: %s: %s\n", path.c_str(), e.what());
      ++failures;
    }
    std::fflush(stdout);
  }
  return failures ? 1 : 0;
}

}  // namespace graft::cli
