"""What the scenario notebooks call: choose the data, run a config under a time budget, evaluate, compare.

Environment switches (read once, at the top of every notebook):
  ANIMEGAN_FAST=1      tiny settings for tests (embedded data, a few steps, a few samples)
  ANIMEGAN_DATA=PATH   a folder or zip of real faces to train on
  ANIMEGAN_CPU_MINUTES=M  each run's whole training budget in CPU-minutes (replaces the notebook's own budget)
  ANIMEGAN_MINUTES=M   stop each training call after M wall-clock minutes (a Colab session's limit); the run
                       continues where it stopped the next time the notebook runs
  ANIMEGAN_RUNS=DIR    where run folders go (default: the checkout's runs/, FAST runs under runs/fast/)
  ANIMEGAN_SAMPLES=N   samples judged per run for the trusted tally and KID (default 1,000; FAST 40)
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runs
from .config import GANConfig
from .data import data_dir, load_array
from .download import KNOWN_DATASETS
from .evaluate import evaluate_run
from .precision import has_gpu
from .training import train


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


def settings(notebook: str, cpu_minutes: float | None = None) -> Settings:
    """The notebook's settings; `cpu_minutes` is the notebook's own budget per run (ANIMEGAN_CPU_MINUTES wins)."""
    fast = os.environ.get("ANIMEGAN_FAST") == "1"
    minutes = os.environ.get("ANIMEGAN_MINUTES")
    samples = os.environ.get("ANIMEGAN_SAMPLES")
    cpu = os.environ.get("ANIMEGAN_CPU_MINUTES")

    return Settings(
        fast=fast,
        device="GPU" if has_gpu() else "CPU",
        data=pick_data(fast),
        minutes=float(minutes) if minutes else None,
        cpu_minutes=None if fast else (float(cpu) if cpu else cpu_minutes),
        n_small=20,
        n_eval=40 if fast else int(samples or 1000),
        runs_root=runs_root(notebook, fast),
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


def for_this_machine(cfg: GANConfig, fast: bool) -> GANConfig:
    """The seed's config, adapted only where this machine or a test run needs it (and said so)."""
    if cfg.precision == "mixed_float16" and not has_gpu():
        # float16 is emulated on CPUs (several times slower); the comparison is about the other knobs.
        cfg = cfg.replace(precision="auto")
    if fast:
        cfg = cfg.replace(epochs=1, batch_size=min(cfg.batch_size, 64), num_samples=16)
    return cfg


def run(cfg: GANConfig, data_spec: str, run_dir: Path, minutes: float | None = None, fresh: bool = False,
        images: np.ndarray | None = None, cpu_minutes: float | None = None) -> Path:
    """Train `cfg` into `run_dir`, or continue it when it is unfinished; a finished run is left as it is.

    A run is finished when it has trained `cfg.epochs` epochs or spent `cpu_minutes` of CPU time (its whole budget,
    counted across sessions); `minutes` only limits this call (wall-clock).
    fresh=True deletes an existing run folder first (FAST test runs start from scratch every time).
    """
    run_dir = Path(run_dir)
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    meta = runs.checkpoint_meta(run_dir)
    if meta and (meta["epoch"] >= cfg.epochs or _spent(meta, cpu_minutes)):
        print(f"{run_dir.name}: finished earlier ({_progress(meta, cfg, cpu_minutes)}), reusing it")
        return run_dir
    images = load_array(data_spec, cfg.image_size) if images is None else images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' per-fit chatter
        train(cfg, images, run_dir, resume=meta is not None, max_minutes=minutes, cpu_minutes=cpu_minutes,
              verbose=0, data_source=data_spec)
    print(f"{run_dir.name}: {_progress(runs.checkpoint_meta(run_dir), cfg, cpu_minutes)}")
    return run_dir


def _spent(meta: dict, cpu_minutes: float | None) -> bool:
    return cpu_minutes is not None and meta.get("train_cpu_seconds", 0.0) >= cpu_minutes * 60


def _progress(meta: dict, cfg: GANConfig, cpu_minutes: float | None) -> str:
    text = f"{meta['epoch']} of {cfg.epochs} epochs" + (f" and {meta['step_in_epoch']} steps"
                                                         if meta["step_in_epoch"] else "")
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
    generator = "ema" if ema and runs.load_config(run_dir).ema_decay > 0 else "raw"
    for record in reversed(runs.load_metrics(run_dir)):
        if ((record.get("epoch"), record.get("step_in_epoch", 0)) == state and record.get("n") == n
                and record.get("seed", 0) == seed and record.get("generator", "raw") == generator
                and "kid_subset" in record):  # (older records: KID spread over the reference only)
            return record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the small-sample FID warning: KID is reported beside it
        result = evaluate_run(run_dir, n, reference, seed=seed, with_fid=n >= 200, record=False, ema=ema)
    result.update(seed=seed, step_in_epoch=state[1])
    runs.append_metrics(run_dir, result)
    return result
