#include "core/autograd.h"

#include <unordered_map>

#include "core/ops/ops.h"

namespace graft {
namespace {

thread_local bool grad_mode = true;

// Adds `grad` into the gradient a leaf has collected so far. The first gradient is copied so
// a leaf never aliases a tensor that the backward pass still uses elsewhere.
void accumulate_into_leaf(TensorImpl& leaf, const Tensor& grad) {
  GRAFT_CHECK(grad.shape() == leaf.shape, "internal error: gradient of shape ", shape_str(grad.shape()),
              " for a leaf of shape ", shape_str(leaf.shape));
  if (!leaf.grad) {
    leaf.grad = grad.clone().impl_ptr();
    return;
  }
  Tensor existing(leaf.grad);
  existing.copy_(existing + grad);
}

// Every node reachable from `root`, with the number of edges that point at it from other nodes.
std::unordered_map<Node*, int> count_dependencies(Node* root) {
  std::unordered_map<Node*, int> dependencies{{root, 0}};
  std::vector<Node*> stack{root};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->inputs) {
      if (!edge.node) continue;
      auto [it, inserted] = dependencies.try_emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(edge.node.get());
    }
  }
  return dependencies;
}

}  // namespace

bool grad_enabled() { return grad_mode; }

NoGradGuard::NoGradGuard() : previous_(grad_mode) { grad_mode = false; }
NoGradGuard::~NoGradGuard() { grad_mode = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!grad_mode) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(Tensor& output, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs) {
  node->inputs.clear();
  for (const Tensor& t : inputs) {
    Edge edge;
    if (t.defined() && t.requires_grad()) {
      if (t.is_leaf()) {
        edge.leaf = t.impl_ptr();
      } else {
        edge.node = t.grad_fn();
      }
    }
    node->inputs.push_back(std::move(edge));
  }
  output.raw_impl()->grad_fn = std::move(node);
  output.raw_impl()->requires_grad = true;
}

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  GRAFT_CHECK(root.requires_grad(), "backward: the tensor does not require grad and has no grad_fn; "
              "no input of the computation had requires_grad set (or it ran under NoGradGuard)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    GRAFT_CHECK(root.numel() == 1, "backward: a gradient can be created implicitly only for a "
                "one-element output, this one has shape ", shape_str(root.shape()),
                "; pass a gradient of the same shape");
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  GRAFT_CHECK(seed.shape() == root.shape(), "backward: gradient shape ", shape_str(seed.shape()),
              " does not match the output shape ", shape_str(root.shape()));
  seed = seed.detach().to(root.dtype()).to(root.device());

  NoGradGuard no_grad;
  if (root.is_leaf()) {
    accumulate_into_leaf(*root.raw_impl(), seed);
    return;
  }

  Node* root_node = root.grad_fn().get();
  auto dependencies = count_dependencies(root_node);
  std::unordered_map<Node*, Tensor> pending{{root_node, seed}};
  std::vector<Node*> ready{root_node};
  std::vector<Node*> visited;
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    auto grad_it = pending.find(node);
    std::vector<Tensor> grads(node->inputs.size());
    if (grad_it != pending.end()) {  // a node no gradient reached only releases its inputs
      visited.push_back(node);
      GRAFT_CHECK(!node->released, "backward: trying to backward through ", node->name(),
                  " a second time, but its saved tensors were freed after the first backward; "
                  "pass retain_graph = true to the first backward call");
      Tensor grad_output = std::move(grad_it->second);
      pending.erase(grad_it);
      grads = node->backward(grad_output);
      GRAFT_CHECK(grads.size() == node->inputs.size(), "internal error: ", node->name(), " returned ",
                  grads.size(), " gradients for ", node->inputs.size(), " inputs");
    }
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& edge = node->inputs[i];
      if (edge.leaf && grads[i].defined()) accumulate_into_leaf(*edge.leaf, grads[i]);
      if (!edge.node) continue;
      Node* next = edge.node.get();
      if (grads[i].defined()) {
        auto it = pending.find(next);
        if (it == pending.end()) {
          pending.emplace(next, grads[i]);
        } else {
          it->second = it->second + grads[i];
        }
      }
      if (--dependencies[next] == 0) ready.push_back(next);
    }
  }
  if (!retain_graph) {
    for (Node* node : visited) {
      node->release_saved();
      node->released = true;
    }
  }
}

}  // namespace graft
