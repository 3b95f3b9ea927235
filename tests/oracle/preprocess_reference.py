#!/usr/bin/python3
"""PIL and torchvision reference results for graft's image decoding and preprocessing tests.

Usage:
  preprocess_reference.py make-images DIR
      Writes the synthetic test images (fixed content, every PIL mode that converts to RGB, several
      formats and odd sizes) into DIR; see make_images() for the names.
  preprocess_reference.py run JOBS.tsv
      Each line of JOBS.tsv is "INPUT<TAB>EXPRESSION<TAB>OUTPUT". INPUT is opened with PIL and
      converted to RGB, as torchvision's ImageFolder does; EXPRESSION (Python) is evaluated with
      `img` bound to it, `T` = torchvision.transforms (imported only when an expression uses it)
      and `Image` = PIL.Image in scope. A PIL result is written to OUTPUT as binary PPM (lossless);
      a tensor result as raw little-endian float32 in its row-major order.

Run with /usr/bin/python3 (Debian's python3-pil; python3-torchvision for the expressions using T).
"""
import sys

import numpy as np
from PIL import Image


def smooth_noisy_rgb(height, width, seed):
    """Gradients, a saturated band and noise: exercises every weight and the 0/255 clamps."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([255 * x / width, 255 * y / height, 128 + 127 * np.sin(x / 7.0 + y / 11.0)], axis=-1)
    base[height // 3: height // 3 + 5] = 255.0
    noisy = base + rng.normal(0, 40, size=base.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def make_images(directory):
    rgb = Image.fromarray(smooth_noisy_rgb(389, 517, seed=1))
    rgb.save(f"{directory}/landscape.png")
    Image.fromarray(smooth_noisy_rgb(300, 199, seed=2)).save(f"{directory}/portrait.png")
    medium = Image.fromarray(smooth_noisy_rgb(97, 61, seed=3))
    medium.save(f"{directory}/small.png")
    medium.convert("L").save(f"{directory}/gray.jpg", quality=90)
    medium.convert("CMYK").save(f"{directory}/cmyk.jpg", quality=90)

    small = Image.fromarray(smooth_noisy_rgb(37, 53, seed=4))
    rng = np.random.RandomState(5)
    alpha = Image.fromarray(rng.randint(0, 256, size=(37, 53), dtype=np.uint8))
    small.save(f"{directory}/rgb.png")
    small.convert("L").save(f"{directory}/gray.png")
    small.convert("1").save(f"{directory}/bilevel.png")
    rgba = small.copy()
    rgba.putalpha(alpha)
    rgba.save(f"{directory}/rgba.png")
    la = small.convert("L")
    la.putalpha(alpha)
    la.save(f"{directory}/gray_alpha.png")
    small.quantize(colors=200).save(f"{directory}/palette.png")
    small.quantize(colors=4).save(f"{directory}/palette_2bit.png", bits=2)
    small.quantize(colors=16).save(f"{directory}/palette_transparent.png", transparency=3)
    small.save(f"{directory}/rgb.bmp")
    small.quantize(colors=64).save(f"{directory}/palette.gif")
    small.save(f"{directory}/rgb.tga")
    small.save(f"{directory}/rgb.ppm")


def write_result(result, path):
    if isinstance(result, Image.Image):
        result.save(path, format="PPM")
        return
    array = result.detach().cpu().contiguous().numpy() if hasattr(result, "detach") else np.asarray(result)
    array.astype("<f4").tofile(path)


def run(jobs_path):
    with open(jobs_path) as f:
        jobs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    scope = {"Image": Image}
    if any("T." in expression for _, expression, _ in jobs):
        import torchvision.transforms as T
        scope["T"] = T
    for source, expression, output in jobs:
        with Image.open(source) as opened:
            img = opened.convert("RGB")
        write_result(eval(expression, dict(scope, img=img)), output)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make-images":
        make_images(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
