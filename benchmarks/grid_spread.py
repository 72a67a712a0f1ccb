"""The grid shape spread (records.grid_spread) of real faces, next to every committed record's grid.

Draws 16 random real faces `--draws` times, lays each draw out as the notebooks lay out a generator's 16 faces
(files.image_grid) and measures its spread; then reads the spread of every record under notebooks/results. Real faces
give the range a varied generator should reach; a collapsed run (one face shape in every cell) is near 0.

  python benchmarks/grid_spread.py --faces ../shared/anime_faces_calib --draws 20

With --grids it measures the first 16 faces of grids that other benchmarks wrote (time_to_quality.py's OUT/grids,
recipe_screen.py's 64-face grids), laid out the same way:

  python benchmarks/grid_spread.py --grids bench/ttq_long/grids/*.png

The real faces are read in place and never copied.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from animegan_tf import records
from animegan_tf.data import load_array
from animegan_tf.files import grid_tiles, image_grid


def first_16_spread(grid: np.ndarray, side: int = 64) -> float:
    """The shape spread of a grid's first 16 faces (row by row), laid out as the records lay out theirs."""
    return records.grid_spread(image_grid(grid_tiles(grid, 16, side, grid.shape[1] // side)))


def grids_spread(paths: list[Path]) -> int:
    for path in paths:
        try:
            grid = np.asarray(Image.open(path).convert("RGB"))
        except (OSError, ValueError) as exc:
            print(f"error: {path}: not a readable image ({exc})", file=sys.stderr)
            return 2
        if grid.shape[0] < 4 * 64 or grid.shape[1] < 4 * 64:
            print(f"error: {path}: {grid.shape[1]}x{grid.shape[0]} holds fewer than 16 faces of 64x64", file=sys.stderr)
            return 2
        value = first_16_spread(grid)
        print(f"{path.name}: {value:.3f} {records.grid_state(value)}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", help="folder of real 64x64 anime faces")
    ap.add_argument("--draws", type=int, default=20, help="random draws of 16 faces")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grids", nargs="+", type=Path, help="grid PNGs of 64x64 faces: the spread of each one's first 16")
    args = ap.parse_args()
    if args.grids:
        return grids_spread(args.grids)
    if not args.faces:
        ap.error("give --faces (real faces and the records) or --grids")
    if not os.path.isdir(args.faces):
        print(f"error: --faces {args.faces} is not a folder", file=sys.stderr)
        return 2
    faces = load_array(args.faces)
    rng = np.random.default_rng(args.seed)
    real = [records.grid_spread(image_grid(faces[rng.choice(len(faces), 16, replace=False)]))
            for _ in range(args.draws)]
    print(f"16 real faces ({os.path.basename(os.path.normpath(args.faces))}, {args.draws} draws): "
          f"min {min(real):.3f}  median {np.median(real):.3f}  max {max(real):.3f}")
    print(f"thresholds: collapsed < {records.COLLAPSED:g}, partly collapsed < {records.PARTLY_COLLAPSED:g}")
    for record in records.gather(records.results_root()):
        value = records.spread(record)
        print(f"{record['notebook']}/{record['run']:24s} {value if value is not None else '-':>6}  "
              f"{records.grid_state(value) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
