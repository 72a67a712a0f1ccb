"""Evaluate generators: GQ/DQ/PQ by the automatic judge plus FID and KID, for a run folder, an image folder, or
every K epochs during training (with the best checkpoint kept by KID).

Every evaluation is a dict appended to `run_dir/metrics.jsonl` (one JSON object per line).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import keras
import numpy as np

from . import runs
from .data import load_array

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
    from . import metrics, quality

    images = np.asarray(images, dtype=np.uint8)
    ref = metrics.reference_features(np.asarray(reference, dtype=np.uint8))
    feats = metrics.inception_features(images)
    kid = metrics.kid(feats, ref["feats"], subsets=kid_subsets, subset_size=1000, seed=seed)
    result = {"n": len(images), "n_ref": int(len(ref["feats"])), "kid": kid["kid_mean"], "kid_std": kid["kid_std"]}
    if with_fid:
        if min(len(images), len(ref["feats"])) < metrics.MIN_RECOMMENDED_SAMPLES:
            warnings.warn(f"FID from {len(images)} samples vs {len(ref['feats'])} references is biased upward "
                          f"(use >= {metrics.MIN_RECOMMENDED_SAMPLES}); compare KID instead", stacklevel=2)
        result["fid"] = metrics.fid(feats, ref["feats"], method="eigh", warn_small=False)["fid"]
    verdict = quality.judge(images, ref, verbose=False, features=feats)
    result.update({k: verdict[k] for k in ("GQ", "DQ", "PQ", "gq_pct", "dq_pct", "pq_pct")})
    return result


def evaluate_run(run_dir, n: int, reference: np.ndarray, seed: int = 0, with_fid: bool = True,
                 record: bool = True, ema: bool = True) -> dict:
    """Sample n images from a run's latest generator (the averaged one unless `ema=False`), evaluate them, and
    append the result to metrics.jsonl."""
    from .training import generate, load_generator

    run_dir = Path(run_dir)
    images = generate(load_generator(run_dir, ema=ema), n, seed=seed)
    result = evaluate_images(images, reference, with_fid=with_fid, seed=seed)
    meta = runs.checkpoint_meta(run_dir) or {}
    averaged = ema and runs.load_config(run_dir).ema_decay > 0
    result = {"epoch": meta.get("epoch", 0), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "generator": "ema" if averaged else "raw", **result}
    if record:
        runs.append_metrics(run_dir, result)
    return result


def format_result(result: dict) -> str:
    parts = [f"GQ {result['gq_pct']:g}%  DQ {result['dq_pct']:g}%  PQ {result['pq_pct']:g}%  (n={result['n']})",
             f"KID {result['kid']:.4f} ± {result['kid_std']:.4f}"]
    if "fid" in result:
        parts.append(f"FID {result['fid']:.2f}")
    return "  |  ".join(parts)


class QualityMonitor(keras.callbacks.Callback):
    """Every `every` epochs: KID and the judge's tallies of `n` samples into metrics.jsonl, and
    checkpoints/best.npz kept at the lowest KID so far.

    Place it after the Checkpoint callback (train() does), so `epoch` matches the saved state.
    """

    def __init__(self, run_dir, reference: np.ndarray, every: int = 5, n: int = 500, seed: int = 0):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.reference = np.asarray(reference)
        self.every, self.n, self.seed = every, n, seed
        previous = [m["kid"] for m in runs.load_metrics(self.run_dir) if "kid" in m]
        self.best = min(previous) if previous else float("inf")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or self.model.stop_training:
            return
        from .training import generate

        images = generate(self.model.sampling_generator, self.n, seed=self.seed)
        result = {"epoch": epoch + 1, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  **evaluate_images(images, self.reference, with_fid=False, seed=self.seed)}
        runs.append_metrics(self.run_dir, result)
        if result["kid"] < self.best:
            self.best = result["kid"]
            runs.save_checkpoint(self.run_dir, self.model, epoch=epoch + 1, path=runs.BEST_CHECKPOINT)
        if logs is not None:
            logs["kid"] = result["kid"]


def reference_for(spec: str | None, image_size: int, fallback: np.ndarray | None = None) -> np.ndarray:
    """The reference images for `--ref PATH`, else a sample of `fallback` (the training data)."""
    if spec:
        return reference_sample(load_array(spec, image_size))
    if fallback is None:
        raise ValueError("no reference: pass --ref PATH (a folder/zip of real images, or synthetic)")
    return reference_sample(fallback)
