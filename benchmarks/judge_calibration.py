"""Calibrate the automatic GQ/DQ/PQ judge on real anime faces, and time FID/KID on this machine.

Judges N real 64x64 crops against M *other* real crops (the reference), then the same N faces degraded three ways.
The expected shape (the quality issue's figures, measured elsewhere with 2,000 vs 2,000): real faces mostly GQ,
Gaussian noise sigma=25 mostly DQ (still faces, off the manifold), Gaussian blur sigma=2.5 and uniform noise PQ.

  python benchmarks/judge_calibration.py --faces ../shared/anime_faces_calib --n 1000 --ref 2000

The real faces are read from their folder and never copied anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from animegan_tf import quality
from animegan_tf.quality import inception, metrics  # noqa: E402
from animegan_tf.data import ingest  # noqa: E402


def gaussian_noise(images, sigma, rng):
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8)


def gaussian_blur(images, sigma):
    return np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(sigma))) for im in images])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", required=True, help="folder of real 64x64 anime faces")
    ap.add_argument("--n", type=int, default=1000, help="faces judged per condition")
    ap.add_argument("--ref", type=int, default=2000, help="other faces used as the reference")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if not os.path.exists(args.faces):
        ap.error(f"--faces {args.faces} does not exist")
    # decoded into a temporary cache, never into the checkout
    faces, _ = ingest(args.faces, image_size=64, cache_dir=Path(tempfile.gettempdir()) / "animegan_calib_cache")
    faces = np.asarray(faces)
    if len(faces) < args.n + args.ref:
        ap.error(f"{args.faces} has {len(faces)} images, need --n + --ref = {args.n + args.ref}")
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(faces))
    judged, reference = faces[order[: args.n]], faces[order[args.n: args.n + args.ref]]

    t = time.perf_counter()
    ref_feats = inception.inception_features(reference)
    feature_seconds = time.perf_counter() - t
    conditions = {
        "real faces": judged,
        "real + Gaussian noise sigma=25": gaussian_noise(judged.astype(np.float64), 25, rng),
        "Gaussian blur sigma=2.5": gaussian_blur(judged, 2.5),
        "uniform noise": rng.integers(0, 256, judged.shape, dtype=np.uint8),
    }
    report = {"date": time.strftime("%Y-%m-%d"), "n": args.n, "ref": args.ref, "conditions": {}}
    detect_seconds = 0.0
    for name, images in conditions.items():
        t = time.perf_counter()
        feats = inception.inception_features(images)
        feature_seconds += time.perf_counter() - t
        t = time.perf_counter()
        verdict = quality.judge(images, {"feats": ref_feats}, features=feats)
        detect_seconds += time.perf_counter() - t
        t = time.perf_counter()
        fid = metrics.fid(feats, ref_feats, method="eigh", warn_small=False)["fid"]
        kid = metrics.kid(feats, ref_feats, subsets=100, subset_size=1000)
        stats_seconds = time.perf_counter() - t
        row = {k: verdict[k] for k in ("gq_pct", "dq_pct", "pq_pct")}
        row.update(fid=round(fid, 2), kid=round(kid["kid_mean"], 4), fid_kid_seconds=round(stats_seconds, 1))
        report["conditions"][name] = row
        print(f"{name:32s} GQ {row['gq_pct']:5.1f}%  DQ {row['dq_pct']:5.1f}%  PQ {row['pq_pct']:5.1f}%  "
              f"FID {fid:7.2f}  KID {kid['kid_mean']:.4f}", flush=True)
    total = args.ref + len(conditions) * args.n
    report["feature_seconds_per_1000"] = round(feature_seconds / total * 1000, 1)
    report["judge_seconds_per_1000_excluding_features"] = round(detect_seconds / (len(conditions) * args.n) * 1000, 1)
    print(f"FID-Inception features: {report['feature_seconds_per_1000']} s per 1,000 images; detector + manifold "
          f"test: {report['judge_seconds_per_1000_excluding_features']} s per 1,000 images")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
