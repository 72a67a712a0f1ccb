"""Make the images of the judge's by-eye reference set (tests/fixtures/judge_eye/images.npz).

Trains the lab's own configurations on real faces and samples them at several stages: the `fast` recipe from its
first epoch (blobs) to 40 epochs (averaged and raw generators), DiffAugment, a learning rate high enough to
distort, the full-width textbook `dcgan` after one and two epochs, seed 003's figure-2 preset that stays noise,
seed 003's scenario 1 that collapses; then blurred, sharpened, downscaled and noisy copies of some of them, and
pure noise and grey. Only generated images are kept: the real faces train the runs and are never stored.

The order is shuffled and the sources are stored beside the images, so they can be labelled blind (look at the
numbered grids of `judge_eye_grids.py`, not at the sources) and analysed afterwards. The images are stored as one
lossless PNG mosaic (images.png, 20 tiles a row), the sources in sources.json.

  python benchmarks/judge_eye_set.py --faces ../shared/anime_faces_calib --out tests/fixtures/judge_eye
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from animegan_tf.config import preset  # noqa: E402
from animegan_tf.data import DataError, ingest  # noqa: E402
from animegan_tf.files import atomic_write_bytes, image_grid, save_png  # noqa: E402
from animegan_tf.sampling import generate, load_generator  # noqa: E402
from animegan_tf.training import train  # noqa: E402

# (name, preset, overrides, epochs at which to sample, samples per stage from each generator)
COLUMNS = 20

SOURCES = [
    ("fast", "fast-v1", {}, (1, 3, 8, 20, 40), 20),
    ("fast-diffaugment", "fast-v1", {"diffaugment": "color,translation,cutout"}, (4, 12), 12),
    ("fast-lr2e-3", "fast-v1", {"g_lr": 2e-3, "d_lr": 2e-3}, (3, 10), 12),
    ("dcgan", "dcgan", {}, (1, 2), 12),
    ("scenario2-fig2", "scenario2-fig2", {"precision": "float32"}, (2,), 24),
    ("scenario1", "scenario1", {}, (3, 10), 12),
]


def blur(image, radius):
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def sharpen(image):
    return np.asarray(Image.fromarray(image).filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3)))


def down_up(image, side=32):
    small = Image.fromarray(image).resize((side, side), Image.BICUBIC)
    return np.asarray(small.resize(image.shape[:2][::-1], Image.BICUBIC))


def noisy(image, sigma, rng):
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


# (name, function, how many) applied to samples of the later stages of the runs that draw faces
TRANSFORMS = [
    ("blur1.0", lambda im, rng: blur(im, 1.0), 25),
    ("blur1.5", lambda im, rng: blur(im, 1.5), 15),
    ("unsharp", lambda im, rng: sharpen(im), 15),
    ("down32", lambda im, rng: down_up(im), 10),
    ("noise20", lambda im, rng: noisy(im, 20, rng), 15),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", required=True, help="folder of real 64x64 anime faces to train on")
    ap.add_argument("--out", required=True, help="folder to write images.png and sources.json to")
    ap.add_argument("--runs", default=None, help="folder for the run folders (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        faces, _ = ingest(args.faces, 64, cache_dir=Path(tempfile.gettempdir()) / "animegan_calib_cache")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    faces = np.asarray(faces)
    runs_root = Path(args.runs or tempfile.mkdtemp(prefix="judge_eye_runs_"))
    images, sources = [], []
    for name, preset_name, overrides, stages, n in SOURCES:
        run_dir = runs_root / name
        for i, epochs in enumerate(stages):
            cfg = preset(preset_name).replace(epochs=epochs, **overrides)
            t = time.time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                train(cfg, faces, run_dir, resume=i > 0, verbose=0)
            kinds = ("ema", "raw") if cfg.ema_decay else ("raw",)
            for kind in kinds:
                # a different latent seed per stage and generator: the set is not one face seen many times
                seed = 1000 * (len(images) + 1) + args.seed
                batch = generate(load_generator(run_dir, ema=kind == "ema"), n, seed=seed)
                images.extend(batch)
                sources.extend([f"{name}/epoch{epochs}/{kind}"] * n)
            print(f"{name} epoch {epochs}: {time.time() - t:.0f} s, {len(images)} images so far", flush=True)

    rng = np.random.default_rng(args.seed)
    # transformed copies of samples from runs past their first stages (where the faces are)
    pool = [i for i, s in enumerate(sources) if s.split("/")[0] in ("fast", "fast-diffaugment")
            and int(s.split("/")[1][5:]) >= 8]
    picks = rng.choice(pool, sum(count for _, _, count in TRANSFORMS), replace=False)
    start = 0
    for tname, fn, count in TRANSFORMS:
        for i in picks[start:start + count]:
            images.append(fn(images[i], rng))
            sources.append(f"{sources[i]}+{tname}")
        start += count
    for k in range(4):
        images.append(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        sources.append("uniform-noise")
    for value in (128, 200):
        images.append(np.full((64, 64, 3), value, np.uint8))
        sources.append(f"constant-{value}")

    order = rng.permutation(len(images))
    images = np.stack(images)[order].astype(np.uint8)
    sources = [sources[i] for i in order]
    out = Path(args.out)
    save_png(image_grid(images, cols=COLUMNS), out / "images.png")  # lossless, and a picture of the whole set
    atomic_write_bytes(out / "sources.json", (json.dumps({"n": len(images), "tile": 64, "columns": COLUMNS,
                                                          "sources": sources}, indent=0) + "\n").encode())
    print(f"{len(images)} images -> {out / 'images.png'} ({(out / 'images.png').stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
