"""Time-to-quality: what a fixed training budget buys, the lab's `train` (fit + callbacks) beside a bare loop.

Both train the `dcgan` preset on the same real faces for the same wall-clock budget (the budget starts before the
first step, so graph tracing is inside it), then each generator draws the same 2,000 latent vectors and the samples
are scored against real faces: KID, FID and the automatic judge's GQ/DQ/PQ.

  python benchmarks/time_to_quality.py --faces ../shared/anime_faces_calib --minutes 20

The lab side is exactly what `python -m animegan_tf train --preset dcgan --data FACES --max-minutes 20` does (per-epoch
sample grids, loss plot, history.csv and checkpoints included). The bare side is the update of
train_throughput.py's bare loop over the same models and the same tf.data pipeline, with nothing else. The runs are
sequential (lab, then bare) on an otherwise idle machine. The faces are read in place; their decoded cache goes to a
temporary folder, never into the checkout.
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

from animegan_tf import runs  # noqa: E402
from animegan_tf.config import preset  # noqa: E402
from animegan_tf.data import ingest, make_dataset, steps_per_epoch  # noqa: E402
from animegan_tf.evaluate import evaluate_images, reference_sample  # noqa: E402
from animegan_tf.training import build_gan, compute_dtype, generate, load_generator, train  # noqa: E402
from train_throughput import bare_loop  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def train_lab(cfg, faces, faces_path, run_dir, minutes):
    start = time.perf_counter()
    train(cfg, faces, run_dir, max_minutes=minutes, verbose=0, data_source=faces_path)
    seconds = time.perf_counter() - start
    meta = runs.checkpoint_meta(run_dir)
    steps = meta["epoch"] * steps_per_epoch(len(faces), cfg.batch_size) + meta["step_in_epoch"]
    return load_generator(run_dir), steps, seconds


def train_bare(cfg, faces, minutes):
    gan = build_gan(cfg)
    step = bare_loop(gan, cfg, jit=False)
    dataset = make_dataset(faces, cfg.batch_size, epochs=cfg.epochs, seed=cfg.seed, dtype=compute_dtype(cfg))
    start, steps = time.perf_counter(), 0
    for real in dataset:
        float(step(real))  # wait for the step, so the clock below sees finished work
        steps += 1
        if time.perf_counter() - start > minutes * 60:
            break
    return gan.generator, steps, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", required=True, help="folder (or .zip) of real anime faces")
    ap.add_argument("--minutes", type=float, default=20.0, help="training budget of each side")
    ap.add_argument("--samples", type=int, default=2000, help="samples scored per side")
    ap.add_argument("--ref", type=int, default=2000, help="real faces in the reference sample")
    ap.add_argument("--out", default=None, help="folder for the lab's run folder and report.json")
    ap.add_argument("--only", choices=("lab", "bare"), default=None, help="train one side only")
    args = ap.parse_args()
    if not Path(args.faces).exists():
        ap.error(f"--faces {args.faces} does not exist")

    out = Path(args.out or tempfile.mkdtemp(prefix="ttq-"))
    out.mkdir(parents=True, exist_ok=True)
    faces, _ = ingest(args.faces, image_size=64, cache_dir=Path(tempfile.gettempdir()) / "animegan_ttq_cache")
    cfg = preset("dcgan").replace(epochs=10_000)  # the budget, not the epoch count, ends both runs
    print(f"{len(faces)} faces, {args.minutes:g} min per side, precision {compute_dtype(cfg)}", flush=True)

    generators = {}
    if args.only in (None, "lab"):
        generators["lab (fit)"] = train_lab(cfg, faces, args.faces, out / "lab-run", args.minutes)
    if args.only in (None, "bare"):
        generators["bare loop"] = train_bare(cfg, faces, args.minutes)

    reference = reference_sample(faces, args.ref)  # its features are computed once and cached on disk
    report = {"date": time.strftime("%Y-%m-%d"), "faces": len(faces), "minutes": args.minutes,
              "samples": args.samples, "ref": args.ref, "results": {}}
    for name, (generator, steps, seconds) in generators.items():
        scores = evaluate_images(generate(generator, args.samples, seed=0), reference)
        row = {"steps": steps, "seconds": round(seconds, 1),
               "img_per_s": round(steps * cfg.batch_size / seconds, 1),
               "epochs": round(steps / steps_per_epoch(len(faces), cfg.batch_size), 2),
               **{k: scores[k] for k in ("kid", "kid_std", "fid", "gq_pct", "dq_pct", "pq_pct")}}
        report["results"][name] = row
        print(f"{name:10s} {row['steps']:5d} steps ({row['epochs']:.1f} epochs, {row['img_per_s']:.1f} img/s)  "
              f"KID {row['kid']:.4f} ± {row['kid_std']:.4f}  FID {row['fid']:7.2f}  "
              f"GQ {row['gq_pct']:5.1f}%  DQ {row['dq_pct']:5.1f}%  PQ {row['pq_pct']:5.1f}%", flush=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
