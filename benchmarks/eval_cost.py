"""What measuring quality during training (`eval_every`) costs a run: one run trains with an evaluation every few
epochs; each evaluation records its wall seconds in metrics.jsonl (draw `eval_samples`, Inception features, KID,
the judge), history.csv records every epoch's training seconds. The measured share is the evaluations' seconds over
the run's training clock (which counts them); the table then gives the share for other cadences and data sizes from
the two medians, since one evaluation costs the same whatever the data and an epoch costs its images / img/s.

  python benchmarks/eval_cost.py --faces ../shared/anime_faces_calib --system fast --epochs 8 --every 2 \\
      --out bench/eval_cost

Run it on an otherwise idle machine: both halves of the ratio are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from animegan_tf import runs  # noqa: E402
from animegan_tf.config import ConfigError  # noqa: E402
from animegan_tf.data import DataError  # noqa: E402
from animegan_tf.machine import cpu_name  # noqa: E402
from animegan_tf.training import train  # noqa: E402
from recipe_screen import load_faces, parse_system  # noqa: E402  (this folder: the screen's systems and faces)


def share(eval_seconds: float, kimg_between: float, s_per_kimg: float) -> float:
    """Fraction of a run's wall-clock spent evaluating, one evaluation every `kimg_between` kimg of training."""
    training = kimg_between * s_per_kimg
    return eval_seconds / (training + eval_seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", nargs="+", required=True, help="folder(s) of real 64x64 faces, read as one set")
    ap.add_argument("--system", default="fast", help="PRESET or PRESET+key=value+... (as recipe_screen.py)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--every", type=int, default=2, help="eval_every of the measured run (epochs)")
    ap.add_argument("--samples", type=int, default=None, help="eval_samples (default: the config's)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[4529, 10528], help="data sizes of the table (faces)")
    ap.add_argument("--cadences", type=int, nargs="+", default=[5, 10, 20], help="eval_every values of the table")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.epochs < 2 * args.every or args.every < 1:
        ap.error("--epochs must allow at least two evaluations (>= 2 x --every)")

    try:
        faces = load_faces(args.faces)
        cfg = parse_system(args.system, seed=0).replace(epochs=args.epochs, eval_every=args.every)
        if args.samples:
            cfg = cfg.replace(eval_samples=args.samples)
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir = Path(args.out) / f"{args.system}-every{args.every}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train(cfg, faces, run_dir, resume=runs.checkpoint_meta(run_dir) is not None, verbose=0,
              data_source=",".join(args.faces))

    evals = [m["seconds"] for m in runs.load_metrics(run_dir) if "seconds" in m]  # those QualityMonitor took
    history = runs.load_history(run_dir)
    meta = runs.checkpoint_meta(run_dir)
    # the first evaluation of a process also builds the Inception network and the reference's features: reported
    # apart, left out of the median (the first epoch's graph tracing is one epoch of several in its median)
    eval_s = float(np.median(evals[1:]))
    s_per_kimg = float(np.nanmedian(np.asarray(history["s_per_kimg"], dtype=float)))
    print(f"{cpu_name()}; {args.system}, {len(faces)} faces, {args.epochs} epochs, eval_every {args.every}, "
          f"{cfg.eval_samples} samples per evaluation")
    print(f"measured: {len(evals)} evaluations, {sum(evals):.1f} s of {meta['train_seconds']:.1f} s training clock "
          f"= {100 * sum(evals) / meta['train_seconds']:.1f} %; first evaluation {evals[0]:.1f} s (builds the "
          f"network), median of the rest {eval_s:.1f} s (all: {', '.join(f'{s:.1f}' for s in evals)}); median epoch "
          f"{s_per_kimg:.2f} s/kimg ({1000 / s_per_kimg:.0f} img/s)")
    print(f"the table leaves out the first evaluation of each process ({evals[0] - eval_s:.0f} s more than the rest)")
    print()
    print("| faces | eval_every | kimg between evaluations | share of wall-clock |")
    print("|---:|---:|---:|---:|")
    for size in args.sizes:
        for every in args.cadences:
            between = every * (size // cfg.batch_size) * cfg.batch_size / 1000  # an epoch is its full batches
            print(f"| {size:,} | {every} | {between:.0f} | {100 * share(eval_s, between, s_per_kimg):.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
