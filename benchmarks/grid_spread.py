"""The grid shape spread (records.grid_spread) of real faces, next to every committed record's grid.

Draws 16 random real faces `--draws` times, lays each draw out as the notebooks lay out a generator's 16 faces
(files.image_grid) and measures its spread; then reads the spread of every record under notebooks/results. Real faces
give the range a varied generator should reach; a collapsed run (one face shape in every cell) is near 0.

  python benchmarks/grid_spread.py --faces ../shared/anime_faces_calib --draws 20

The real faces are read in place and never copied.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from animegan_tf import records
from animegan_tf.data import load_array
from animegan_tf.files import image_grid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", required=True, help="folder of real 64x64 anime faces")
    ap.add_argument("--draws", type=int, default=20, help="random draws of 16 faces")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
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
