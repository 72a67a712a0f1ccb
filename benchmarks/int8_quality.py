"""What storing a generator in int8 costs (animegan_tf/quantize.py): the same latents through the float32 generator
and through its int8 copy, both scored against the same real faces, with the pixel difference and the bytes.

  python benchmarks/int8_quality.py --run animegan_tf/pretrained/fast-v2 --ref-faces ../shared/anime_faces_calib

RUN is any run folder with a generator.keras (a finished run, or a shipped float32 one): both stored forms are
exported from it as they would ship, and each exported folder is loaded and sampled. Scoring as in recipe_screen.py:
2,000 samples against 2,000 real faces drawn with its reference seed, samples seed 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from animegan_tf import runs  # noqa: E402
from animegan_tf.data import DataError  # noqa: E402
from animegan_tf.quality.evaluate import reference_sample  # noqa: E402
from animegan_tf.machine import cpu_name  # noqa: E402
from animegan_tf.sampling import export_generator, generate, load_generator  # noqa: E402

import recipe_screen  # noqa: E402  (beside this script)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a run folder with a generator.keras")
    ap.add_argument("--ref-faces", nargs="+", required=True, metavar="FOLDER", help="real faces to score against")
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    run = Path(args.run)
    missing = [n for n in ("config.json", runs.FINAL_GENERATOR) if not (run / n).exists()]
    if missing:
        print(f"error: {run} has no {' and no '.join(missing)}", file=sys.stderr)
        return 2
    if args.samples < 2:
        print(f"error: --samples must be at least 2, got {args.samples}", file=sys.stderr)
        return 2
    try:
        faces = recipe_screen.load_faces(args.ref_faces)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reference = reference_sample(faces, args.samples, seed=recipe_screen.REFERENCE_SEED)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"float32": runs.export_pretrained(run, Path(tmp) / "float32", {}),
                   "int8": export_generator(run, Path(tmp) / "int8", {}, int8=True)}
        size = {"float32": (folders["float32"] / runs.FINAL_GENERATOR).stat().st_size,
                "int8": (folders["int8"] / runs.INT8_GENERATOR).stat().st_size}
        images = {k: generate(load_generator(folder), args.samples, seed=0) for k, folder in folders.items()}
    diff = np.abs(images["float32"].astype(int) - images["int8"].astype(int))
    print(f"{run.name}: {args.samples} samples each vs {len(reference)} real faces from "
          f"{recipe_screen.set_name(args.ref_faces)}; {cpu_name()}")
    print(f"pixel difference (0-255): mean {diff.mean():.2f}, 99th percentile {np.percentile(diff, 99):.0f}, "
          f"max {diff.max()}")
    for name, batch in images.items():
        score = recipe_screen.evaluate(batch, reference, seed=0)
        print(json.dumps({"stored": name, "bytes": size[name], "fid": round(score["fid"], 2),
                          "kid": round(score["kid"], 5), "kid_std": round(score["kid_std"], 5),
                          "gq_pct": score["gq_pct"], "dq_pct": score["dq_pct"], "pq_pct": score["pq_pct"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
