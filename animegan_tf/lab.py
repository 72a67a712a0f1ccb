"""What the scenario notebooks call: choose the data, run a config under a time budget, evaluate, compare.

Environment switches (read once, at the top of every notebook):
  ANIMEGAN_FAST=1      tiny settings for tests (embedded data, a few steps, a few samples)
  ANIMEGAN_DATA=PATH   a folder or zip of real faces to train on
  ANIMEGAN_CPU_MINUTES=M  each run's whole training budget in CPU-minutes (replaces the notebook's own budget)
  ANIMEGAN_MINUTES=M   stop each training call after M wall-clock minutes (a Colab session's limit); the run
                       continues where it stopped the next time the notebook runs
  ANIMEGAN_RUNS=DIR    where run folders go (default: the checkout's runs/, FAST runs under runs/fast/)
  ANIMEGAN_SAMPLES=N   samples judged per run for the trusted tally and KID (default 1,000; FAST 40)
  ANIMEGAN_KIMG=K      each run's budget in thousands of real images shown to D (replaces the notebook's own)
  ANIMEGAN_RESULTS=DIR where finished runs' records go (default: the checkout's notebooks/results/); FAST runs
                       never write there
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import compare, records, runs
from .config import GANConfig
from .data import data_dir, load_array
from .data.download import KNOWN_DATASETS
from .files import atomic_write_bytes, image_grid
from .precision import has_gpu
from .quality.evaluate import evaluate_run
from .quality.judge import JUDGE_VERSION
from .sampling import generate, load_generator
from .training import target_steps, train


@dataclass(frozen=True)
class Settings:
    """The knobs a notebook derives from the environment."""
    fast: bool
    device: str  # "GPU" or "CPU" (asking starts TensorFlow, so its start-up log lands in the set-up cell)
    data: str  # a --data value
    minutes: float | None  # wall-clock minutes per training call (None = no limit)
    cpu_minutes: float | None  # each run's whole budget in CPU-minutes, across sessions (None = the seeds' epochs)
    n_small: int  # samples judged the way seed 003 did by eye (20)
    n_eval: int  # samples for the figure to trust (1,000) and for KID
    runs_root: Path
    kimg: float | None = None  # each run's budget in images shown (thousands), the same on every machine
    results: Path | None = None  # where finished runs' records are kept and reused (None: FAST, never)


def settings(notebook: str, cpu_minutes: float | None = None, kimg: float | None = None) -> Settings:
    """The notebook's settings; `cpu_minutes` / `kimg` are the notebook's own budget per run (ANIMEGAN_CPU_MINUTES
    and ANIMEGAN_KIMG win). A FAST run trains 0.256 kimg (4 steps of 64) when the notebook counts in kimg."""
    fast = os.environ.get("ANIMEGAN_FAST") == "1"
    minutes = os.environ.get("ANIMEGAN_MINUTES")
    samples = os.environ.get("ANIMEGAN_SAMPLES")
    cpu = os.environ.get("ANIMEGAN_CPU_MINUTES")
    kimg = float(os.environ["ANIMEGAN_KIMG"]) if os.environ.get("ANIMEGAN_KIMG") else kimg

    return Settings(
        fast=fast,
        device="GPU" if has_gpu() else "CPU",
        data=pick_data(fast),
        minutes=float(minutes) if minutes else None,
        cpu_minutes=None if fast else (float(cpu) if cpu else cpu_minutes),
        n_small=20,
        n_eval=40 if fast else int(samples or 1000),
        runs_root=runs_root(notebook, fast),
        kimg=(0.256 if kimg else None) if fast else kimg,
        results=None if fast else results_dir(notebook),
    )


def pick_data(fast: bool = False) -> str:
    """ANIMEGAN_DATA, else a Kaggle set already in data/, else the embedded synthetic faces."""
    if fast:
        return "synthetic:512"
    if os.environ.get("ANIMEGAN_DATA"):
        return os.environ["ANIMEGAN_DATA"]
    for ref in KNOWN_DATASETS.values():
        folder = data_dir() / ref.split("/")[1]
        if folder.is_dir():
            return str(folder)
    return "synthetic"


def runs_root(notebook: str, fast: bool = False) -> Path:
    if os.environ.get("ANIMEGAN_RUNS"):
        base = Path(os.environ["ANIMEGAN_RUNS"])
    else:
        checkout = Path(__file__).resolve().parent.parent
        base = checkout / "runs" if (checkout / "pyproject.toml").exists() else Path.cwd() / "runs"
    return base / "fast" / notebook if fast else base / notebook


results_root = records.results_root


def results_dir(notebook: str) -> Path:
    return results_root() / notebook


def for_this_machine(cfg: GANConfig, fast: bool) -> GANConfig:
    """The seed's config, adapted only where this machine or a test run needs it (and said so)."""
    if cfg.precision == "mixed_float16" and not has_gpu():
        # float16 is emulated on CPUs (several times slower); the comparison is about the other knobs.
        cfg = cfg.replace(precision="auto")
    if fast:
        cfg = cfg.replace(epochs=1, batch_size=min(cfg.batch_size, 64), num_samples=16)
    return cfg


def run(cfg: GANConfig, data_spec: str, run_dir: Path, minutes: float | None = None, fresh: bool = False,
        images: np.ndarray | None = None, cpu_minutes: float | None = None, kimg: float | None = None) -> Path:
    """Train `cfg` into `run_dir`, or continue it when it is unfinished; a finished run is left as it is.

    A run is finished when it has shown `kimg` thousand real images to D (when given; `cfg.epochs` is then not a
    cap), else trained `cfg.epochs` epochs, or spent `cpu_minutes` of CPU time (its whole budget, counted across
    sessions); `minutes` only limits this call (wall-clock).
    fresh=True deletes an existing run folder first (FAST test runs start from scratch every time).
    """
    run_dir = Path(run_dir)
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    meta = runs.checkpoint_meta(run_dir)
    images = load_array(data_spec, cfg.image_size) if images is None else images
    if meta and (_finished(meta, cfg, len(images), kimg) or _spent(meta, cpu_minutes)):
        print(f"{run_dir.name}: finished earlier ({_progress(meta, cfg, cpu_minutes, len(images), kimg)}), "
              f"reusing it")
        return run_dir
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' per-fit chatter
        train(cfg, images, run_dir, resume=meta is not None, max_minutes=minutes, cpu_minutes=cpu_minutes,
              kimg=kimg, verbose=0, data_source=data_spec)
    print(f"{run_dir.name}: {_progress(runs.checkpoint_meta(run_dir), cfg, cpu_minutes, len(images), kimg)}")
    return run_dir


def run_recorded(s: Settings, name: str, cfg: GANConfig, reference: np.ndarray, images: np.ndarray,
                 changes: dict | None = None, raw: bool = False) -> dict | None:
    """A notebook run by its record: reuse the committed record when it matches what is asked now (the same
    config, data, kimg budget, samples judged and judge; a sibling notebook's record of the same config counts),
    else train (or continue) the run to `s.kimg` (or its budget), judge `s.n_eval` samples and `s.n_small` more
    (seed 1, the seeds' by-eye size), with `raw=True` the raw generator too, and write the record with its
    16-face grids. Returns the record (`records.load`: with its pictures' paths), or None while the run is
    unfinished (ANIMEGAN_MINUTES stopped it: the next call continues it). FAST runs keep their record in the run
    folder's record/, never in the results."""
    data = records.data_id(s.data, len(images))
    raw = raw and cfg.averaged  # a raw evaluation only where it differs
    if s.results:
        kept = records.find(s.results, name, cfg, s.kimg, data, s.n_eval, s.n_small, raw)
        if kept:
            source = "its record" if kept["notebook"] == s.results.name else f"{kept['notebook']}'s record"
            print(f"{name}: from {source} ({kept['kimg']:g} kimg, {kept['date']}, {kept['machine']['cpu']})")
            return kept
    run_dir = run(cfg, s.data, s.runs_root / name, minutes=s.minutes, fresh=s.fast, images=images,
                  cpu_minutes=s.cpu_minutes, kimg=s.kimg)
    meta = runs.checkpoint_meta(run_dir)
    if not (_finished(meta, cfg, len(images), s.kimg) or _spent(meta, s.cpu_minutes)):
        return None
    evaluation = evaluate(run_dir, reference, s.n_eval)
    small = evaluate(run_dir, reference, s.n_small, seed=1)
    raw_evaluation = evaluate(run_dir, reference, s.n_eval, ema=False) if raw else None
    record = records.make(s.runs_root.name, name, cfg, changes or {}, s.kimg, data, run_dir, evaluation, s.device,
                          small=small, raw=raw_evaluation)
    grids = [image_grid(generate(load_generator(run_dir, ema=ema), 16, seed=0)) for ema in (True, False)[: 1 + raw]]
    folder = s.results or run_dir / "record"  # FAST: beside the run, never among the committed results
    records.save(folder, record, *grids)
    return records.load(folder, name)


class Unfinished(RuntimeError):
    """A notebook's runs are not all finished yet (ANIMEGAN_MINUTES stopped one): run the notebook again."""


def run_all(s: Settings, configs: dict[str, GANConfig], reference: np.ndarray, images: np.ndarray,
            raw=(), changes: dict[str, dict] | None = None) -> dict[str, dict]:
    """`run_recorded` for every config of a notebook, in order: {name: record}. The runs named in `raw` are also
    judged through their raw generator. Raises Unfinished, naming the runs left, when a wall-clock limit stopped
    one (the next call continues them)."""
    results = {name: run_recorded(s, name, cfg, reference, images, (changes or {}).get(name), raw=name in raw)
               for name, cfg in configs.items()}
    left = [name for name, record in results.items() if record is None]
    if left:
        limit = f" (ANIMEGAN_MINUTES={s.minutes:g})" if s.minutes else ""
        raise Unfinished(f"not finished yet: {', '.join(left)}{limit}; run the notebook again to continue them")
    return results


def grid_columns(table, results: dict[str, dict]):
    """Add each recorded run's grid shape spread (0: one face shape in every cell; 16 real faces: 0.75-0.82) and
    what it says (collapsed, partly collapsed, varied) to a table indexed by run name."""
    spreads = [records.spread(results[name]) for name in table.index]
    table["shape spread"] = spreads
    table["grid"] = [records.grid_state(value) for value in spreads]
    return table


def collapsed_runs(results: dict[str, dict]) -> str:
    """A conclusion line: which recorded runs collapsed, wholly or partly, by their grids' shape spread."""
    spreads = {name: records.spread(record) for name, record in results.items()}
    parts = [f"{state}: " + (", ".join(f"{name} ({value:.2f})" for name, value in spreads.items()
                                       if records.grid_state(value) == state) or "none")
             for state in ("collapsed", "partly collapsed")]
    return ("; ".join(parts) + f" (grid shape spread: below {records.COLLAPSED:g} one face shape in every cell, below "
            f"{records.PARTLY_COLLAPSED:g} a few; 16 real faces {records.REAL_SPREAD})")


def steadiness(record: dict) -> float | None:
    """The standard deviation of a recorded run's epoch-to-epoch change in generator loss (smaller = steadier)."""
    g_loss = [v for v in record["curves"].get("g_loss", []) if v is not None]
    return round(float(np.std(np.diff(g_loss))), 4) if len(g_loss) > 2 else None


def plan(s: Settings, configs: dict[str, GANConfig], images: np.ndarray, steps: int = 8, raw=()):
    """What the notebook's runs will cost on this machine: each config's img/s (the lab's own `train`, `steps`
    steps after a first epoch of as many that traces the graph, on the first images) and the hours its budget of
    `s.kimg` takes at that speed; runs whose record matches (with the raw-generator evaluation for the runs named
    in `raw`, as `run_all` asks), or whose run folder here is finished, cost nothing.
    Returns a DataFrame with a total row."""
    import tempfile

    import pandas as pd

    data = records.data_id(s.data, len(images))
    rows = []
    for name, cfg in configs.items():
        if s.results and records.find(s.results, name, cfg, s.kimg, data, s.n_eval, s.n_small,
                                      raw=name in raw and cfg.averaged):
            rows.append({"run": name, "img/s": None, "s/kimg": None, "training hours": 0.0, "source": "record"})
            continue
        meta = runs.checkpoint_meta(s.runs_root / name)
        if meta and (_finished(meta, cfg, len(images), s.kimg) or _spent(meta, s.cpu_minutes)):
            rows.append({"run": name, "img/s": None, "s/kimg": None, "training hours": 0.0,
                         "source": "trained here (to judge)"})
            continue
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            sample = images[: cfg.batch_size * steps]
            train(cfg.replace(epochs=2, eval_every=0, tensorboard=False), sample, Path(folder) / name, verbose=0)
            speed = runs.load_history(Path(folder) / name)["img_per_s"][-1]
        hours = (s.kimg * 1000 / speed / 3600) if s.kimg else None
        rows.append({"run": name, "img/s": round(speed, 1), "s/kimg": round(1000 / speed, 2),
                     "training hours": None if hours is None else round(hours, 2), "source": "train"})
    table = pd.DataFrame(rows).set_index("run")
    table.loc["total"] = [None, None, round(table["training hours"].sum(min_count=1), 2), ""]
    return table


def _finished(meta: dict, cfg: GANConfig, num_images: int, kimg: float | None) -> bool:
    if kimg is None:
        return meta["epoch"] >= cfg.epochs
    return runs.images_shown(meta, cfg, num_images) >= target_steps(kimg, cfg.batch_size) * cfg.batch_size


def _spent(meta: dict, cpu_minutes: float | None) -> bool:
    return cpu_minutes is not None and meta.get("train_cpu_seconds", 0.0) >= cpu_minutes * 60


def _progress(meta: dict, cfg: GANConfig, cpu_minutes: float | None, num_images: int = 0,
              kimg: float | None = None) -> str:
    kimg_shown = runs.images_shown(meta, cfg, num_images) / 1000
    shown = f"{kimg_shown:,.1f}" if kimg_shown >= 10 else f"{kimg_shown:.3g}"
    if kimg is not None:
        text = f"{shown} of {kimg:g} kimg ({meta['epoch']} epochs"
    else:
        text = f"{meta['epoch']} of {cfg.epochs} epochs ({shown} kimg"
    text += (f" and {meta['step_in_epoch']} steps" if meta["step_in_epoch"] else "") + ")"
    if "train_cpu_seconds" in meta:
        text += f", {meta['train_cpu_seconds'] / 60:.1f}"
        text += f" of {cpu_minutes:g} CPU-minutes" if cpu_minutes else " CPU-minutes"
        text += f" ({meta['train_seconds'] / 60:.1f} min wall-clock)"
    return text


def evaluate(run_dir: Path, reference: np.ndarray, n: int, seed: int = 0, ema: bool = True) -> dict:
    """The run's evaluation with n samples of its current state (the averaged generator unless `ema=False`),
    computed once and kept in metrics.jsonl: a notebook that runs again reads it back."""
    meta = runs.checkpoint_meta(run_dir) or {}
    state = (meta.get("epoch", 0), meta.get("step_in_epoch", 0))
    generator = "ema" if ema and runs.load_config(run_dir).averaged else "raw"
    for record in reversed(runs.load_metrics(run_dir)):
        if ((record.get("epoch"), record.get("step_in_epoch", 0)) == state and record.get("n") == n
                and record.get("seed", 0) == seed and record.get("generator", "raw") == generator
                and record.get("judge", 1) == JUDGE_VERSION  # rows of an older judge are measured again
                and "kid_subset" in record):  # (older records: KID spread over the reference only)
            return record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the small-sample FID warning: KID is reported beside it
        result = evaluate_run(run_dir, n, reference, seed=seed, with_fid=n >= 200, record=False, ema=ema)
    result.update(seed=seed, step_in_epoch=state[1])
    runs.append_metrics(run_dir, result)
    return result


def describe(s: Settings, images: np.ndarray, reference: np.ndarray) -> str:
    """The set-up cell's line: data source and size, reference size, budget and samples judged."""
    if s.kimg:
        budget = f"{s.kimg:g} kimg (thousand real images shown to D) per run"
    elif s.cpu_minutes:
        budget = f"{s.cpu_minutes:g} CPU-minutes of training per run (the seed's epochs stay the cap)"
    else:
        budget = "the seed's epochs"
    data = records.data_id(s.data, len(images))["name"]  # the folder's name, not this machine's path
    return (f"data: {data} ({len(images):,} images of {images.shape[1]}x{images.shape[2]}); reference: "
            f"{len(reference):,} images of the same data; budget: {budget}; judged: {s.n_eval:,} samples per run; "
            f"device: {s.device}")


def quality_table(results: dict[str, dict]):
    """One row per run: KID ± std and GQ/DQ/PQ with 95 % intervals (pandas DataFrame)."""
    import pandas as pd

    rows = []
    for name, r in results.items():
        row = {"run": name, "n": r["n"], "KID ± std": f"{r['kid']:.4f} ± {r['kid_std']:.4f}",
               "judge": f"v{compare.judge_version(r)}"}
        if "fid" in r:
            row["FID"] = round(r["fid"], 1)
        for metric in ("gq", "dq", "pq"):
            lo, hi = compare.interval(r, metric)
            row[f"{metric.upper()} % [95 %]"] = f"{r[metric + '_pct']:.1f} [{lo:.1f}, {hi:.1f}]"
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def records_table(found: list[dict]):
    """One `records.row` per record (`records.gather`), best KID first, indexed by notebook / run (a pandas
    DataFrame: notebook 04's view of what the README's table shows, with the data and the sample count)."""
    import pandas as pd

    rows = [records.row(r) for r in records.by_kid(found)]
    table = pd.DataFrame(rows)
    table.index = table.pop("notebook") + "/" + table.pop("run")
    table.index.name = "notebook / run"
    return table


def raw_vs_averaged(record: dict) -> tuple[dict, dict, np.ndarray]:
    """The averaged and the raw generator of one recorded run (`run_recorded(..., raw=True)`) at the same step:
    both evaluations, and a picture with the averaged grid on the left and the raw one on the right (same
    latents)."""
    if not record.get("raw") or not record.get("raw_grid_path"):
        raise ValueError(f"{record['run']}: its record has no raw-generator evaluation (run_recorded(raw=True))")
    side = [np.asarray(Image.open(record[key]).convert("RGB")) for key in ("grid_path", "raw_grid_path")]
    gap = np.full((side[0].shape[0], 8, 3), 255, np.uint8)
    return record["evaluation"], record["raw"], np.concatenate([side[0], gap, side[1]], axis=1)


def latest_evaluation(run: dict, n: int) -> dict | None:
    """A loaded run's newest evaluation of at least n samples of the generator it samples with by default."""
    default = "ema" if run["config"].averaged else "raw"
    for record in reversed(run["metrics"]):
        if record.get("n", 0) >= n and record.get("generator", "raw") == default and "kid" in record:
            return record
    return None


CLAIMS_FILE = "claims.json"


def save_claims(s: Settings, seed: str, rows: list[dict], budget: str | None = None):
    """Keep a notebook's claims table beside its records (notebook 04 gathers the committed ones; FAST runs keep
    theirs in the runs folder), with the budget its verdicts were reached at; returns it as a DataFrame."""
    import pandas as pd

    rows = [{"seed": seed, **row, **({"budget": budget} if budget else {})} for row in rows]
    folder = s.results or s.runs_root
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / CLAIMS_FILE, (json.dumps(rows, indent=1, allow_nan=False) + "\n").encode())
    return pd.DataFrame(rows)


def gathered_claims(*roots: Path):
    """Every notebook's claims table under `roots` (notebooks/results, runs/), in one DataFrame."""
    import pandas as pd

    rows = []
    for root in roots:
        for path in sorted(Path(root).glob(f"*/{CLAIMS_FILE}")):
            rows += [{"notebook": path.parent.name, **row} for row in json.loads(path.read_text())]
    return pd.DataFrame(rows)
