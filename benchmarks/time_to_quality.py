"""Time-to-quality: what a training budget buys, scored on real faces at several marks.

Each system trains once, to its largest mark; when it crosses each mark it draws the samples of that mark (the
clock is paused while it does), and the samples are scored after training against real faces: FID, KID ± std over
subsets, and the automatic judge's GQ/DQ/PQ. Marks are in images shown to D (`--kimg`, the same on every machine:
compare systems there) or in wall-clock minutes (`--budgets`, what a Colab session buys on this machine); every
row has both: the kimg it reached and the minutes it took here.

  python benchmarks/time_to_quality.py --faces ../shared/anime_faces_calib --systems fast fast-v1 dcgan torch \\
      --kimg 100 400 1000 2000 --samples 2000 --ref 2000 --out bench/ttq --plot docs/ttq_kimg.png
  python benchmarks/time_to_quality.py --faces ../shared/anime_faces_calib --systems fast dcgan torch \\
      --budgets 5 10 20 --samples 2000 --ref 2000 --out bench/ttq

Systems:
  PRESET        the lab's `train` on that preset (what `animegan-tf train --preset PRESET --max-minutes M` does:
                per-epoch grids, loss plot, history.csv and checkpoints included); the averaged generator when the
                preset keeps one, and its raw generator scored beside it (`PRESET (raw)`).
  PRESET+k=v+…  the same with config overrides, e.g. "fast+batch_size=32+ema_decay=0" (recipe_sweep.py uses this).
  torch         PyTorch's DCGAN example (benchmarks/torch_dcgan.py --train) in its own environment (--torch-python;
                `make bench-torch-env` makes it) on the same faces; its samples are also written as PNGs.
  bare          train_throughput.py's bare tf.function loop over the dcgan preset's models.

Run the systems one after another on an otherwise idle machine (the script does; keep the machine quiet). Faces are
read in place; their decoded cache goes to a temporary folder, never into the checkout. Every scored point is
appended to OUT/results.jsonl as soon as it exists (with the shape spread of its first 16 samples: ~0 is one face
in every cell) and a grid of its first 64 samples goes to OUT/grids, so a long run can be read (or re-plotted with
--plot-only) while it goes on; --plot-only --results draws committed results files together:

  python benchmarks/time_to_quality.py --plot-only --results benchmarks/results/ttq_kimg_*.jsonl \\
      --plot docs/ttq_kimg.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from animegan_tf.config import ConfigError, apply_overrides, preset  # noqa: E402
from animegan_tf.data import ingest, make_dataset, steps_per_epoch  # noqa: E402
from animegan_tf.quality.evaluate import evaluate_images, reference_sample  # noqa: E402
from animegan_tf.files import image_grid, read_jsonl, save_png  # noqa: E402
from animegan_tf.precision import compute_dtype  # noqa: E402
from animegan_tf.machine import cpu_name  # noqa: E402
from animegan_tf.records import grid_spread  # noqa: E402
from animegan_tf.sampling import build_gan, generate  # noqa: E402
from animegan_tf.training import train  # noqa: E402
from train_throughput import bare_loop  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent


def parse_system(spec: str):
    """'fast' or 'fast+batch_size=32+g_filters=128,64,32' -> GANConfig (epochs unbounded: the budget ends it)."""
    name, *overrides = spec.split("+")
    cfg = apply_overrides(preset(name), overrides)
    return cfg.replace(epochs=100_000)


class BudgetSnapshots(keras.callbacks.Callback):
    """Draw samples each time training crosses a mark (wall-clock minutes, or kimg with `batch_size`); stop after
    the last one.

    The clock starts at `on_train_begin` (graph tracing is inside the budget) and is paused while samples are drawn.
    """

    def __init__(self, marks, draw, batch_size: int | None = None):
        super().__init__()
        self.budgets = sorted(marks)
        self.draw = draw  # draw(mark, steps, seconds) -> None
        self.batch_size = batch_size  # None: marks are minutes; else marks are kimg
        self.steps, self.paused, self.start = 0, 0.0, None

    def elapsed(self):
        return time.monotonic() - self.start - self.paused

    def reached(self, mark):
        if self.batch_size is None:
            return self.elapsed() >= mark * 60
        return self.steps * self.batch_size >= mark * 1000

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        while self.budgets and self.reached(self.budgets[0]):
            seconds = self.elapsed()
            pause = time.monotonic()
            self.draw(self.budgets.pop(0), self.steps, seconds)
            self.paused += time.monotonic() - pause
        if not self.budgets:
            self.model.stop_training = True


def train_lab(label, cfg, faces, faces_path, out, budgets, samples, raw=True, in_kimg=False):
    """Train `cfg` with the lab's `train`; returns {mark: {"steps", "seconds", "images": {name: uint8 array}}}."""
    points = {}
    run_dir = out / label.replace("/", "_")

    def draw(mark, steps, seconds):
        gan = state["gan"]
        images = {label: generate(gan.sampling_generator, samples, seed=0)}
        if raw and gan.ema_generator is not None:
            images[f"{label} (raw)"] = generate(gan.generator, samples, seed=0)
        points[mark] = {"steps": steps, "seconds": seconds, "images": images}
        print(f"  {label}: {mark:g} {'kimg' if in_kimg else 'min'}, {steps} steps, {seconds / 60:.1f} min",
              flush=True)

    state = {}

    class Grab(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            state["gan"] = self.model

    train(cfg, faces, run_dir, verbose=0, data_source=faces_path,
          extra_callbacks=[Grab(), BudgetSnapshots(budgets, draw, cfg.batch_size if in_kimg else None)])
    return points


def train_bare(cfg, faces, budgets, samples, in_kimg=False):
    gan = build_gan(cfg)
    step = bare_loop(gan, cfg, jit=False)
    dataset = make_dataset(faces, cfg.batch_size, epochs=cfg.epochs, seed=cfg.seed, dtype=compute_dtype(cfg))
    points, pending = {}, sorted(budgets)
    start, paused, steps = time.monotonic(), 0.0, 0

    def reached(mark):
        return steps * cfg.batch_size >= mark * 1000 if in_kimg else time.monotonic() - start - paused >= mark * 60

    for real in dataset:
        float(step(real))  # wait for the step, so the clock sees finished work
        steps += 1
        while pending and reached(pending[0]):
            seconds = time.monotonic() - start - paused
            pause = time.monotonic()
            points[pending.pop(0)] = {"steps": steps, "seconds": seconds,
                                      "images": {"bare": generate(gan.generator, samples, seed=0)}}
            paused += time.monotonic() - pause
        if not pending:
            break
    return points


def train_torch(torch_python, faces, out, budgets, samples, in_kimg=False):
    """PyTorch's DCGAN example trained for real in its own environment; its samples come back as .npy files."""
    faces_file = out / "faces_uint8.npy"
    if not faces_file.exists():
        np.save(faces_file, faces)
    cmd = [torch_python, str(HERE / "torch_dcgan.py"), "--train", str(faces_file),
           "--kimg" if in_kimg else "--budgets", *map(str, budgets), "--samples", str(samples),
           "--out", str(out / "torch")]
    proc = subprocess.run(cmd, text=True, capture_output=True)
    if proc.returncode:
        sys.exit(f"error: the PyTorch peer failed: {proc.stderr.strip().splitlines()[-1:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    points = {}
    for point in report["points"]:
        images = np.load(point["file"])
        folder = out / "torch" / f"png_{Path(point['file']).stem}"  # the peer's samples as PNGs, for the eye
        for i, image in enumerate(images[:64]):
            save_png(image, folder / f"sample_{i:05d}.png")
        points[point["mark"]] = {"steps": point["steps"], "seconds": point["minutes"] * 60, "kimg": point["kimg"],
                                 "images": {"torch": images}}
    return points, report


def score(points, reference, batch_size, num_faces, out, results_file, extra=None, in_kimg=False):
    rows = []
    for budget, point in sorted(points.items()):
        for name, images in point["images"].items():
            t0 = time.perf_counter()
            s = evaluate_images(images, reference)
            row = {"system": name, "mark": budget, "unit": "kimg" if in_kimg else "min",
                   "minutes": round(point["seconds"] / 60, 2),
                   "kimg": point.get("kimg", point["steps"] * batch_size / 1000),  # torch: partial last batches
                   "steps": point["steps"],
                   "epochs": round(point["steps"] / steps_per_epoch(num_faces, batch_size), 2),
                   "img_per_s": round(point["steps"] * batch_size / point["seconds"], 1),
                   "n": s["n"], "n_ref": s["n_ref"],
                   **{k: round(float(s[k]), 4) for k in ("fid", "kid", "kid_std")},
                   **{k: s[k] for k in ("gq_pct", "dq_pct", "pq_pct")},
                   # one face shape in every cell is ~0, 16 real faces 0.75-0.82 (records.grid_spread)
                   "shape_spread": round(grid_spread(image_grid(images[:16])), 3) if len(images) >= 16 else None,
                   "score_seconds": round(time.perf_counter() - t0, 1), "date": time.strftime("%Y-%m-%d"),
                   **(extra or {})}
            tag = name.replace("/", "_").replace(" ", "_")
            save_png(image_grid(images[:64]), out / "grids" / f"{tag}_{budget:g}{row['unit']}.png")
            rows.append(row)
            with results_file.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{name:34s} {row['kimg']:7.1f} kimg {row['minutes']:6.1f} min {row['steps']:6d} steps "
                  f"({row['epochs']:6.1f} ep, "
                  f"{row['img_per_s']:6.1f} img/s)  FID {row['fid']:7.2f}  KID {row['kid']:.4f} ± "
                  f"{row['kid_std']:.4f}  GQ {row['gq_pct']:5.1f}%  DQ {row['dq_pct']:5.1f}%  "
                  f"PQ {row['pq_pct']:5.1f}%", flush=True)
    return rows


def read_rows(results_files: list[Path]) -> list[dict]:
    """The scored points of one or more results files, in order (a later run's rows can extend an earlier one's)."""
    return [row for f in results_files for row in read_jsonl(f)]


def lines(rows: list[dict]) -> dict[str, list[dict]]:
    """{label: rows} with one line per system per run (a run: one invocation, the date and time it started; rows
    written before the start date was recorded have the date they were scored).

    Two runs of one system are two lines labelled with their dates: their minutes come from different machines or
    loads, and joining them would zigzag between their points at a mark both scored.
    """
    groups = {}
    for row in rows:
        run = (row["system"], row.get("started_date", row.get("date")), row.get("started"))
        groups.setdefault(run, []).append(row)
    count = Counter(system for system, _, _ in groups)
    return {system if count[system] == 1 else f"{system}, {date or 'undated'} {started or ''}".rstrip(): mine
            for (system, date, started), mine in groups.items()}


def plot(results_files: list[Path], path: Path, title: str) -> None:
    """FID against images shown (kimg) and against wall-clock minutes on this machine, one line per system and run
    (`lines`; rows written before kimg was recorded have only the minutes)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.2))
    by_kimg, by_minutes = fig.subplots(1, 2)
    for label, mine in lines(read_rows(results_files)).items():
        by_minutes.plot(*zip(*sorted((r["minutes"], r["fid"]) for r in mine)), marker="o", label=label)
        if all("kimg" in r for r in mine):
            by_kimg.plot(*zip(*sorted((r["kimg"], r["fid"]) for r in mine)), marker="o", label=label)
    by_kimg.set_xlabel("kimg (thousands of real images shown to D)")
    by_minutes.set_xlabel("training wall-clock minutes (on the machine each run trained on)")
    for ax in (by_kimg, by_minutes):
        ax.set_ylabel("FID (lower is better)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", help="folder (or .zip) of real anime faces (not needed with --plot-only)")
    ap.add_argument("--systems", nargs="+", default=["fast", "dcgan"], help="see above")
    ap.add_argument("--budgets", type=float, nargs="+", default=[5, 10, 20], help="training minutes scored")
    ap.add_argument("--kimg", type=float, nargs="+", default=None,
                    help="score at these thousands of images shown instead of at --budgets minutes")
    ap.add_argument("--samples", type=int, default=2000, help="samples scored per point")
    ap.add_argument("--ref", type=int, default=2000, help="real faces in the reference sample")
    ap.add_argument("--out", default=None, help="folder for run folders, samples, grids and results.jsonl")
    ap.add_argument("--torch-python", default=".venv-torch/bin/python", help="python of the PyTorch environment")
    ap.add_argument("--no-raw", action="store_true", help="do not score the raw generator beside the averaged one")
    ap.add_argument("--plot", default=None, help="also draw FID against minutes into this PNG")
    ap.add_argument("--plot-only", action="store_true",
                    help="only redraw --plot from --results (default OUT/results.jsonl)")
    ap.add_argument("--results", type=Path, nargs="+", default=None,
                    help="with --plot-only: results files to draw together, e.g. the committed "
                         "benchmarks/results/ttq_kimg_*.jsonl")
    args = ap.parse_args()
    if args.plot_only:
        if not args.plot:
            ap.error("--plot-only needs --plot PNG")
        if not (args.results or args.out):
            ap.error("--plot-only needs --results FILE... or --out OUT")
        files = args.results or [Path(args.out) / "results.jsonl"]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            ap.error(f"{', '.join(missing)} does not exist")
        try:
            plot(files, Path(args.plot), "FID vs images shown and vs minutes")
        except (ValueError, KeyError) as exc:
            ap.error(f"cannot plot {', '.join(map(str, files))}: {exc!r}")
        return
    if args.results:
        ap.error("--results is only read with --plot-only")
    if not args.faces:
        ap.error("--faces is required")
    if not Path(args.faces).exists():
        ap.error(f"--faces {args.faces} does not exist")
    in_kimg = args.kimg is not None
    marks = args.kimg if in_kimg else args.budgets
    if any(b <= 0 for b in marks) or args.samples < 2 or args.ref < 2:
        ap.error("--budgets/--kimg must be > 0 and --samples/--ref >= 2")
    warnings.filterwarnings("ignore", message="FID from")  # every row states its n and n_ref
    out = Path(args.out or tempfile.mkdtemp(prefix="ttq-"))
    results_file = out / "results.jsonl"
    configs = {}
    for spec in args.systems:
        if spec in ("torch", "bare"):
            continue
        try:
            configs[spec] = parse_system(spec)
        except ConfigError as exc:
            ap.error(f"system {spec!r}: {exc}")
    if "torch" in args.systems and not Path(args.torch_python).exists():
        ap.error(f"--torch-python {args.torch_python} does not exist (make bench-torch-env)")

    out.mkdir(parents=True, exist_ok=True)
    faces, _ = ingest(args.faces, image_size=64, cache_dir=Path(tempfile.gettempdir()) / "animegan_ttq_cache")
    reference = reference_sample(faces, args.ref)  # its features are computed once and cached on disk
    print(f"{len(faces)} faces, marks {marks} {'kimg' if in_kimg else 'min'}, {args.samples} samples vs "
          f"{len(reference)} real, one system at a time", flush=True)
    for spec in args.systems:
        start = {"started": time.strftime("%H:%M"), "started_date": time.strftime("%Y-%m-%d"), "cpu": cpu_name()}
        if spec == "torch":
            points, report = train_torch(args.torch_python, faces, out, marks, args.samples, in_kimg)
            score(points, reference, report["batch"], len(faces), out, results_file, start, in_kimg)
            continue
        cfg = configs[spec] if spec != "bare" else preset("dcgan").replace(epochs=100_000)
        if spec == "bare":
            points = train_bare(cfg, faces, marks, args.samples, in_kimg)
        else:
            points = train_lab(spec, cfg, faces, args.faces, out, marks, args.samples, raw=not args.no_raw,
                               in_kimg=in_kimg)
        score(points, reference, cfg.batch_size, len(faces), out, results_file, start, in_kimg)
    if args.plot:
        plot([results_file], Path(args.plot), f"FID vs images shown and vs minutes ({len(faces)} real faces)")


if __name__ == "__main__":
    main()
