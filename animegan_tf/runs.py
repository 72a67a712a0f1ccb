"""Run folders: what a training run writes, and how to read it back.

runs/<name>/
  config.json           the GANConfig of the run
  fixed_z.npy           the latents of the per-epoch sample grid (fixed for the whole run, resumes included)
  history.csv           one row of epoch-mean metrics per epoch (Keras CSVLogger)
  losses.png            G loss, D-real loss and D-fake loss per epoch
  samples/epoch_0001.png ...
  checkpoints/latest.npz  full training state, written atomically (temp file + rename)
  checkpoints/previous_1.npz, previous_2.npz   the two states before it (resume falls back to them)
  checkpoints/best.npz    the state with the lowest KID (when eval_every > 0)
  metrics.jsonl         one evaluation per line: GQ/DQ/PQ %, KID (and FID), by epoch
  labels.json           manual GQ/DQ/PQ labels (quality.label), written at every click
  data.json             the --data source the run trained on
  generator.keras       the generator that samples, at the end (the averaged one when ema_decay > 0)
  generator_raw.keras   the trained (not averaged) generator, at the end, when ema_decay > 0
  generator_int8.npz    in a shipped folder (animegan_tf/pretrained/), generator.keras stored in int8 (quantize.py)
"""

from __future__ import annotations

import contextlib
import csv
import time
import warnings
import zipfile
import io
import json
import os
import re
from pathlib import Path

try:
    import fcntl  # POSIX: Linux, macOS, Colab
except ImportError:  # Windows: no run-folder lock
    fcntl = None

import numpy as np

from .config import GANConfig
from .files import atomic_write_bytes, read_jsonl
from .quantize import save_int8

CHECKPOINT = Path("checkpoints") / "latest.npz"
PREVIOUS_CHECKPOINTS = (Path("checkpoints") / "previous_1.npz", Path("checkpoints") / "previous_2.npz")
BEST_CHECKPOINT = Path("checkpoints") / "best.npz"  # lowest KID so far (when evaluation during training is on)
AVERAGES = Path("averages")  # averaged generators at more half-lives than the run's own (callbacks.ExtraAverages)
FINAL_GENERATOR = "generator.keras"
FINAL_RAW_GENERATOR = "generator_raw.keras"
INT8_GENERATOR = "generator_int8.npz"  # a shipped generator stored in int8 (quantize.py), in place of generator.keras
MADE = "made.json"  # a shipped generator's record of how it was trained and scored

# Generators trained here and shipped with the package, each a minimal run folder (config.json, generator.keras or
# generator_int8.npz, made.json: how it was made and how it scored), so everything that reads run folders reads them.
PRETRAINED_DIR = Path(__file__).parent / "pretrained"


# The one `--pretrained` picks when none is named: the long run of the README's first screen.
DEFAULT_PRETRAINED = "fast-wide"


def pretrained_run(name: str = DEFAULT_PRETRAINED) -> Path:
    """The shipped run folder of a pretrained generator (`animegan-tf sample|serve --pretrained`)."""
    folder = PRETRAINED_DIR / name
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not (folder / "config.json").exists():
        have = sorted(p.name for p in PRETRAINED_DIR.glob("*") if (p / "config.json").exists())
        raise FileNotFoundError(f"no pretrained generator {name!r}: have {', '.join(have) or 'none'}")
    return folder


def finished_generator(run_dir: Path) -> Path:
    """A finished run's generator.keras (its sampling generator); FileNotFoundError while it has none."""
    final = Path(run_dir) / FINAL_GENERATOR
    if not final.exists():
        raise FileNotFoundError(f"run folder has no {FINAL_GENERATOR} (it is written when training ends): {run_dir}")
    return final


def export_pretrained(run_dir: Path, out_dir: Path, made: dict, int8_weights: dict | None = None,
                      int8_axes: dict | None = None, config: GANConfig | None = None,
                      source: Path | None = None) -> Path:
    """Copy a finished run's sampling generator and config into a minimal run folder `out_dir`, with `made`
    (how it was trained and scored) as made.json. Each file is written atomically.

    Args:
        int8_weights: the sampling generator's arrays by checkpoint key ("generator/<path>", variable_keys), to
            store as generator_int8.npz (quantize.py) in place of a copy of generator.keras.
        int8_axes: the output channel axis of a kernel whose last axis is not (quantize.quantize).
        config: the config.json to ship (e.g. the run's under its preset's name); default the run's own.
        source: the .keras file to ship in place of the run's generator.keras (which the run must still have: it
            is written when training ends), e.g. an average the run kept beside its own.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    final = finished_generator(run_dir)
    if out_dir.resolve() == run_dir.resolve():
        raise ValueError(f"export into the run folder itself: {run_dir}")
    weights = None if int8_weights is not None else Path(source or final).read_bytes()
    # One generator per folder, and the old one and its made.json go first: a crash midway leaves a folder that says
    # it has none, never a new config beside old weights or an old score beside new ones.
    for name in (FINAL_GENERATOR, INT8_GENERATOR, MADE):
        (out_dir / name).unlink(missing_ok=True)
    write_config(out_dir, config if config is not None else load_config(run_dir))
    if weights is not None:
        atomic_write_bytes(out_dir / FINAL_GENERATOR, weights)
    else:
        save_int8(out_dir / INT8_GENERATOR, int8_weights, int8_axes)
    atomic_write_bytes(out_dir / MADE, (json.dumps(made, indent=1) + "\n").encode())
    return out_dir


def read_made(run_dir: Path) -> dict | None:
    """A shipped generator's made.json (how it was trained and scored); None for an ordinary run folder."""
    path = Path(run_dir) / MADE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_config(run_dir: Path, cfg: GANConfig) -> None:
    atomic_write_bytes(Path(run_dir) / "config.json", (cfg.to_json() + "\n").encode())


def write_data_source(run_dir: Path, source: str, num_images: int) -> None:
    atomic_write_bytes(Path(run_dir) / "data.json", json.dumps({"source": source, "images": num_images}).encode())


def data_source(run_dir: Path) -> str | None:
    path = Path(run_dir) / "data.json"
    return json.loads(path.read_text())["source"] if path.exists() else None


def load_config(run_dir: Path) -> GANConfig:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"not a run folder (no config.json): {run_dir}")
    return GANConfig.from_json(path.read_text())


def _history_rows(path: Path) -> tuple[list[str], list[dict]]:
    """history.csv's header and its well-formed rows (a line cut short by a killed process is left out)."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = []
        for row in reader:
            try:
                if None in row or any(v is None for v in row.values()):
                    continue
                int(float(row["epoch"]))
                [float(v) for k, v in row.items() if v not in ("NA", "")]
            except (KeyError, ValueError):
                continue
            rows.append(row)
        return list(reader.fieldnames or []), rows


def trim_history(run_dir: Path, epochs_done: int) -> None:
    """Keep only history.csv's rows of the epochs the checkpoint has finished (Keras numbers them from 0), so a
    resumed run writes exactly one row per epoch: a row of an interrupted, diverged or killed epoch goes."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return
    header, rows = _history_rows(path)
    kept = [row for row in rows if int(float(row["epoch"])) < epochs_done]
    if len(kept) == len(rows) and path.read_text().count("\n") == len(rows) + 1:
        return  # nothing to drop
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    atomic_write_bytes(path, buf.getvalue().encode())


def load_history(run_dir: Path) -> dict[str, list[float]]:
    """history.csv -> {"epoch": [...], "g_loss": [...], ...}; empty when the run has not finished an epoch."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return {}
    _, rows = _history_rows(path)
    if not rows:
        return {}
    # Columns with no value in any row (the all-"NA" val_* columns of history files written before HistoryLogger
    # left them out; a KID column of a run that never measured): drop those.
    table = {key: [float("nan") if row[key] in ("NA", "") else float(row[key]) for row in rows] for key in rows[0]}
    return {key: values for key, values in table.items() if not all(v != v for v in values)}


LOCK_FILE = "train.lock"


class RunLocked(RuntimeError):
    """Another live process is training this run folder."""


@contextlib.contextmanager
def training_lock(run_dir: Path):
    """Hold the run folder's writer lock while training: a second writer gets RunLocked naming the holder's pid.

    An OS file lock (flock), so it dies with its process: a run killed with SIGKILL does not block the next
    --resume. The lock file stays in the run folder (deleting it would let two writers lock two different files).
    """
    if fcntl is None:
        yield
        return
    path = Path(run_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunLocked(f"{run_dir} is being trained by another process (pid {holder}): wait for it to end or "
                            f"stop it, then --resume") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        remove_stale_temporaries(run_dir)  # we are the only writer: any temporary file is a killed writer's
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed writer left in the run folder (atomic writes' `.NAME.*.tmp`, the link
    of checkpoint rotation, a half-saved `*.tmp.keras`); call only while holding the writer lock."""
    run_dir = Path(run_dir)
    stale = [p for pattern in (".*.tmp", "*.npz.tmp", "*.tmp.keras") for p in run_dir.rglob(pattern) if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def fixed_latents(run_dir: Path, cfg: GANConfig) -> np.ndarray:
    """The run's fixed z, created once from the seed and kept in the run folder."""
    path = Path(run_dir) / "fixed_z.npy"
    if path.exists():
        return np.load(path)
    z = np.random.default_rng([cfg.seed, 7]).standard_normal((cfg.num_samples, cfg.latent_dim)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, z)
    atomic_write_bytes(path, buf.getvalue())
    return z


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints: every variable that defines where training is, in one .npz
# ---------------------------------------------------------------------------------------------------------------

def _state_groups(gan) -> dict[str, list]:
    return {
        "generator": gan.generator.weights,  # kernels, BN gamma/beta and moving statistics
        "discriminator": gan.discriminator.weights,
        "g_optimizer": gan.g_optimizer.variables,  # iterations, Adam moments, loss scale under float16
        "d_optimizer": gan.d_optimizer.variables,
        "z_rng": [gan.z_rng.state],
        # the averaged generator, every weight (checkpoints of runs without one have no such group)
        **({"ema_generator": gan.ema_generator.weights} if gan.ema_generator is not None else {}),
        # the random streams of seeded layers (D's dropout): not weights, but a resume must draw the same masks
        **({"layer_rngs": rngs} if (rngs := layer_rng_states(gan)) else {}),
    }


def layer_rng_states(gan) -> list:
    """The state variables of the seed generators inside the two networks (Keras Dropout keeps its stream there,
    outside `weights`), in layer order."""
    return [layer.seed_generator.state for model in (gan.generator, gan.discriminator) for layer in model.layers
            if getattr(layer, "seed_generator", None) is not None]


def variable_keys(group: str, variables) -> list[str]:
    """The checkpoint keys of a group's variables: "<group>/<variable path>" (a layer or optimizer variable by
    name, so a reordered model cannot load the wrong array into a same-shaped variable), with the auto-numbering of
    the path's first part dropped ("adam_3/..." -> "adam/...": it depends on how many optimizers the process made
    before). Variables without a unique path (the z stream's state) are keyed by index, "<group>/0000"."""
    paths = [getattr(var, "path", None) for var in variables]
    if all(paths):
        names = [re.sub(r"_\d+$", "", p.split("/", 1)[0]) + p[len(p.split("/", 1)[0]):] for p in paths]
        if len(set(names)) == len(names):
            return [f"{group}/{name}" for name in names]
    return [f"{group}/{i:04d}" for i in range(len(variables))]


def read_group(ckpt, group: str, variables, source: Path, assign=None) -> None:
    """Load one group of an open checkpoint into `variables`, by name (or by index for the z stream and for
    checkpoints written before names were kept); ValueError naming what does not match."""
    stored = [k for k in ckpt.files if k.startswith(group + "/")]
    if stored and all(re.fullmatch(r"\d{4}", k[len(group) + 1:]) for k in stored):
        keys = sorted(stored)  # by index
    else:
        keys = variable_keys(group, variables)
        missing, unexpected = sorted(set(keys) - set(stored)), sorted(set(stored) - set(keys))
        if missing or unexpected:
            raise ValueError(f"checkpoint {source}: the {group} variables do not match the model (missing "
                             f"{missing[:2]}, unexpected {unexpected[:2]}): was it written with another config?")
    if len(keys) != len(variables):
        raise ValueError(f"checkpoint {source} holds {len(keys)} {group} variables, the model has "
                         f"{len(variables)}: was it written with another config?")
    for key, var in zip(keys, variables):
        value = ckpt[key]
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(f"checkpoint {source}: {key} has shape {value.shape}, expected {tuple(var.shape)}")
        (assign or (lambda v, x: v.assign(x)))(var, value)


def save_checkpoint(run_dir: Path, gan, epoch: int, step_in_epoch: int = 0, path: Path = CHECKPOINT,
                    clock: dict | None = None) -> Path:
    """Write the whole training state atomically.

    Args:
        epoch: epochs fully completed.
        step_in_epoch: steps done in epoch `epoch` (0-based) when training stopped mid-epoch, else 0.
        clock: the run's training time so far ({"train_seconds", "train_cpu_seconds"}), kept in the meta.
    """
    arrays = {}
    for group, variables in _state_groups(gan).items():
        for key, var in zip(variable_keys(group, variables), variables):
            arrays[key] = np.asarray(var.numpy() if hasattr(var, "numpy") else var)
    meta = {"epoch": epoch, "step_in_epoch": step_in_epoch, **(clock or {})}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = Path(run_dir) / path
    if path == Path(run_dir) / CHECKPOINT:
        _keep_previous(Path(run_dir))
    atomic_write_bytes(path, buf.getvalue())
    return path


def average_path(run_dir: Path, halflife: int) -> Path:
    """Where a run keeps its averaged generator of `halflife` images (callbacks.ExtraAverages)."""
    return Path(run_dir) / AVERAGES / f"ema_{int(halflife)}.npz"


def save_average(run_dir: Path, halflife: int, variables, weights, steps: int) -> Path:
    """Write one extra average atomically: `weights` (arrays) keyed by the generator `variables` they average, as
    a checkpoint's generator group, and the run's step count they stand for."""
    arrays = dict(zip(variable_keys("generator", variables), weights))
    arrays["steps"] = np.asarray(steps, np.int64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = average_path(run_dir, halflife)
    atomic_write_bytes(path, buf.getvalue())
    return path


def average_steps(run_dir: Path, halflife: int) -> int | None:
    """The run's step count an extra average stands for (None when the run keeps no such average)."""
    path = average_path(run_dir, halflife)
    if not path.exists():
        return None
    with np.load(path) as saved:
        return int(saved["steps"])


def read_average(run_dir: Path, halflife: int, variables) -> tuple[list[np.ndarray], int] | None:
    """An extra average's arrays, in the order of `variables`, and its step count; None when there is none.
    ValueError when it does not match the generator."""
    path = average_path(run_dir, halflife)
    if not path.exists():
        return None
    with np.load(path) as saved:
        arrays = []
        read_group(saved, "generator", variables, path, assign=lambda var, value: arrays.append(np.array(value)))
        return arrays, int(saved["steps"])


def _keep_previous(run_dir: Path) -> None:
    """latest -> previous_1 -> previous_2, by links and renames, so that latest.npz exists at every moment."""
    latest, (first, second) = run_dir / CHECKPOINT, [run_dir / p for p in PREVIOUS_CHECKPOINTS]
    if not latest.exists():
        return
    if first.exists():
        os.replace(first, second)
    link = first.with_name(first.name + ".tmp")
    link.unlink(missing_ok=True)
    os.link(latest, link)  # the new latest is written to a new file, so this one keeps the old state
    os.replace(link, first)


def _read_meta(path: Path) -> dict:
    """A checkpoint file's meta; raises OSError/ValueError/zipfile.BadZipFile/KeyError when it is unreadable."""
    with open(path, "rb") as f, np.load(f) as ckpt:  # our own handle: np.load leaks its own on a bad zip
        meta = json.loads(ckpt["meta"].tobytes().decode())
        for key in ckpt.files:  # reading every array catches a file cut short after its directory
            ckpt[key]
        return meta


_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def read_meta(path: Path) -> dict | None:
    """The meta of one checkpoint file (e.g. checkpoints/best.npz), None when it is missing or unreadable."""
    try:
        return _read_meta(Path(path))
    except _UNREADABLE:
        return None


class NoReadableCheckpoint(FileNotFoundError):
    """A run folder has checkpoint files but none can be read."""


def readable_checkpoint(run_dir: Path, repair: bool = False) -> tuple[Path, dict] | None:
    """(path, meta) of the newest checkpoint that can be read: latest.npz, else previous_1, else previous_2; one
    warning line when that is not latest.npz.

    None when the run has no checkpoint file; NoReadableCheckpoint when it has some and none can be read.
    repair (what `train --resume` asks for): rename a damaged latest.npz to latest.damaged-<time>.npz, so that it is
    never deleted (the next save would rotate it away) and the newest good state is the one training continues from.
    """
    run_dir = Path(run_dir)
    candidates = [run_dir / CHECKPOINT, *[run_dir / p for p in PREVIOUS_CHECKPOINTS]]
    existing = [p for p in candidates if p.exists()]
    if not existing:
        return None
    errors = []
    for path in existing:
        try:
            meta = _read_meta(path)
        except _UNREADABLE as exc:
            errors.append(f"{path.name}: {type(exc).__name__}")
            continue
        if errors:
            damaged, note = run_dir / CHECKPOINT, ""
            if repair and damaged.exists():
                kept = damaged.with_name(f"latest.damaged-{time.strftime('%Y%m%d-%H%M%S')}.npz")
                os.replace(damaged, kept)
                note = f", kept as {kept.name}"
            warnings.warn(f"{run_dir}: unreadable checkpoint ({', '.join(errors)}){note}; using {path.name} "
                          f"(epoch {meta['epoch']}, step {meta['step_in_epoch']})", stacklevel=2)
        return path, meta
    raise NoReadableCheckpoint(f"no readable checkpoint in {run_dir / 'checkpoints'} ({', '.join(errors)}); the "
                               f"files are left as they are")


def checkpoint_meta(run_dir: Path) -> dict | None:
    """{"epoch", "step_in_epoch", "train_seconds", "train_cpu_seconds", "steps", "images_shown", "precision"} of
    the checkpoint training would continue from (fields after the first two only in checkpoints written since they
    were added), or None when there is none."""
    found = readable_checkpoint(run_dir)
    return found[1] if found else None


def steps_done(meta: dict | None, steps_per_epoch: int) -> int:
    """Training steps a checkpoint's state has taken (checkpoints written before the count was kept: from its
    epoch and step, which is exact for runs that never changed data size)."""
    if not meta:
        return 0
    if "steps" in meta:
        return int(meta["steps"])
    return meta["epoch"] * steps_per_epoch + meta.get("step_in_epoch", 0)


def images_shown(meta: dict | None, cfg: GANConfig, num_images: int) -> int:
    """Real images shown to D by a checkpoint's state (batch_size per step)."""
    return steps_done(meta, max(1, num_images // cfg.batch_size)) * cfg.batch_size


def restore_checkpoint(run_dir: Path, gan, groups=None) -> dict:
    """Load the run's newest readable checkpoint into a built GAN (optimizers built with
    `gan.build_optimizers()`); returns its meta."""
    found = readable_checkpoint(run_dir)
    if found is None:
        raise FileNotFoundError(f"nothing to resume: {run_dir} has no checkpoint")
    path = found[0]
    with np.load(path) as ckpt:
        for group, variables in _state_groups(gan).items():
            if groups is not None and group not in groups:
                continue
            if group == "layer_rngs" and not any(k.startswith(group + "/") for k in ckpt.files):
                warnings.warn(f"{path} predates saving the dropout streams: the resumed run draws other dropout "
                              f"masks than an uninterrupted one would", stacklevel=2)
                continue
            read_group(ckpt, group, variables, path,
                       assign=(lambda var, value: gan.z_rng.reset(value)) if group == "z_rng" else None)
        return json.loads(ckpt["meta"].tobytes().decode())


# ---------------------------------------------------------------------------------------------------------------
# Comparing runs (notebooks 01-04)
# ---------------------------------------------------------------------------------------------------------------

def load_metrics(run_dir: Path) -> list[dict]:
    """metrics.jsonl -> list of dicts (one per evaluation), [] when there is none."""
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


def append_metrics(run_dir: Path, record: dict) -> None:
    """Append one evaluation to metrics.jsonl (rewritten atomically, so a kill never leaves half a line)."""
    path = Path(run_dir) / "metrics.jsonl"
    old = path.read_text() if path.exists() else ""
    atomic_write_bytes(path, (old + json.dumps(record, sort_keys=True) + "\n").encode())


def last_sample_grid(run_dir: Path) -> Path | None:
    grids = sorted((Path(run_dir) / "samples").glob("epoch_*.png"))
    return grids[-1] if grids else None


def load_run(run_dir: Path) -> dict:
    """Everything a comparison needs from one run folder."""
    run_dir = Path(run_dir)
    labels_path = run_dir / "labels.json"
    return {
        "name": run_dir.name,
        "dir": run_dir,
        "config": load_config(run_dir),
        "history": load_history(run_dir),
        "metrics": load_metrics(run_dir),
        "labels": json.loads(labels_path.read_text()) if labels_path.exists() else {},
        "checkpoint": checkpoint_meta(run_dir),
        "grid": last_sample_grid(run_dir),
    }


def find_runs(root: Path) -> list[Path]:
    """Run folders (those with a config.json) under `root`, sorted by name."""
    root = Path(root)
    return sorted(p.parent for p in root.glob("*/config.json"))


def summary_row(run: dict) -> dict:
    """One table row: the config knobs people compare, the last epoch's losses, the latest metrics."""
    cfg = run["config"]
    history = run["history"]
    row = {
        "run": run["name"], "preset": cfg.name, "batch": cfg.batch_size, "g_lr": cfg.g_lr, "d_lr": cfg.d_lr,
        "precision": cfg.precision, "epochs_done": (run["checkpoint"] or {}).get("epoch", 0),
    }
    meta = run["checkpoint"] or {}
    if "train_cpu_seconds" in meta:
        row["train_min"] = round(meta["train_seconds"] / 60, 1)
        row["cpu_min"] = round(meta["train_cpu_seconds"] / 60, 1)
    for key in ("g_loss", "d_real_loss", "d_fake_loss"):
        row[key] = round(history[key][-1], 4) if history.get(key) else None
    if history.get("epoch_seconds"):
        row["s_per_epoch"] = round(float(np.median(history["epoch_seconds"])), 1)
    if "images_shown" in meta:
        row["kimg"] = round(meta["images_shown"] / 1000, 1)
    if history.get("img_per_s"):
        row["img_per_s"] = round(float(np.median(history["img_per_s"])), 1)
    latest = run["metrics"][-1] if run["metrics"] else {}
    for key in ("kid", "fid", "gq_pct", "dq_pct", "pq_pct"):
        if key in latest:
            row[key] = latest[key]
    if "gq_pct" in latest:
        row["judge"] = int(latest.get("judge", 1))  # GQ/DQ/PQ of different judge versions do not compare
    return row


def runs_table(run_dirs):
    """A pandas DataFrame with one summary row per run folder."""
    import pandas as pd

    return pd.DataFrame([summary_row(load_run(d)) for d in run_dirs])
