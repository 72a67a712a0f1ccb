"""Notebook results that live in the repository: one small record per finished run, so a notebook can be completed
over several sessions on different machines, and a fresh clone shows (and notebook 04 gathers) every result
without the run folders that made them.

  notebooks/results/<notebook>/<run>.json   the record: config and what it changes, data, kimg, speed on the
                                            machine that made it, judge version, KID ± std, FID, GQ/DQ/PQ, curves
  notebooks/results/<notebook>/<run>.png    its final grid (16 faces of the generator it samples with, seed 0)
  notebooks/results/<notebook>/<run>.raw.png  the same latents through the raw generator (runs that compare them)
  notebooks/results/<notebook>/claims.json  the claims the notebook decided from its records

A record is reused only when it matches what the notebook asks for now: the same config, data (by name and size),
kimg budget, samples judged and judge version, and this record format; a record made by another notebook for the
same config, data and budget is reused too (the lab's `fast` recipe is run in every notebook). No machine path is
written.

`python -m animegan_tf.records README.md` rewrites the README's results table from the committed records.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from . import runs
from .config import GANConfig
from .data import data_sources, source_name
from .files import atomic_write_bytes, grid_tiles, save_png
from .machine import cpu_name
from .quality.judge import JUDGE_VERSION

RECORD_FORMAT = 1
CURVES = ("kimg", "g_loss", "d_real_loss", "d_fake_loss", "img_per_s", "kid")


def results_root() -> Path:
    """Where the notebooks' records are kept: ANIMEGAN_RESULTS, else the checkout's notebooks/results/, else
    ./results/."""
    if os.environ.get("ANIMEGAN_RESULTS"):
        return Path(os.environ["ANIMEGAN_RESULTS"])
    checkout = Path(__file__).resolve().parent.parent
    return checkout / "notebooks" / "results" if (checkout / "pyproject.toml").exists() else Path.cwd() / "results"


def data_id(data_spec: str, num_images: int) -> dict:
    """The data a run trained on, without machine paths: each source's last path component (or synthetic:N)."""
    names = [source_name(part) for part in data_sources(data_spec)]
    return {"name": ",".join(names), "images": int(num_images)}


def _config_dict(cfg: GANConfig) -> dict:
    return json.loads(cfg.to_json())  # tuples as lists, as they are read back


def _finite(value):
    """JSON has no NaN: a float that is not finite is written as null."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _curves(history: dict) -> dict:
    return {key: [None if not np.isfinite(v) else round(float(v), 6) for v in history[key]]
            for key in CURVES if key in history}


KEEP = ("n", "kid", "kid_std", "kid_subset", "fid", "GQ", "DQ", "PQ", "gq_pct", "dq_pct", "pq_pct", "generator",
        "seed", "judge")


def _evaluation(row: dict) -> dict:
    return {k: _finite(row[k]) for k in KEEP if k in row}


def make(notebook: str, name: str, cfg: GANConfig, changes: dict, kimg: float | None, data: dict, run_dir: Path,
         evaluation: dict, device: str, small: dict | None = None, raw: dict | None = None) -> dict:
    """The record of a finished run folder and its evaluation (`lab.evaluate`'s row); `small` is the judge on the
    seeds' 20 samples, `raw` the same evaluation of the raw generator (when the run averages its weights)."""
    meta = runs.checkpoint_meta(run_dir) or {}
    history = runs.load_history(run_dir)
    speeds = [v for v in history.get("img_per_s", []) if np.isfinite(v)]
    img_per_s = float(np.median(speeds)) if speeds else None
    record = {
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
        "evaluation": _evaluation(evaluation),
        "curves": _curves(history),
        "date": time.strftime("%Y-%m-%d"),
    }
    if small is not None:
        record["small"] = _evaluation(small)
    if raw is not None:
        record["raw"] = _evaluation(raw)
    return record


def _stem(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.+=-]+", name) or name.startswith("."):
        raise ValueError(f"a record's run name must be a plain file name, got {name!r}")
    return name


PATHS = ("grid_path", "raw_grid_path")  # added when a record is read, never written

# A grid's shape spread: each of its 16 faces in luminance, standardised (zero mean, unit std: colour and contrast
# drop out), then the standard deviation across the faces, averaged over pixels. 0 = the same face shape in every
# cell. Measured 2026-12-01: 16 random real calib faces 0.75-0.82; notebook 01's collapsed scenario-1 runs (one face
# in every cell) 0.05-0.08; 02's figure 1 (a few faces in many colours) 0.30; runs of varied faces 0.50-0.78
# (benchmarks/grid_spread.py).
COLLAPSED, PARTLY_COLLAPSED = 0.15, 0.4
LUMA = np.array([0.299, 0.587, 0.114])
REAL_SPREAD = "0.75-0.82"  # 16 random real calib faces, 20 draws (benchmarks/grid_spread.py)


def grid_spread(grid: np.ndarray, faces: int = 16) -> float:
    """The shape spread of a grid of `faces` square faces (`files.image_grid`): each face's luminance standardised
    (so colour and brightness do not count), then the std across faces, averaged over pixels. One face shape in
    every cell gives ~0; 16 real calib faces 0.75-0.82 (benchmarks/grid_spread.py)."""
    grid, cols = np.asarray(grid)[..., :3], int(np.ceil(np.sqrt(faces)))
    luma = grid_tiles(grid, faces, grid.shape[1] // cols, cols).astype(np.float64) @ LUMA
    luma = (luma - luma.mean(axis=(1, 2), keepdims=True)) / (luma.std(axis=(1, 2), keepdims=True) + 1e-6)
    return round(float(luma.std(axis=0).mean()), 3)


def spread(record: dict, faces: int = 16) -> float | None:
    """`grid_spread` of a record's grid picture (None without one)."""
    if not record.get("grid_path"):
        return None
    return grid_spread(np.asarray(Image.open(record["grid_path"]).convert("RGB")), faces)


def grid_state(value: float | None) -> str | None:
    """What a shape spread (`spread`) says: "collapsed" (one face shape in every cell), "partly collapsed" (a few
    shapes) or "varied"; None without a grid."""
    if value is None:
        return None
    return "collapsed" if value < COLLAPSED else "partly collapsed" if value < PARTLY_COLLAPSED else "varied"


def collapsed(record: dict) -> bool:
    return grid_state(spread(record)) == "collapsed"


def save(folder: Path, record: dict, grid: np.ndarray | None = None, raw_grid: np.ndarray | None = None) -> Path:
    """Write `<run>.json` (and `<run>.png`, `<run>.raw.png`) in `folder`, each atomically; returns the JSON's
    path."""
    folder = Path(folder)
    stem = _stem(record["run"])
    for picture, suffix in ((grid, ".png"), (raw_grid, ".raw.png")):
        if picture is not None:
            save_png(picture, folder / f"{stem}{suffix}")
        else:
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)  # no picture of an older record left beside it
    path = folder / f"{stem}.json"
    record = {k: v for k, v in record.items() if k not in PATHS}
    atomic_write_bytes(path, (json.dumps(record, indent=1, allow_nan=False) + "\n").encode())
    return path


def _read(path: Path) -> dict | None:
    """A record file with the paths of its pictures (None when it is not a record of this format)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    pictures = {key: path.parent / (path.stem + suffix) for key, suffix in zip(PATHS, (".png", ".raw.png"))}
    return {**record, **{key: str(p) if p.exists() else None for key, p in pictures.items()}}


def load(folder: Path, name: str) -> dict | None:
    """The record of run `name` in `folder`, None when there is none (or it cannot be read)."""
    return _read(Path(folder) / f"{_stem(name)}.json")


def matches(record: dict | None, cfg: GANConfig, kimg: float | None, data: dict, n: int,
            n_small: int | None = None, raw: bool = False) -> bool:
    """Whether `record` is the result of what is asked now (otherwise the run is trained and judged again):
    the same config, kimg, data, samples judged (and small sample), judge, and a raw-generator evaluation when
    one is asked for."""
    return bool(record) and (
        record.get("format") == RECORD_FORMAT
        and record.get("config") == _config_dict(cfg)
        and record.get("kimg") == kimg
        and record.get("data") == data
        and record.get("evaluation", {}).get("n") == n
        and (n_small is None or record.get("small", {}).get("n") == n_small)
        and (not raw or ("raw" in record and bool(record.get("raw_grid_path"))))
        and record.get("judge") == JUDGE_VERSION)


def find(folder: Path, name: str, cfg: GANConfig, kimg: float | None, data: dict, n: int,
         n_small: int | None = None, raw: bool = False) -> dict | None:
    """The record that answers run `name` of the notebook whose records are in `folder`: its own, else one that
    a sibling notebook made for the same config, data and budget. None when the run has to be trained."""
    folder = Path(folder)
    want = dict(cfg=cfg, kimg=kimg, data=data, n=n, n_small=n_small, raw=raw)
    own = load(folder, name)
    if matches(own, **want):
        return own
    for record in gather(folder.parent):
        if record["notebook"] != folder.name and matches(record, **want):
            return record
    return None


def gather(root: Path) -> list[dict]:
    """Every record under `root` (notebooks/results): one folder per notebook, sorted by notebook and run."""
    found = (_read(path) for path in sorted(Path(root).glob("*/*.json")))
    return [record for record in found if record]


def by_kid(found: list[dict]) -> list[dict]:
    """Records sorted by KID, best first; those without a finite KID last."""
    return sorted(found, key=lambda r: (r["evaluation"].get("kid") is None, r["evaluation"].get("kid") or 0.0))


def row(r: dict) -> dict[str, str | int | float | None]:
    """One record as a table row, every figure formatted once for both the README table and notebook 04's:
    its budget and data, KID ± std, FID, GQ/DQ/PQ with the judge, the grid's shape spread and what it says, and the
    speed of the machine that made it ("–" where the record has no such figure)."""
    e, m = r["evaluation"], r["machine"]
    value = spread(r)
    return {
        "notebook": r["notebook"],
        "run": r["run"],
        "kimg": r["kimg"] if r.get("kimg") is not None else round(r["images_shown"] / 1000, 1),
        "data": f"{r['data']['name']} ({r['data']['images']:,})" if r.get("data") else "–",
        "KID ± std": "–" if e.get("kid") is None else f"{e['kid']:.4f} ± {e['kid_std']:.4f}",
        "FID": "–" if e.get("fid") is None else f"{e['fid']:.1f}",
        "GQ / DQ / PQ % (judge)": f"{e['gq_pct']:.1f} / {e['dq_pct']:.1f} / {e['pq_pct']:.1f} (v{r['judge']})",
        "shape spread": "–" if value is None else f"{value:.2f}",
        "grid": grid_state(value) or "–",
        "samples": e.get("n", "–"),
        "img/s": f"{m['img_per_s']:.0f}" if m.get("img_per_s") else "–",
        "CPU or device": m["cpu"] if m["device"] == "CPU" else m["device"],
        "date": r["date"],
    }


README_COLUMNS = ("notebook", "run", "kimg", "KID ± std", "FID", "GQ / DQ / PQ % (judge)", "shape spread", "grid",
                  "img/s", "CPU or device", "date")


def markdown_table(found: list[dict]) -> str:
    """The README's results table: one `row` per record, by notebook and then KID."""
    if not found:
        return "No records yet: run notebooks 01-03 (not FAST) to make them.\n"
    rows = [row(r) for r in sorted(by_kid(found), key=lambda r: r["notebook"])]  # stable: KID order within each
    lines = ["| " + " | ".join(README_COLUMNS) + " |", "|" + "---|" * len(README_COLUMNS)]
    lines += ["| " + " | ".join(f"{r[c]:g}" if c == "kimg" else str(r[c]) for c in README_COLUMNS) + " |"
              for r in rows]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- results table: generated from notebooks/results -->", "<!-- end of results table -->"


def readme_with_table(text: str, found: list[dict]) -> str:
    """`text` (the README) with the block between BEGIN and END replaced by `markdown_table(found)`."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"the README has no results block ({BEGIN} ... {END})")
    return text[: start + len(BEGIN)] + "\n" + markdown_table(found) + text[stop:]


def main(argv: list[str] | None = None) -> int:
    """`python -m animegan_tf.records README.md [RESULTS]`: rewrite the README's results table from the records."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print("usage: python -m animegan_tf.records README.md [RESULTS_FOLDER]", file=sys.stderr)
        return 2
    readme = Path(args[0])
    root = Path(args[1]) if len(args) > 1 else results_root()
    try:
        text = readme.read_text()
    except OSError as error:
        print(f"error: cannot read {readme}: {error.strerror}", file=sys.stderr)
        return 2
    if BEGIN not in text or END not in text:
        print(f"error: {readme} has no results block ({BEGIN} ... {END})", file=sys.stderr)
        return 2
    found = gather(root)
    atomic_write_bytes(readme, readme_with_table(text, found).encode())
    print(f"{readme.name}: results table from {len(found)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
