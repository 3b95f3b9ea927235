#include "train/evaluate.h"

#include "core/autograd.h"
#include "core/ops/ops.h"

namespace graft::train {

ClassificationMetrics evaluate(nn::Module& model, data::Loader& loader, Device device) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  ClassificationMetrics metrics(static_cast<int64_t>(loader.dataset().classes().size()));
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const Tensor labels = batch->labels.to(device);
    const Tensor logits = model(batch->images.to(device));
    GRAFT_CHECK(logits.dim() == 2 && logits.size(1) == metrics.classes(), "evaluate: the model gives ",
                shape_str(logits.shape()), " logits but the data has ", metrics.classes(),
                " classes; set the head's size (--num-classes) to match");
    metrics.add(logits, labels, ops::cross_entropy(logits, labels).item());
  }
  model.train(was_training);
  return metrics;
}

}  // namespace graft::train
