#!/usr/bin/python3
"""PyTorch eager FP32 on the GPU: the training step that bench_cuda_train_step times for graft.

One SGD step (momentum 0.9) of torchvision's resnet18 / resnet50 in training mode on random
3x224x224 images and random labels with cross-entropy, TF32 off for matmuls and convolutions
(graft's reference precision), cudnn.benchmark on. Prints one line per model: "NAME IMAGES_PER_SECOND".

    python3 bench/torch_gpu_train_step.py --batch 64 --steps 10 resnet18 resnet50
"""
import argparse

import torch
import torchvision


def images_per_second(name, batch, steps):
    model = getattr(torchvision.models, name)(num_classes=1000).cuda().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, 224, 224, device="cuda")
    labels = torch.randint(0, 1000, (batch,), device="cuda")

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    for _ in range(3):  # cuDNN's algorithm search and the caching allocator warm up
        step()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        step()
    stop.record()
    stop.synchronize()
    return batch * steps / (start.elapsed_time(stop) / 1e3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    for name in args.models:
        print(name, f"{images_per_second(name, args.batch, args.steps):.1f}", flush=True)


if __name__ == "__main__":
    main()
