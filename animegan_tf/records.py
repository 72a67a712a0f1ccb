"""Notebook results that live in the repository: one small record per finished run, so a notebook can be completed
over several sessions on different machines, and a fresh clone shows (and notebook 04 gathers) every result
without the run folders that made them.

  notebooks/results/<notebook>/<run>.json   the record: config and what it changes, data, kimg, speed on the
                                            machine that made it, judge version, KID ± std, FID, GQ/DQ/PQ, curves
  notebooks/results/<notebook>/<run>.png    its final grid (16 faces of the generator it samples with, seed 0)

A record is reused only when it matches what the notebook asks for now: the same config, data (by name and size),
kimg budget, samples judged and judge version, and this record format. No machine path is written.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from . import runs
from .config import GANConfig
from .files import atomic_write_bytes, save_png
from .quality.judge import JUDGE_VERSION

RECORD_FORMAT = 1
CURVES = ("kimg", "g_loss", "d_real_loss", "d_fake_loss", "img_per_s", "kid")


def data_id(data_spec: str, num_images: int) -> dict:
    """The data a run trained on, without machine paths: each source's last path component (or synthetic:N)."""
    names = [part.strip() if part.strip().startswith("synthetic") else Path(part.strip()).name
             for part in str(data_spec).split(",")]
    return {"name": ",".join(names), "images": int(num_images)}


def cpu_name() -> str:
    """The CPU's model name, with `avx512_bf16` when it has native bfloat16 arithmetic."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                 "unknown CPU")
    return model + (" (avx512_bf16)" if "avx512_bf16" in text else "")


def _config_dict(cfg: GANConfig) -> dict:
    return json.loads(cfg.to_json())  # tuples as lists, as they are read back


def _finite(value):
    """JSON has no NaN: a float that is not finite is written as null."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _curves(history: dict) -> dict:
    return {key: [None if not np.isfinite(v) else round(float(v), 6) for v in history[key]]
            for key in CURVES if key in history}


def make(notebook: str, name: str, cfg: GANConfig, changes: dict, kimg: float | None, data: dict, run_dir: Path,
         evaluation: dict, device: str) -> dict:
    """The record of a finished run folder and its evaluation (`lab.evaluate`'s row)."""
    meta = runs.checkpoint_meta(run_dir) or {}
    history = runs.load_history(run_dir)
    speeds = [v for v in history.get("img_per_s", []) if np.isfinite(v)]
    img_per_s = float(np.median(speeds)) if speeds else None
    keep = ("n", "kid", "kid_std", "kid_subset", "fid", "GQ", "DQ", "PQ", "gq_pct", "dq_pct", "pq_pct",
            "generator", "seed")
    return {
        "format": RECORD_FORMAT,
        "notebook": notebook,
        "run": name,
        "config": _config_dict(cfg),
        "changes": changes,
        "data": data,
        "kimg": kimg,
        "images_shown": runs.images_shown(meta, cfg, data["images"]),
        "epochs": meta.get("epoch"),
        "steps": runs.steps_done(meta, max(1, data["images"] // cfg.batch_size)),
        "machine": {"device": device, "cpu": cpu_name(), "img_per_s": img_per_s,
                    "s_per_kimg": None if not img_per_s else 1000 / img_per_s,
                    "train_seconds": meta.get("train_seconds"), "train_cpu_seconds": meta.get("train_cpu_seconds")},
        "judge": evaluation.get("judge", JUDGE_VERSION),
        "evaluation": {k: _finite(evaluation[k]) for k in keep if k in evaluation},
        "curves": _curves(history),
        "date": time.strftime("%Y-%m-%d"),
    }


def _stem(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.+=-]+", name) or name.startswith("."):
        raise ValueError(f"a record's run name must be a plain file name, got {name!r}")
    return name


def save(folder: Path, record: dict, grid: np.ndarray | None = None) -> Path:
    """Write `<run>.json` (and `<run>.png`) in `folder`, each atomically; returns the JSON's path."""
    folder = Path(folder)
    stem = _stem(record["run"])
    if grid is not None:
        save_png(grid, folder / f"{stem}.png")
    path = folder / f"{stem}.json"
    atomic_write_bytes(path, (json.dumps(record, indent=1, allow_nan=False) + "\n").encode())
    return path


def load(folder: Path, name: str) -> dict | None:
    """The record of run `name` in `folder`, None when there is none (or it cannot be read)."""
    path = Path(folder) / f"{_stem(name)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def matches(record: dict | None, cfg: GANConfig, kimg: float | None, data: dict, n: int) -> bool:
    """Whether `record` is the result of what is asked now (otherwise the run is trained and judged again)."""
    return bool(record) and (
        record.get("format") == RECORD_FORMAT
        and record.get("config") == _config_dict(cfg)
        and record.get("kimg") == kimg
        and record.get("data") == data
        and record.get("evaluation", {}).get("n") == n
        and record.get("judge") == JUDGE_VERSION)


def gather(root: Path) -> list[dict]:
    """Every record under `root` (notebooks/results): one folder per notebook, sorted by notebook and run."""
    found = []
    for path in sorted(Path(root).glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if record.get("format") == RECORD_FORMAT:
            grid = path.with_suffix(".png")
            found.append({**record, "grid_path": str(grid) if grid.exists() else None})
    return found
