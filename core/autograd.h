#pragma once
// The autograd engine. Each differentiable op that runs while gradients are enabled and has an
// input that requires grad records a Node: the function that maps the gradient of its output to
// the gradients of its inputs. Tensor::backward walks these nodes in reverse topological order
// and accumulates gradients into the leaves (tensors created with requires_grad).
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace graft {

// An input of a node: either the node that produced it, or a leaf that collects its gradient.
struct Edge {
  std::shared_ptr<Node> node;        // set when the input was produced by an op
  std::shared_ptr<TensorImpl> leaf;  // set when the input is a leaf that requires grad
  bool requires_grad() const { return node || leaf; }
};

struct Node {
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Gradients with respect to each input (same order as `inputs`), given the gradient of the
  // output. An entry may be undefined when needs_grad(i) is false.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Drops the tensors saved for backward (after a backward pass without retain_graph).
  virtual void release_saved() {}

  bool needs_grad(size_t i) const { return inputs[i].requires_grad(); }

  std::vector<Edge> inputs;
  bool released = false;
};

// Whether ops record the graph (on by default, per thread).
bool grad_enabled();

// Disables graph recording in its scope (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op over `inputs` must record a node: grad mode is on and an input requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches `node` as the grad_fn of `output`, with edges to `inputs` (undefined inputs become
// edges that need no gradient). Call only when any_requires_grad(inputs).
void record(Tensor& output, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs);

// Runs the backward pass from `root` (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

}  // namespace graft
