"""Recipe screen at equal images shown: each system trains to each kimg mark in turn (one run folder, resumed from
mark to mark) and is scored at every mark on real faces: FID and KID ± std (N samples vs N real), the judge's
GQ/DQ/PQ, with the wall-clock and CPU seconds and img/s it took on this machine.

  python benchmarks/recipe_screen.py --faces ../shared/anime_faces_calib --systems fast fast+aug_flip=true \\
      --kimg 100 200 --seeds 0 --out bench/screen

Systems are PRESET or PRESET+key=value+… (config overrides, as `--set`). Several --faces folders are read as one
set. Run one screen at a time on an otherwise idle machine: kimg marks are machine-independent, the seconds are
not. Results are appended to OUT/results.jsonl as each point is measured; a system/seed/mark already there is not
measured again, and an interrupted run folder is resumed, so the screen can be continued in a later session.

The reference is 2,000 (--samples) real faces drawn with a fixed seed from --faces, or from --ref-faces to score
against other real faces (e.g. a run on calib + more against the calib faces the calib screens are scored on). Each
row names its reference (older rows, which do not, were scored against --faces); a point already trained and scored
against another reference is scored again from its saved samples, without training:

  python benchmarks/recipe_screen.py --faces ../shared/anime_faces_calib ../shared/anime_faces_more \\
      --ref-faces ../shared/anime_faces_calib --systems fast --kimg 200 400 --seeds 0 --out bench/screen_more

`--averages 10 20 88` keeps averaged generators of those half-lives (kimg) beside the run's own while it trains
(callbacks.ExtraAverages, with the run's ramp) and scores each at the marks it trains to, as generator `ema10k`
etc.: half-lives compared within one run. An average started in a resumed run begins from the run's own average
there; score it only ten half-lives or more after its start.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from animegan_tf import callbacks as cb, runs  # noqa: E402
from animegan_tf.machine import cpu_name  # noqa: E402
from animegan_tf.config import ConfigError, apply_overrides, preset  # noqa: E402
from animegan_tf.data import DataError, ingest, source_name  # noqa: E402
from animegan_tf.files import image_grid, read_jsonl, save_png  # noqa: E402
from animegan_tf.quality.evaluate import evaluate_images, reference_sample  # noqa: E402
from animegan_tf.sampling import generate, load_average, load_generator  # noqa: E402
from animegan_tf.training import target_steps, train  # noqa: E402


REFERENCE_SEED = 12345  # the real faces every screen is scored against: reference_sample(faces, n, REFERENCE_SEED)


def kept_averages(halflives) -> dict[str, int]:
    """The generator name each kept average's rows carry ("ema88k") -> its half-life in images, from half-lives in
    kimg (--averages). ValueError for one under an image."""
    if not all(math.isfinite(h) and h * 1000 >= 1 for h in halflives):
        raise ValueError("half-lives must be at least 0.001 kimg (one image)")
    return {f"ema{h:g}k": round(h * 1000) for h in halflives}


def set_name(folders) -> str:
    """How a row names a set of face folders: their folder names, joined by '+'."""
    return "+".join(source_name(str(f)) for f in folders)


def parse_system(spec: str, seed: int):
    name, *overrides = spec.split("+")
    return apply_overrides(preset(name), overrides).replace(seed=seed)


def load_faces(folders) -> np.ndarray:
    """Several folders of real faces as one uint8 array (decoded once into a cache outside the checkout)."""
    cache = Path(tempfile.gettempdir()) / "animegan_calib_cache"
    return np.concatenate([np.asarray(ingest(f, 64, cache_dir=cache)[0]) for f in folders])


def evaluate(images: np.ndarray, reference: np.ndarray, seed: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return evaluate_images(images, reference, seed=seed)


def append(results: Path, row: dict, label: str) -> None:
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"{label} vs {row['reference']}: FID {row['fid']:.1f} KID {row['kid']:.4f} ± {row['kid_std']:.4f} "
          f"GQ {row['gq_pct']:.1f}% DQ {row['dq_pct']:.1f}% PQ {row['pq_pct']:.1f}% "
          f"({row['train_seconds']:.0f} s training)", flush=True)


def print_table(path: Path) -> int:
    if not path.exists():
        print(f"error: no results yet: {path}", file=sys.stderr)
        return 2
    rows = read_jsonl(path)
    print("| system | seed | kimg | generator | reference | FID | KID ± std | GQ / DQ / PQ % (judge) | s/kimg | "
          "training s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s_per_kimg = f"{1000 / r['img_per_s']:.2f}" if r.get("img_per_s") else "—"
        print(f"| {r['system']} | {r['seed']} | {r['kimg']:g} | {r['generator']} | "
              f"{r.get('reference', 'training faces')} | {r['fid']:.1f} | "
              f"{r['kid']:.4f} ± {r['kid_std']:.4f} | {r['gq_pct']:.1f} / {r['dq_pct']:.1f} / {r['pq_pct']:.1f} "
              f"(v{r.get('judge', 1)}) | {s_per_kimg} | {r['train_seconds']:.0f} |")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", nargs="+", help="folder(s) of real 64x64 faces, read as one set")
    ap.add_argument("--ref-faces", nargs="+", metavar="FOLDER",
                    help="folder(s) of real faces to score against (default: --faces)")
    ap.add_argument("--systems", nargs="+")
    ap.add_argument("--kimg", nargs="+", type=float, help="marks at which to score")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--samples", type=int, default=2000, help="samples scored per mark (and real faces)")
    ap.add_argument("--raw", action="store_true", help="also score the raw generator of averaged runs")
    ap.add_argument("--averages", nargs="+", type=float, default=[], metavar="KIMG",
                    help="also keep and score averaged generators of these half-lives (kimg)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--table", action="store_true", help="only print OUT/results.jsonl as a markdown table")
    args = ap.parse_args()
    if args.table:
        return print_table(Path(args.out) / "results.jsonl")
    if not (args.faces and args.systems and args.kimg):
        ap.error("--faces, --systems and --kimg are required (except with --table)")
    try:
        averages = kept_averages(args.averages)
    except ValueError as exc:
        ap.error(f"--averages: {exc}")

    try:
        faces = load_faces(args.faces)
        ref_folders = args.ref_faces or args.faces
        ref_faces = faces if ref_folders == args.faces else load_faces(ref_folders)
        systems = {(spec, seed): parse_system(spec, seed) for spec in args.systems for seed in args.seeds}
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reference = reference_sample(ref_faces, args.samples, seed=REFERENCE_SEED)
    ref_name = set_name(ref_folders)
    out = Path(args.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    done, trained = set(), {}
    for r in read_jsonl(results):
        point = (r["system"], r["seed"], r["kimg"], r["generator"])
        done.add((*point, r.get("reference", set_name(args.faces))))  # rows without one: the training faces
        trained.setdefault(point, r)
    print(f"{len(faces)} faces from {', '.join(args.faces)}, scored against {len(ref_faces)} from "
          f"{', '.join(ref_folders)}; {cpu_name()}", flush=True)

    for (spec, seed), cfg in systems.items():
        run_dir = out / "runs" / f"{spec}-seed{seed}"
        for mark in sorted(args.kimg):
            generators = ["ema", "raw"] if cfg.ema_decay and args.raw else ["ema" if cfg.ema_decay else "raw"]
            generators += list(averages)
            todo = [g for g in generators if (spec, seed, mark, g, ref_name) not in done]
            if not todo:
                continue
            tags = {g: f"{spec}-seed{seed}-{mark:g}kimg-{g}" for g in todo}
            saved = {g: out / "samples" / f"{tags[g]}.npy" for g in todo}
            for g in [g for g in todo if (spec, seed, mark, g) in trained and saved[g].exists()]:
                # scored before against another reference: score the same samples again
                images = np.load(saved[g])
                t = time.perf_counter()
                score = evaluate(images, reference, seed)
                row = {**trained[(spec, seed, mark, g)], **score, "reference": ref_name,
                       "eval_seconds": round(time.perf_counter() - t, 1), "scored": time.strftime("%Y-%m-%d")}
                append(results, row, f"{spec} seed {seed} {mark:g} kimg {g} (saved samples)")
                todo.remove(g)
            if not todo:
                continue
            before = runs.checkpoint_meta(run_dir) or {}
            if runs.images_shown(before, cfg, len(faces)) > target_steps(mark, cfg.batch_size) * cfg.batch_size:
                print(f"{spec} seed {seed} {mark:g} kimg: skipped, its run folder is already past this mark and "
                      f"no samples of {', '.join(todo)} were saved there", flush=True)
                continue
            extra = [cb.ExtraAverages(run_dir, list(averages.values()), cfg.batch_size, rampup=cfg.ema_rampup)
                     ] if averages else []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                train(cfg, faces, run_dir, resume=bool(before), kimg=mark, verbose=0,
                      data_source=",".join(args.faces), extra_callbacks=extra)
            meta = runs.checkpoint_meta(run_dir)
            history = runs.load_history(run_dir)
            steps = runs.images_shown(meta, cfg, len(faces)) // cfg.batch_size
            for g in [g for g in todo if g in averages]:
                kept = runs.average_steps(run_dir, averages[g])
                if kept != steps:  # none kept (the run was already at this mark), or one of another state
                    print(f"{spec} seed {seed} {mark:g} kimg {g}: skipped, the run folder keeps no average of that "
                          f"half-life at this mark ({steps} steps; {kept or 'no'} average steps)", flush=True)
                    todo.remove(g)
            for g in todo:
                generator = load_average(run_dir, averages[g]) if g in averages else load_generator(run_dir,
                                                                                                     ema=g == "ema")
                images = generate(generator, args.samples, seed=seed)
                t = time.perf_counter()
                score = evaluate(images, reference, seed)
                save_png(image_grid(images[:64]), out / "grids" / f"{tags[g]}.png")
                np.save(saved[g], images)  # to score again against other faces or with another judge version
                row = {"system": spec, "seed": seed, "kimg": mark, "generator": g, "faces": len(faces),
                       "images_shown": meta["images_shown"], "epoch": meta["epoch"],
                       "train_seconds": meta["train_seconds"], "train_cpu_seconds": meta["train_cpu_seconds"],
                       "img_per_s": float(np.median(history["img_per_s"])) if history.get("img_per_s") else None,
                       "eval_seconds": round(time.perf_counter() - t, 1), "cpu": cpu_name(),
                       "date": time.strftime("%Y-%m-%d"), **score, "reference": ref_name,
                       **({"halflife_images": averages[g]} if g in averages else {})}
                append(results, row, f"{spec} seed {seed} {mark:g} kimg {g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
