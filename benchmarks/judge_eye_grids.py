"""Numbered grids of the by-eye reference set, for labelling it by eye (G / D / P, criteria in the fixture's README).

Each image is scaled up by an integer factor without smoothing (nearest neighbour), with its index above it; the
sources (sources.json) are not shown, so the labeller does not know which run or stage an image came from.

  python benchmarks/judge_eye_grids.py --set tests/fixtures/judge_eye --out /tmp/judge_eye_grids
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from animegan_tf.files import grid_tiles

LABEL_HEIGHT = 14


def numbered_grid(images: np.ndarray, first: int, cols: int, scale: int) -> Image.Image:
    side = images.shape[1] * scale
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * (side + 4), rows * (side + LABEL_HEIGHT + 4)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, image in enumerate(images):
        x, y = (k % cols) * (side + 4), (k // cols) * (side + LABEL_HEIGHT + 4)
        draw.text((x + 2, y + 1), str(first + k), fill=(0, 0, 0))
        sheet.paste(Image.fromarray(image).resize((side, side), Image.NEAREST), (x, y + LABEL_HEIGHT))
    return sheet


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, help="the reference set's folder (images.png, sources.json)")
    ap.add_argument("--out", required=True, help="folder for the grid PNGs")
    ap.add_argument("--per-page", type=int, default=48)
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--scale", type=int, default=3)
    args = ap.parse_args()
    folder = Path(args.set)
    if not (folder / "images.png").is_file() or not (folder / "sources.json").is_file():
        print(f"error: {folder} has no images.png and sources.json", file=sys.stderr)
        return 2
    layout = json.loads((folder / "sources.json").read_text())
    images = grid_tiles(np.asarray(Image.open(folder / "images.png").convert("RGB")), layout["n"], layout["tile"],
                        layout["columns"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for page, first in enumerate(range(0, len(images), args.per_page)):
        sheet = numbered_grid(images[first:first + args.per_page], first, args.cols, args.scale)
        sheet.save(out / f"grid_{page:02d}.png")
    print(f"{-(-len(images) // args.per_page)} grids of {len(images)} images in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
