#!/usr/bin/python3
"""torchvision reference results for graft's data pipeline tests (tests/data/).

Usage:
  augment_reference.py folder ROOT OUTPUT
      Lists ROOT with torchvision.datasets.ImageFolder, accepting the extensions graft decodes
      (.jpg .jpeg .png .bmp .ppm .pgm .gif .tga) and, as graft does, no file or folder below ROOT
      whose name starts with '.'. Writes "class<TAB>index" lines for class_to_idx, then
      "path<TAB>label" lines for samples, in torchvision's order.
  augment_reference.py run JOBS.tsv
      Each line of JOBS.tsv is "INPUT<TAB>EXPRESSION<TAB>OUTPUT". INPUT is opened with PIL and
      converted to RGB; EXPRESSION (Python) is evaluated with `img` bound to it and in scope
      F = torchvision.transforms.functional, T = torchvision.transforms, torch, np and Image.
      A PIL result is written to OUTPUT as binary PPM (lossless), anything else (a tensor, an array,
      a tuple of numbers) as raw little-endian float32 in row-major order.

Run with /usr/bin/python3 (Debian's python3-torchvision and python3-pil).
"""
import os
import sys

import numpy as np
from PIL import Image

GRAFT_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".tga")


def list_folder(root, output):
    from torchvision.datasets import ImageFolder

    def is_valid_file(path):
        relative = os.path.relpath(path, root)
        hidden = any(part.startswith(".") for part in relative.split(os.sep))
        return path.lower().endswith(GRAFT_EXTENSIONS) and not hidden

    dataset = ImageFolder(root, loader=lambda path: path, is_valid_file=is_valid_file)
    with open(output, "w") as out:
        for name, index in dataset.class_to_idx.items():
            out.write(f"{name}\t{index}\n")
        for path, label in dataset.samples:
            out.write(f"{path}\t{label}\n")


def write_result(result, path):
    if isinstance(result, Image.Image):
        result.save(path, format="PPM")
        return
    if hasattr(result, "detach"):
        result = result.detach().cpu().contiguous().numpy()
    np.asarray(result, dtype=np.float64).astype("<f4").tofile(path)


def run(jobs_path):
    import torch
    import torchvision.transforms as T
    import torchvision.transforms.functional as F

    with open(jobs_path) as f:
        jobs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    scope = {"F": F, "T": T, "torch": torch, "np": np, "Image": Image}
    opened = {}
    for source, expression, output in jobs:
        if source not in opened:
            with Image.open(source) as image:
                opened[source] = image.convert("RGB")
        write_result(eval(expression, dict(scope, img=opened[source])), output)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "folder":
        list_folder(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
