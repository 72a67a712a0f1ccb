"""Evaluate generators: GQ/DQ/PQ by the automatic judge plus FID and KID, for a run folder or an image folder
(`callbacks.QualityMonitor` calls it every K epochs during training).

Every evaluation is a dict appended to `run_dir/metrics.jsonl` (one JSON object per line).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from .. import runs
from ..data import load_array
from ..sampling import generate, load_generator
from . import inception, metrics
from .judge import JUDGE_VERSION, judge

DEFAULT_REFERENCE_SIZE = 2000  # real images in the default reference sample (FID is biased below 2,000)


def reference_sample(images: np.ndarray, n: int = DEFAULT_REFERENCE_SIZE, seed: int = 0) -> np.ndarray:
    """A fixed random sample of real images (the default reference of the judge and of FID/KID)."""
    if len(images) <= n:
        return np.asarray(images)
    picks = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    return np.asarray(images[picks])


def evaluate_images(images: np.ndarray, reference: np.ndarray, with_fid: bool = True, kid_subsets: int = 100,
                    seed: int = 0) -> dict:
    """GQ/DQ/PQ percentages, KID (always) and FID (biased below 2,000 samples: a warning says so)."""
    images = np.asarray(images, dtype=np.uint8)
    ref = metrics.reference_features(np.asarray(reference, dtype=np.uint8))
    feats = inception.inception_features(images)
    # subsets of half the samples (at most 1,000), so that kid_std reflects the samples' spread as well as the
    # reference's (compare.interval reads it)
    kid = metrics.kid(feats, ref["feats"], subsets=kid_subsets, subset_size=max(2, min(1000, len(images) // 2)),
                      seed=seed)
    result = {"n": len(images), "n_ref": int(len(ref["feats"])), "kid": kid["kid_mean"], "kid_std": kid["kid_std"],
              "kid_subset": kid["subset_size"]}
    if with_fid:
        if min(len(images), len(ref["feats"])) < metrics.MIN_RECOMMENDED_SAMPLES:
            warnings.warn(f"FID from {len(images)} samples vs {len(ref['feats'])} references is biased upward "
                          f"(use >= {metrics.MIN_RECOMMENDED_SAMPLES}); compare KID instead", stacklevel=2)
        result["fid"] = metrics.fid(feats, ref["feats"], method="eigh", warn_small=False)["fid"]
    verdict = judge(images, ref, verbose=False, features=feats)
    result.update({k: verdict[k] for k in ("GQ", "DQ", "PQ", "gq_pct", "dq_pct", "pq_pct")}, judge=JUDGE_VERSION)
    return result


def evaluate_run(run_dir, n: int, reference: np.ndarray, seed: int = 0, with_fid: bool = True,
                 record: bool = True, ema: bool = True, state: str = "latest") -> dict:
    """Sample n images from a run's latest generator (the averaged one unless `ema=False`; its best state by KID
    with `state="best"`), evaluate them, and append the result to metrics.jsonl."""
    run_dir = Path(run_dir)
    images = generate(load_generator(run_dir, ema=ema, state=state), n, seed=seed)
    result = evaluate_images(images, reference, with_fid=with_fid, seed=seed)
    meta = (runs.read_meta(run_dir / runs.BEST_CHECKPOINT) if state == "best" else runs.checkpoint_meta(run_dir)) or {}
    averaged = ema and runs.load_config(run_dir).averaged
    result = {"epoch": meta.get("epoch", 0), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "generator": "ema" if averaged else "raw", **({"state": "best"} if state == "best" else {}),
              **({"kimg": meta["images_shown"] / 1000} if "images_shown" in meta else {}), **result}
    if record:
        runs.append_metrics(run_dir, result)
    return result


def format_result(result: dict) -> str:
    parts = [f"GQ {result['gq_pct']:g}%  DQ {result['dq_pct']:g}%  PQ {result['pq_pct']:g}%  (n={result['n']})",
             f"KID {result['kid']:.4f} ± {result['kid_std']:.4f}"]
    if "fid" in result:
        parts.append(f"FID {result['fid']:.2f}")
    return "  |  ".join(parts)


def reference_for(spec: str | None, image_size: int, fallback: np.ndarray | None = None) -> np.ndarray:
    """The reference images for `--ref PATH`, else a sample of `fallback` (the training data)."""
    if spec:
        return reference_sample(load_array(spec, image_size))
    if fallback is None:
        raise ValueError("no reference: pass --ref PATH (a folder/zip of real images, or synthetic)")
    return reference_sample(fallback)
