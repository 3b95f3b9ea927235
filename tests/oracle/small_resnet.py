#!/usr/bin/python3
"""The CIFAR-style ResNet of He et al. 2016 (section 4.2) in PyTorch, as the reference for
graft's models/small_resnet.h. Blocks are torchvision's BasicBlock with a 1x1 convolution and
batch norm on the shortcut where the shape changes ("option B"), so the state-dict names are
torchvision's ResNet names.

Usage: small_resnet.py DEPTH IN_CHANNELS DIR   writes into DIR, for a model with 5 classes:
    weights.safetensors  the state dict in its order (names, dtypes and shapes are the reference
                         for graft's), with random weights, biases, batch-norm parameters and
                         running statistics
    eval.safetensors     "input" [3, C, 28, 28] and "logits", the eval-mode output
    train.safetensors    one training-mode step: "input" [4, C, 28, 28], "target", "logits",
                         "loss" (cross entropy), "grad:<parameter>" and "after:<buffer>"
"""
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_eval import write_safetensors  # noqa: E402

NUM_CLASSES = 5


class SmallResNet(nn.Module):
    def __init__(self, depth, in_channels, num_classes):
        super().__init__()
        assert (depth - 2) % 6 == 0
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.inplanes = 16
        self.layer1 = self._make_layer(16, blocks, 1)
        self.layer2 = self._make_layer(32, blocks, 2)
        self.layer3 = self._make_layer(64, blocks, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def _make_layer(self, planes, blocks, stride):
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            downsample = None
            if s != 1 or self.inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=s, bias=False),
                                           nn.BatchNorm2d(planes))
            layers.append(BasicBlock(self.inplanes, planes, s, downsample))
            self.inplanes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@torch.no_grad()
def randomize(model, in_channels):
    """Random biases and batch-norm affine parameters, and running statistics near those of real
    activations (one cumulative pass), perturbed so that they are not exactly batch statistics."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            p.uniform_(-0.2, 0.2)
    for bn in bns:
        bn.weight.uniform_(0.5, 1.5)
        bn.momentum = None
        bn.reset_running_stats()
    model.train()
    model(torch.randn(8, in_channels, 28, 28))
    for bn in bns:
        bn.momentum = 0.1
        bn.running_mean.add_(0.1 * torch.randn_like(bn.running_mean) * bn.running_var.sqrt())
        bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.8, 1.25))
        bn.num_batches_tracked.fill_(int(torch.randint(1, 10000, ())))


def write_fixtures(depth, in_channels, directory):
    os.makedirs(directory, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(depth * 10 + in_channels)
    model = SmallResNet(depth, in_channels, NUM_CLASSES)
    randomize(model, in_channels)
    write_safetensors(os.path.join(directory, "weights.safetensors"),
                      {k: v.clone() for k, v in model.state_dict().items()})

    model.eval()
    x = torch.randn(3, in_channels, 28, 28)
    with torch.no_grad():
        logits = model(x)
    write_safetensors(os.path.join(directory, "eval.safetensors"), {"input": x, "logits": logits})

    model.train()
    x = torch.randn(4, in_channels, 28, 28)
    target = torch.randint(0, NUM_CLASSES, (4,))
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    result = {"input": x, "target": target, "logits": logits.detach(), "loss": loss.detach()}
    for key, p in model.named_parameters():
        result["grad:" + key] = p.grad
    for key, b in model.named_buffers():
        result["after:" + key] = b
    write_safetensors(os.path.join(directory, "train.safetensors"), result)


if __name__ == "__main__":
    if len(sys.argv) == 4:
        write_fixtures(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
