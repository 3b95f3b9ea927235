#include "cli/model_setup.h"

#include <cstdio>

#include "cli/weights_file.h"
#include "core/cuda_runtime.h"
#include "core/error.h"
#include "core/kernel_choice.h"
#include "models/registry.h"
#include "nn/default_init.h"

namespace graft::cli {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Loads everything of `state` that fits; what does not fit must lie under `head` (may be empty).
void load_except_head(nn::Module& model, const nn::StateDict& state, const std::string& head,
                      const std::string& source) {
  const nn::LoadReport report = model.load_state_dict(state, /*strict=*/false);
  std::string foreign;
  auto note = [&](const std::string& name) {
    if (head.empty() || !starts_with(name, head)) foreign += (foreign.empty() ? "" : ", ") + name;
  };
  for (const auto& name : report.missing) note(name);
  for (const auto& name : report.unexpected) note(name);
  for (const auto& mismatch : report.shape_mismatched) note(mismatch.name);
  GRAFT_CHECK(foreign.empty(), "the weights in ", source, " do not fit this model: ", report.str(),
              "; pass weights written for this architecture (see graft inspect FILE)");
}

}  // namespace

std::string head_prefix(nn::Module& model) {
  std::string last;
  for (const auto& [name, module] : model.named_modules()) {
    if (module->type_name() == "Linear") last = name;
  }
  GRAFT_CHECK(!last.empty(), "the model has no Linear classifier head");
  return last + ".";
}

std::shared_ptr<nn::Module> build_classifier(const std::string& model_name, const std::string& weights,
                                             int64_t classes, bool require_head) {
  GRAFT_CHECK(classes > 0, "the number of classes must be positive, got ", classes);
  GRAFT_CHECK(!require_head || weights != "none", "--weights is required: the trained classifier to use");
  if (weights == "none") return models::create(model_name, {.num_classes = classes});
  const nn::StateDict state = read_weights(weights, model_name);
  const int64_t stored = head_classes(state);
  GRAFT_CHECK(!require_head || stored == classes, "the weights in ", weights, " have a head with ", stored,
              " outputs but the data has ", classes, " classes; pass the weights trained on these classes");
  if (stored == classes) {
    std::shared_ptr<nn::Module> model;
    {
      nn::SkipInitGuard skip_init;  // every tensor is loaded right below
      model = models::create(model_name, {.num_classes = classes});
    }
    model->load_state_dict(state, /*strict=*/true);
    return model;
  }
  // The head is drawn at random (as torch's default init does); the rest comes from the file.
  auto model = models::create(model_name, {.num_classes = classes});
  const std::string head = head_prefix(*model);
  load_except_head(*model, state, head, weights);
  std::fprintf(stderr, "re-initialized the head %s (the weights have %s, the data %lld classes)\n",
               head.substr(0, head.size() - 1).c_str(),
               stored ? (std::to_string(stored) + " outputs").c_str() : "no head",
               static_cast<long long>(classes));
  return model;
}

std::shared_ptr<nn::Module> build_backbone(const std::string& model_name, const std::string& weights) {
  if (weights == "none") return models::create(model_name, {.headless = true});
  std::shared_ptr<nn::Module> model;
  {
    nn::SkipInitGuard skip_init;
    model = models::create(model_name, {.headless = true});
  }
  // Headless models lack the head (and VGG's classifier.6); the checkpoint's copies are ignored.
  nn::StateDict state = read_weights(weights, model_name);
  const nn::LoadReport report = model->load_state_dict(state, /*strict=*/false);
  GRAFT_CHECK(report.missing.empty() && report.shape_mismatched.empty(), "the weights in ", weights,
              " do not fit ", model_name, ": ", report.str());
  return model;
}

Device device_option(const Args& args) {
  const Device device = Device::parse(args.get("device", "cpu"));
  if (device.is_cuda()) {
    GRAFT_CHECK(cuda::built_with_cuda(), "--device ", device.str(), ": this build of graft has no CUDA support; "
                "rebuild with -DGRAFT_CUDA=ON on a machine with the CUDA toolkit, or use --device cpu");
    const int present = cuda::device_count();
    GRAFT_CHECK(device.index < present, "--device ", device.str(), ": ", present, " CUDA device(s) are present; use ",
                present ? "a smaller index or " : "", "--device cpu");
    kernel_choice_str();  // a malformed GRAFT_KERNELS is reported now rather than at the first kernel
  }
  return device;
}

}  // namespace graft::cli
