"""Which BatchNorm statistics should the averaged generator sample with? Measured on a trained run.

The averaged (EMA) generator of a run is scored three ways, on the same latents, against real faces:

  averaged     the moving statistics averaged along with the weights, in the compiled step (what the lab keeps)
  copied       the averaged weights with the raw generator's moving statistics (StyleGAN2-ADA copies buffers)
  recomputed   the averaged weights with statistics re-estimated from one batch of --recompute fresh latents

plus the raw generator for scale. FID and KID ± std only (the judge's detector adds nothing to a ranking of
statistics and costs as much again).

  python benchmarks/ema_batchnorm.py --run RUN_FOLDER --faces ../shared/anime_faces_calib --samples 1000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from animegan_tf import runs
from animegan_tf.quality import inception, metrics  # noqa: E402
from animegan_tf.data import ingest  # noqa: E402
from animegan_tf.quality.evaluate import reference_sample  # noqa: E402
from animegan_tf.sampling import generate, load_generator  # noqa: E402


def batchnorms(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_statistics(generator, n: int, seed: int = 123):
    """Moving mean/variance of every BatchNorm := the statistics of one training-mode pass over n latents."""
    layers = batchnorms(generator)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0  # moving = batch statistics
    z = np.random.default_rng(seed).standard_normal((n, generator.input_shape[-1])).astype(np.float32)
    generator(z, training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a run folder trained with ema_decay > 0")
    ap.add_argument("--faces", required=True, help="the real faces it trained on (folder or .zip)")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--ref", type=int, default=2000)
    ap.add_argument("--recompute", type=int, default=1024, help="latents in the re-estimating batch")
    args = ap.parse_args()
    for path in (args.run, args.faces):
        if not Path(path).exists():
            ap.error(f"{path} does not exist")
    if not runs.load_config(Path(args.run)).ema_decay:
        ap.error(f"{args.run} keeps no averaged generator (ema_decay = 0)")

    faces, _ = ingest(args.faces, image_size=64, cache_dir=Path(tempfile.gettempdir()) / "animegan_ttq_cache")
    ref = metrics.reference_features(reference_sample(faces, args.ref))["feats"]
    raw = load_generator(Path(args.run), ema=False)
    variants = {"averaged": load_generator(Path(args.run))}
    copied = load_generator(Path(args.run))
    for mine, theirs in zip(batchnorms(copied), batchnorms(raw)):
        mine.moving_mean.assign(theirs.moving_mean)
        mine.moving_variance.assign(theirs.moving_variance)
    variants["copied"] = copied
    recomputed = load_generator(Path(args.run))
    recompute_statistics(recomputed, args.recompute)
    variants["recomputed"] = recomputed
    variants["raw generator"] = raw

    report = {"date": time.strftime("%Y-%m-%d"), "run": str(args.run), "epoch": runs.checkpoint_meta(Path(args.run)),
              "samples": args.samples, "ref": len(ref), "results": {}}
    for name, generator in variants.items():
        feats = inception.inception_features(generate(generator, args.samples, seed=0))
        k = metrics.kid(feats, ref)
        f = metrics.fid(feats, ref, method="eigh", warn_small=False)["fid"]
        report["results"][name] = {"fid": round(f, 2), "kid": round(k["kid_mean"], 4), "kid_std": round(k["kid_std"], 4)}
        print(f"{name:14s} FID {f:7.2f}  KID {k['kid_mean']:.4f} ± {k['kid_std']:.4f}", flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
