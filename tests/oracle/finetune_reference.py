#!/usr/bin/python3
"""Reference fine-tuning runs for graft's training-parity tests.

Usage: finetune_reference.py OUT_DIR CASE PHOTO...      (CASE: sgd, frozen, adamw or weighted)

Builds a small two-class image folder from real photos (64x64 PNGs: the photos and their mirror
images and crops, so both sides decode the same pixels), writes resnet18's seeded initial weights
with a new 2-class head (torch.save, zip layout), then trains torchvision's resnet18 for 20 steps
in one of four configurations, in training mode, on the images in ImageFolder order without shuffling
or augmentation (ToTensor + ImageNet Normalize), batch size 4:

  sgd:     SGD lr 2e-5, momentum 0.9, weight decay 1e-4, everything trainable
  frozen:  the same with conv1, bn1 and layer1 frozen (batch-norm statistics still update)
  adamw:   AdamW lr 3e-6 for the backbone and 3e-5 for fc, weight decay 0.01
  weighted: SGD lr 1e-5, momentum 0.9, weight decay 1e-4, with class weights (1, 3) and label
           smoothing 0.1 in the loss, and the gradients of 2 batches accumulated per step (each
           batch's loss halved; the step's loss is their mean): 10 epochs, 40 forward passes. At
           lr 2e-5 this case is chaotic: torch's own float32 run drifts from float64 by 7e-4 in the
           loss and 2.6e-3 in the running variances; at 1e-5 by 3e-5 and 2.8e-4.

Batch-norm weights, biases and running statistics are randomized, as a trained network's are. The
setup is chosen so that float32 rounding grows little over the 20 steps. With torchvision's
zero-initialized batch-norm biases, or at SGD lr 5e-5 and above, or AdamW lr 1e-5, the runs are
chaotic: float32 and float64 drift apart by 1e-3 to 1e-1 within 20 steps, and no implementation
could match another to 1e-3.

The reference trains in float64 (from the same float32 initial weights and images): it is the
exact run that every float32 implementation approximates. Torch's own float32 run is not a stable
reference across processors: on a 2-core AMD EPYC (AVX2) its losses stayed within 4e-6 relative
of float64 in all three cases, but on an Intel Xeon with AVX-512 its sgd case drifted by 2.9e-3 by
step 20, while graft's float32 run on that Xeon stayed within 4e-5 of float64 (frozen: torch 5e-7,
graft 5e-7; adamw: torch 1e-6, graft 9e-6).

It writes OUT_DIR/<name>.json (the loss of every step, before the update) and
OUT_DIR/<name>.safetensors (the final state dict, in float64). Graft runs the same with
`graft finetune`, in float32.
"""
import json
import os
import sys

import torch
import torchvision
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_eval import write_safetensors  # noqa: E402

STEPS = 20
BATCH = 4
SIZE = 64
CASES = ("sgd", "frozen", "adamw", "weighted")


def make_images(out_dir, photos):
    """Two classes of eight 64x64 PNGs each: every photo seen whole, mirrored and cropped."""
    root = os.path.join(out_dir, "images")
    for c, cls in enumerate(["class_a", "class_b"]):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        chosen = photos[c::2]
        index = 0
        for photo in chosen:
            base = Image.open(photo).convert("RGB")
            w, h = base.size
            views = [base, ImageOps.mirror(base), base.crop((0, 0, w // 2, h // 2)),
                     base.crop((w // 2, h // 2, w, h))]
            for view in views:
                if index == 8:
                    break
                view.resize((SIZE, SIZE), Image.BILINEAR).save(os.path.join(root, cls, f"{index:02d}.png"))
                index += 1
    return root


def build_model():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=2)
    # Non-trivial running statistics, so that the loaded buffers matter, and affine parameters.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.8, 1.2)
                module.weight.uniform_(0.8, 1.2)
                module.bias.uniform_(-0.1, 0.1)
    return model


def train(name, root, init_path, out_dir):
    model = build_model()
    model.load_state_dict(torch.load(init_path))
    model.double()
    if name == "frozen":
        for prefix in ("conv1.", "bn1.", "layer1."):
            for pname, p in model.named_parameters():
                if pname.startswith(prefix):
                    p.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if name == "adamw":
        head = [p for n, p in model.named_parameters() if n.startswith("fc.")]
        body = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
        optimizer = torch.optim.AdamW([{"params": body, "lr": 3e-6}, {"params": head, "lr": 3e-5}],
                                      weight_decay=0.01)
    else:
        lr = 1e-5 if name == "weighted" else 2e-5
        optimizer = torch.optim.SGD(trainable, lr=lr, momentum=0.9, weight_decay=1e-4)
    transform = torchvision.transforms.Compose([
        torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    dataset = torchvision.datasets.ImageFolder(root, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=False)
    weighted = name == "weighted"
    class_weights = torch.tensor([1.0, 3.0], dtype=torch.float64)
    accumulate = 2 if weighted else 1
    model.train()
    losses = []
    while len(losses) < STEPS:
        step_loss = 0.0
        optimizer.zero_grad()
        for index, (images, labels) in enumerate(loader):
            logits = model(images.double())
            if weighted:
                loss = torch.nn.functional.cross_entropy(logits, labels, weight=class_weights, label_smoothing=0.1)
            else:
                loss = torch.nn.functional.cross_entropy(logits, labels)
            (loss / accumulate).backward()
            step_loss += loss.item() / accumulate
            if (index + 1) % accumulate == 0:
                losses.append(step_loss)
                optimizer.step()
                optimizer.zero_grad()
                step_loss = 0.0
                if len(losses) == STEPS:
                    break
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump({"losses": losses}, f)
    write_safetensors(os.path.join(out_dir, name + ".safetensors"), model.state_dict())


def main():
    out_dir, name, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
    if name not in CASES:
        sys.exit(f"unknown case {name!r}: use " + ", ".join(CASES))
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    root = make_images(out_dir, photos)
    init_path = os.path.join(out_dir, "init.pth")
    torch.save(build_model().state_dict(), init_path)
    train(name, root, init_path, out_dir)


if __name__ == "__main__":
    main()
