#!/usr/bin/python3
"""torchvision's ResNet and VGG models as references for graft's models tests.

Usage:
  torchvision_models.py spec NAME      prints the state dict of torchvision.models.NAME() as JSON:
                                       [{"name": ..., "dtype": "float32", "shape": [...]}, ...]
                                       in state-dict order
  torchvision_models.py fixtures DIR [NAME...]
                                       writes forward-parity fixtures for all 13 models (or the
                                       ones named: the same values as in the full set) into DIR

For each model NAME the fixtures are:
  NAME.weights.safetensors  a state dict with random weights, biases and batch-norm affine
                            parameters and running statistics (ResNets in float32; VGGs in float16,
                            which halves their 4 GB, with the reference computed from the rounded values)
  NAME.io.safetensors       "input" [1, 3, 64, 64] and "logits", the eval-mode output
and for resnet18 also
  resnet18.train.safetensors  one training-mode step on the same weights: "input" [2, 3, 64, 64],
                            "target", "logits", "loss" (cross entropy), "grad:<parameter>" for every
                            parameter and "after:<buffer>" for every buffer after the step
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import resnet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_eval import write_safetensors  # noqa: E402

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
         "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
INIT_FUNCTIONS = ["kaiming_uniform_", "kaiming_normal_", "uniform_", "normal_", "constant_"]


def print_spec(name):
    # Names, shapes and dtypes do not depend on values: skipping torch's weight initialization
    # makes building a VGG many times faster.
    for function in INIT_FUNCTIONS:
        setattr(torch.nn.init, function, lambda tensor, *args, **kwargs: tensor)
    model = getattr(torchvision.models, name)()
    spec = [{"name": key, "dtype": str(value.dtype).replace("torch.", ""), "shape": list(value.shape)}
            for key, value in model.state_dict().items()]
    print(json.dumps(spec))


def batch_norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def last_norms_of_residual_branches(model):
    blocks = [m for m in model.modules() if isinstance(m, (resnet.BasicBlock, resnet.Bottleneck))]
    return [b.bn2 if isinstance(b, resnet.BasicBlock) else b.bn3 for b in blocks]


@torch.no_grad()
def randomize(model):
    """Random biases and batch-norm parameters, and running statistics close to the statistics
    of real activations (so that eval-mode activations stay of order one through every layer),
    then perturbed so that they are not exactly the batch statistics.
    The last batch norm of each residual branch gets small weights, as in trained ResNets: with
    weights near 1, a deep random ResNet is chaotic and amplifies float32 rounding (ResNet-152's
    logits in float32 and float64 would differ by 3e-4 of their scale; with these, 3e-5)."""
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            p.uniform_(-0.2, 0.2)
    for bn in batch_norms(model):
        bn.weight.uniform_(0.5, 1.5)
    for bn in last_norms_of_residual_branches(model):
        bn.weight.uniform_(0.2, 0.5)
    for bn in batch_norms(model):
        bn.momentum = None  # a cumulative average: after one batch, the batch statistics
        bn.reset_running_stats()
    model.train()
    model(torch.randn(4, 3, 64, 64))
    for bn in batch_norms(model):
        bn.momentum = 0.1
        bn.running_mean.add_(0.1 * torch.randn_like(bn.running_mean) * bn.running_var.sqrt())
        bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.8, 1.25))
        bn.num_batches_tracked.fill_(int(torch.randint(1, 10000, ())))


def write_model_fixtures(name, seed, directory):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)()
    randomize(model)
    storage_dtype = torch.float16 if name.startswith("vgg") else torch.float32
    if storage_dtype != torch.float32:
        with torch.no_grad():  # the reference computes with the values as stored
            for value in model.state_dict().values():
                if value.is_floating_point():
                    value.copy_(value.to(storage_dtype))
    state = {key: value.to(storage_dtype) if value.is_floating_point() else value
             for key, value in model.state_dict().items()}
    write_safetensors(os.path.join(directory, name + ".weights.safetensors"), state)

    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
    write_safetensors(os.path.join(directory, name + ".io.safetensors"), {"input": x, "logits": logits})
    return model


def write_training_step(model, directory):
    model.train()
    x = torch.randn(2, 3, 64, 64)
    target = torch.randint(0, 1000, (2,))
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    result = {"input": x, "target": target, "logits": logits.detach(), "loss": loss.detach()}
    for key, p in model.named_parameters():
        result["grad:" + key] = p.grad
    for key, b in model.named_buffers():
        result["after:" + key] = b
    write_safetensors(os.path.join(directory, "resnet18.train.safetensors"), result)


def write_fixtures(directory, names):
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        sys.exit(f"unknown models {unknown}: use {NAMES}")
    os.makedirs(directory, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for seed, name in enumerate(NAMES):
        if names and name not in names:
            continue
        model = write_model_fixtures(name, seed, directory)
        if name == "resnet18":
            write_training_step(model, directory)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "spec":
        print_spec(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "fixtures":
        write_fixtures(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
