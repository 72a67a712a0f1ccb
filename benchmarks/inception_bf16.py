"""The FID-Inception pass in bfloat16 against float32, side by side: speed, and how far FID, KID and the judge's
verdicts move.

  python benchmarks/inception_bf16.py --faces ../shared/anime_faces_calib --n 2000 --repeats 3 \\
      --samples bench/screen/samples/fast-seed0-400kimg-ema.npy bench/screen/samples/fast-v1-seed0-200kimg-ema.npy

Each sample set (.npy of uint8 generated faces, e.g. recipe_screen.py's) and N real faces (a fixed sample) are
featurised in both precisions, the two alternating over `--repeats` rounds (the s/1000 images reported are
medians); FID and KID (real vs samples) are computed within each precision, and judge v2's verdicts on the same
features are compared sample by sample. Run it on an otherwise idle machine for the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from animegan_tf.data import ingest  # noqa: E402
from animegan_tf.quality import inception, metrics  # noqa: E402
from animegan_tf.quality.evaluate import reference_sample  # noqa: E402
from animegan_tf.quality.judge import judge  # noqa: E402
from animegan_tf.machine import cpu_name  # noqa: E402


def featurise(images, precision, repeats, timings):
    feats = None
    for _ in range(repeats):
        t = time.perf_counter()
        feats = inception.inception_features(images, precision=precision)
        timings[precision].append((time.perf_counter() - t) / len(images) * 1000)
    return feats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", required=True, help="folder of real 64x64 faces")
    ap.add_argument("--samples", nargs="+", required=True, help=".npy files of generated uint8 faces")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="JSON file for the results")
    args = ap.parse_args()

    faces = ingest(args.faces, 64, cache_dir=Path(tempfile.gettempdir()) / "animegan_calib_cache")[0]
    real = reference_sample(np.asarray(faces), args.n, seed=12345)
    timings = {"float32": [], "bfloat16": []}
    for precision in ("float32", "bfloat16"):  # build (and trace) both before timing anything
        inception.inception_features(real[:50], precision=precision)
    real_feats = {}
    for i in range(args.repeats):  # alternate which precision goes first
        for precision in (("float32", "bfloat16") if i % 2 == 0 else ("bfloat16", "float32")):
            real_feats[precision] = featurise(real, precision, 1, timings)
    rows = []
    for path in args.samples:
        images = np.load(path)[: args.n]
        feats = {p: featurise(images, p, 1, timings) for p in ("bfloat16", "float32")}
        row = {"samples": Path(path).name, "n": len(images), "n_real": len(real)}
        for p in ("float32", "bfloat16"):
            fid = metrics.fid(feats[p], real_feats[p], warn_small=False)["fid"]
            kid = metrics.kid(feats[p], real_feats[p], subsets=100, subset_size=min(1000, len(images) // 2), seed=0)
            verdicts = judge(images, features=feats[p])["labels"]
            row[p] = {"fid": fid, "kid": kid["kid_mean"], "kid_std": kid["kid_std"], "verdicts": verdicts}
        a, b = row["float32"], row["bfloat16"]
        row["fid_rel_diff_pct"] = 100 * (b["fid"] - a["fid"]) / a["fid"]
        row["kid_diff_in_std"] = (b["kid"] - a["kid"]) / a["kid_std"]
        row["verdicts_changed_pct"] = 100 * float(np.mean(np.array(a["verdicts"]) != np.array(b["verdicts"])))
        for p in ("float32", "bfloat16"):
            row[p]["tally"] = {c: row[p]["verdicts"].count(c) for c in ("GQ", "DQ", "PQ")}
            del row[p]["verdicts"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"), "threads": os.cpu_count(),
              "s_per_1000": {p: float(np.median(v)) for p, v in timings.items()},
              "timings_s_per_1000": timings, "rows": rows}
    print(f"s per 1,000 images (median): float32 {result['s_per_1000']['float32']:.1f}, "
          f"bfloat16 {result['s_per_1000']['bfloat16']:.1f} on {result['cpu']}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
