#!/usr/bin/python3
"""Reference predictions for graft predict's parity test.

Usage: predict_reference.py MODEL OUT_DIR IMAGE...

Builds torchvision's MODEL with seeded random weights (batch-norm running statistics and affine
parameters randomized too), writes its state dict in the three .pth layouts (OUT_DIR/MODEL.zip.pth,
.legacy.pth, .tar.pth), crops each IMAGE like Resize(256) + CenterCrop(224) into OUT_DIR/<stem>.png
(so graft and torchvision see the same pixels), and writes OUT_DIR/MODEL.json with torchvision's
logits for each PNG (ToTensor, ImageNet Normalize, eval mode).
"""
import json
import os
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_pth_fixtures import tar_checkpoint  # noqa: E402


def randomized_model(name):
    torch.manual_seed(1234)
    model = getattr(torchvision.models, name)()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    return model.eval()


def cropped_pngs(images, out_dir):
    crop = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    paths = []
    for image in images:
        path = os.path.join(out_dir, os.path.splitext(os.path.basename(image))[0] + ".png")
        if not os.path.exists(path):
            crop(Image.open(image).convert("RGB")).save(path)
        paths.append(path)
    return paths


def main(name, out_dir, images):
    os.makedirs(out_dir, exist_ok=True)
    model = randomized_model(name)
    state = model.state_dict()
    torch.save(state, os.path.join(out_dir, name + ".zip.pth"))
    torch.save(state, os.path.join(out_dir, name + ".legacy.pth"), _use_new_zipfile_serialization=False)
    with open(os.path.join(out_dir, name + ".tar.pth"), "wb") as f:
        f.write(tar_checkpoint(state))
    to_input = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    reference = {}
    with torch.no_grad():
        for path in cropped_pngs(images, out_dir):
            logits = model(to_input(Image.open(path).convert("RGB")).unsqueeze(0))[0]
            reference[path] = logits.tolist()
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
