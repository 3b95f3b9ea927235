#!/usr/bin/python3
"""PyTorch eager FP32: the training step that graft's step benchmarks time, on the CPU or the GPU.

One SGD step (lr 0.01, momentum 0.9) of torchvision's resnet18 / resnet50 in training mode on
random 3x224x224 images and random labels with cross-entropy. On the GPU, TF32 is off for matmuls
and convolutions (graft's reference precision) and cudnn.benchmark is on; the time is the mean of
--steps steps between CUDA events. On the CPU the time is the fastest of --steps steps (the one
least disturbed by other work on the machine), with --threads intra-op threads. Prints one line
per model: "NAME IMAGES_PER_SECOND".

    python3 bench/torch_train_step.py --device cuda --batch 64 --steps 10 resnet18 resnet50
    python3 bench/torch_train_step.py --device cpu --threads 2 --batch 8 --steps 4 resnet50
"""
import argparse
import time

import torch
import torchvision


def build_step(name, batch, device):
    model = getattr(torchvision.models, name)(num_classes=1000).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, 224, 224, device=device)
    labels = torch.randint(0, 1000, (batch,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    return step


def gpu_images_per_second(step, batch, steps):
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


def cpu_images_per_second(step, batch, steps):
    step()  # first-touch allocations, oneDNN primitive creation
    fastest = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        step()
        fastest = min(fastest, time.perf_counter() - start)
    return batch / fastest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's own choice)")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    measure = gpu_images_per_second if args.device == "cuda" else cpu_images_per_second
    for name in args.models:
        step = build_step(name, args.batch, args.device)
        print(name, f"{measure(step, args.batch, args.steps):.2f}", flush=True)


if __name__ == "__main__":
    main()
