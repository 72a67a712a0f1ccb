"""Keras callbacks that turn a training run into a run folder: sample grids, loss plot, checkpoints, time budget,
divergence guard, TensorBoard grids and the periodic quality evaluation.

Nothing here runs inside `train_step`; all of it happens between steps or epochs.
"""

from __future__ import annotations

import csv
import io
import math
import time
import warnings
from pathlib import Path

import numpy as np

from .backend import keras, tf
from . import runs
from .quality.evaluate import evaluate_images
from .files import atomic_write_bytes, image_grid, save_png, to_uint8
from .sampling import generate


def plot_losses(history: dict[str, list[float]], path: Path, title: str = "") -> None:
    """G loss, D-real loss and D-fake loss per epoch, as seed 003 shows them."""
    # A bare Figure (no pyplot): drawing a file must not change the notebook's backend or leave figures open.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    epochs = [e + 1 for e in history.get("epoch", [])]
    for key, label in (("g_loss", "generator"), ("d_real_loss", "discriminator real"),
                       ("d_fake_loss", "discriminator fake")):
        if key in history:
            ax.plot(epochs, history[key], marker="o" if len(epochs) < 30 else None, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (epoch mean)")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    measured = [(e, k) for e, k in zip(epochs, history.get("kid", [])) if np.isfinite(k)]
    if measured:  # KID measured during training (eval_every): where the run peaked
        kid_ax = ax.twinx()
        kid_epochs, kids = zip(*measured)
        best = int(np.argmin(kids))
        kid_ax.plot(kid_epochs, kids, color="black", linestyle="--", marker=".", label="KID (right axis)")
        kid_ax.plot([kid_epochs[best]], [kids[best]], color="black", marker="*", markersize=12, linestyle="none",
                    label=f"best: KID {kids[best]:.3f}, epoch {kid_epochs[best]}")
        kid_ax.set_ylabel("KID (lower is better)")
        more = kid_ax.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, fontsize=8)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (wall time of the epoch's steps) to the epoch logs; put it before CSVLogger."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self.start


class HistoryLogger(keras.callbacks.CSVLogger):
    """Keras' CSVLogger (append mode) that keeps the columns of a history.csv it appends to.

    CSVLogger takes its columns from the first epoch's logs; a run resumed by a lab version that logs more (or
    fewer) values would then write rows that do not match the file's header, and those rows would be lost. Here
    the header already in the file decides: a missing value is written "NA", a value it has no column for is left
    out. A new file gets exactly the first epoch's columns: CSVLogger would add a `val_*` twin of each, all "NA",
    as the lab trains without validation data.
    """

    def __init__(self, filename):
        super().__init__(filename, append=True)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.append_header:  # the file has a header: keep its columns
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f), [])
            self.keys = header[1:] if header[:1] == ["epoch"] else None

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:
            self.keys = sorted(logs or {})
        super().on_epoch_end(epoch, logs)


class ImagesShown(keras.callbacks.Callback):
    """Counts the real images shown to D (one batch per step: kimg, the field's unit of training length), adds
    `kimg` (the run's total at the end of the epoch), `img_per_s` and `s_per_kimg` (this epoch's speed on this
    machine) to the epoch logs, and with `target_steps` stops cleanly after the step that reaches the run's budget
    in images. Place it after EpochTimer (it reads `epoch_seconds`) and before CSVLogger.

    Args:
        batch_size: global batch: real images per step.
        steps_done: the run's steps before this process (a resumed run continues its count).
        target_steps: stop after this many steps of the whole run (None: no budget in images).
    """

    def __init__(self, batch_size: int, steps_done: int = 0, target_steps: int | None = None):
        super().__init__()
        self.batch_size = batch_size
        self.steps = steps_done
        self.target_steps = target_steps
        self.epoch_steps = 0
        self.stopped = False

    @property
    def images(self) -> int:
        return self.steps * self.batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.epoch_steps += 1
        if self.target_steps is not None and self.steps >= self.target_steps:
            self.model.stop_training = True
            self.stopped = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["kimg"] = self.images / 1000.0
        seconds = logs.get("epoch_seconds")
        if seconds and self.epoch_steps:
            logs["img_per_s"] = self.epoch_steps * self.batch_size / seconds
            logs["s_per_kimg"] = 1000.0 * seconds / (self.epoch_steps * self.batch_size)


class ExtraAverages(keras.callbacks.Callback):
    """Averaged generators at more half-lives than the run's own (`ema_decay`), kept beside it so that one run
    compares half-lives: each is `ema = b * ema + (1 - b) * g` over every weight of the trained generator (BatchNorm
    moving statistics included), b = 0.5 ** (images / half-life) for the images since its last update, with the
    half-life capped at `rampup` * images seen step by step, as the run's own average is (`ema_rampup`).

    Updated every `every` steps (one copy of the weights to the host each time; `every=1` is the run's own rule
    exactly), saved atomically to <run>/averages/ema_<half-life>.npz after every epoch and when training ends, and
    read back when the run resumes. An average with no file yet starts from the run's averaged generator as it is
    (the trained one when the run keeps none), so it can start in a resumed run; its start weighs
    0.5 ** (N / half-life) after N more images, so compare averages that have run ten half-lives or more. A
    process killed after an epoch's checkpoint and before this save resumes the averages from an epoch earlier
    (that epoch's updates are missed, with a warning: small against half-lives of many epochs); one that stands
    for more steps than the run resumes at (an older checkpoint) starts again from the run's average, with a
    warning. Pass it again on every resume. Under mixed_float16 a step the loss scaler skips is not averaged in
    (the run's own average decays at it). Place it after Checkpoint.

    Args:
        halflives: half-lives in images.
        batch_size: the global batch (real images per step).
    """

    def __init__(self, run_dir: Path, halflives, batch_size: int, rampup: float = 0.0, every: int = 4):
        super().__init__()
        if not halflives or not all(math.isfinite(h) and h >= 1 for h in halflives) or every < 1:
            raise ValueError(f"half-lives must be >= 1 image and every >= 1, got {halflives!r} and {every!r}")
        self.run_dir = Path(run_dir)
        self.halflives = [round(h) for h in halflives]
        self.batch_size, self.rampup, self.every = batch_size, float(rampup), every
        self.averages: dict[int, list[np.ndarray]] = {}
        self.step = None  # the run's G steps at the averages' last update; None until training begins
        self.pending = 0  # batches since then (the step count is read from the optimizer only to update)

    def _steps(self) -> int:
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self.step = now = self._steps()
        self.pending = 0
        variables = self.model.generator.weights
        start = None
        for h in self.halflives:
            saved = runs.read_average(self.run_dir, h, variables)
            if saved is not None and saved[1] != now:
                what = ("starts again from the run's average" if saved[1] > now else
                        f"misses the updates of the {now - saved[1]} steps between")
                warnings.warn(f"the average of half-life {h} images stands for {saved[1]} steps and the run "
                              f"resumes at {now}: it {what}", stacklevel=2)
                saved = None if saved[1] > now else saved
            if saved is None:
                start = start or [np.array(w.numpy(), np.float32) for w in self.model.sampling_generator.weights]
                self.averages[h] = [w.copy() for w in start]
            else:
                self.averages[h] = [w.astype(np.float32) for w in saved[0]]

    def decay(self, halflife: int, first: int, last: int) -> float:
        """The product of the per-step decays of steps first+1 .. last (the run's step count after each)."""
        exponent = 0.0
        for t in range(first + 1, last + 1):
            h = min(halflife, self.rampup * t * self.batch_size) if self.rampup else halflife
            exponent += self.batch_size / max(h, 1e-8)
        return 0.5 ** exponent

    def update(self):
        now = self._steps()
        if self.step is None or now == self.step:
            return
        weights = [w.numpy() for w in self.model.generator.weights]
        for h, average in self.averages.items():
            b = np.float32(self.decay(h, self.step, now))
            for a, w in zip(average, weights):
                a *= b
                a += (1 - b) * w.astype(np.float32)
        self.step, self.pending = now, 0

    def on_train_batch_end(self, batch, logs=None):
        self.pending += 1
        if not self.model.diverged and self.pending >= self.every:
            self.update()

    def save(self):
        if self.model.diverged or self.step is None:
            return
        self.update()
        for h, average in self.averages.items():
            runs.save_average(self.run_dir, h, self.model.generator.weights, average, self.step)

    def on_epoch_end(self, epoch, logs=None):
        self.save()

    def on_train_end(self, logs=None):
        self.save()


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, the generator's images for the run's fixed z -> samples/epoch_NNNN.png (the averaged
    generator when the run keeps one)."""

    def __init__(self, run_dir: Path, fixed_z: np.ndarray):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.fixed_z = fixed_z

    def on_epoch_end(self, epoch, logs=None):
        if self.model.diverged:
            return
        images = to_uint8(self.model.generate(self.fixed_z))
        save_png(image_grid(images), self.run_dir / "samples" / f"epoch_{epoch + 1:04d}.png")


class TensorBoardGrid(keras.callbacks.Callback):
    """After every epoch, the sample grid of the run's fixed z as an image in TensorBoard (`<run>/tb/samples`);
    Keras' own TensorBoard callback logs the losses and evaluation metrics beside it."""

    def __init__(self, log_dir: Path, fixed_z: np.ndarray):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.fixed_z = fixed_z
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self.model.diverged:
            return
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir / "samples"))
        grid = image_grid(to_uint8(self.model.generate(self.fixed_z)))
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class LossPlot(keras.callbacks.Callback):
    """Redraw losses.png from history.csv after every epoch (so a resumed run plots its whole history)."""

    def __init__(self, run_dir: Path, title: str = ""):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.title = title

    def on_epoch_end(self, epoch, logs=None):
        history = runs.load_history(self.run_dir)
        if history:
            plot_losses(history, self.run_dir / "losses.png", self.title)


class Checkpoint(keras.callbacks.Callback):
    """Write the full training state after every epoch, and when training stops mid-epoch.

    Args:
        steps_per_epoch: steps in a full epoch, to tell a finished epoch from an interrupted one.
        step_offset: steps already done in the first epoch of this `fit` (a resumed partial epoch).
        meta: more fields for the checkpoint's meta (the dtype policy the run trains in).
    """

    def __init__(self, run_dir: Path, steps_per_epoch: int, step_offset: int = 0, clock: "TrainingClock" = None,
                 shown: ImagesShown | None = None, meta: dict | None = None):
        super().__init__()
        self.meta = dict(meta or {})
        self.run_dir = Path(run_dir)
        self.steps_per_epoch = steps_per_epoch
        self.step_offset = step_offset
        self.steps_done = 0
        self.clock = clock
        self.shown = shown

    def on_epoch_begin(self, epoch, logs=None):
        self.steps_done = self.step_offset
        self.step_offset = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done += 1

    @property
    def epoch_complete(self) -> bool:
        """Whether the epoch in progress has done all its steps (read in on_epoch_end)."""
        return self.steps_done >= self.steps_per_epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.model.diverged:  # never write a state of non-finite weights over the last good one
            return
        clock = {**self.meta, **(self.clock.state() if self.clock else {})}
        if self.shown is not None:
            clock = {**clock, "steps": self.shown.steps, "images_shown": self.shown.images}
        if self.epoch_complete:
            runs.save_checkpoint(self.run_dir, self.model, epoch=epoch + 1, clock=clock)
        else:  # stopped mid-epoch (time budget): remember where
            runs.save_checkpoint(self.run_dir, self.model, epoch=epoch, step_in_epoch=self.steps_done, clock=clock)


class TimeBudget(keras.callbacks.Callback):
    """Stop cleanly after the step in progress once `minutes` have passed (Colab sessions end without warning)."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = minutes * 60.0
        self.start = None
        self.stopped = False

    def on_train_begin(self, logs=None):
        if self.start is None:
            self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start >= self.seconds:
            self.model.stop_training = True
            self.stopped = True


class TrainingClock(keras.callbacks.Callback):
    """The run's training time, wall-clock and CPU, summed over every process that trained it (the checkpoint keeps
    it); with `cpu_minutes`, stop cleanly after the step that brings the run's CPU time to that budget.

    CPU time is this process's, all threads (`time.process_time`): on a shared machine it is the fair measure of
    what a run was given, where wall-clock time also counts what other processes took. Grids, plots, checkpoints
    and evaluations between epochs count too (history.csv's per-epoch img/s counts only the steps). Place it
    after QualityMonitor, SampleGrid and LossPlot, and before Checkpoint.
    """

    def __init__(self, seconds: float = 0.0, cpu_seconds: float = 0.0, cpu_minutes: float | None = None):
        super().__init__()
        self.seconds, self.cpu_seconds = float(seconds), float(cpu_seconds)
        self.cpu_budget = None if cpu_minutes is None else cpu_minutes * 60.0
        self.stopped = False
        self._mark = None

    def state(self) -> dict:
        return {"train_seconds": round(self.seconds, 3), "train_cpu_seconds": round(self.cpu_seconds, 3)}

    def spent(self) -> bool:
        return self.cpu_budget is not None and self.cpu_seconds >= self.cpu_budget

    def _tick(self):
        now = (time.monotonic(), time.process_time())
        if self._mark is not None:
            self.seconds += now[0] - self._mark[0]
            self.cpu_seconds += now[1] - self._mark[1]
        self._mark = now

    def on_train_begin(self, logs=None):
        self._mark = None
        self._tick()

    def on_train_batch_end(self, batch, logs=None):
        self._tick()
        if self.spent():
            self.model.stop_training = True
            self.stopped = True

    def on_epoch_end(self, epoch, logs=None):
        self._tick()

    def on_train_end(self, logs=None):
        self._tick()
        self._mark = None


class DivergenceGuard(keras.callbacks.Callback):
    """Stop after the step whose losses and weights went non-finite, and mark the model `diverged` (Checkpoint and
    SampleGrid then write nothing, and `train` raises TrainingDiverged).

    A non-finite loss alone is not divergence: under mixed_float16 the loss scaler skips such a step and keeps the
    weights. So the weights are checked (only when a loss is non-finite: the check copies them to the host).
    Place it first among the callbacks, so it acts before anything saves.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.where = None  # (epoch, step, {loss: value}) once diverged

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        losses = {k: float(logs[k]) for k in ("g_loss", "d_loss") if logs and k in logs}
        if all(math.isfinite(v) for v in losses.values()):
            return
        if all(np.isfinite(w.numpy()).all() for w in self.model.weights):
            return  # a step the loss scaler skipped (the epoch's running mean stays non-finite until it ends)
        self.where = (self.epoch + 1, batch + 1, losses)
        self.model.diverged = True
        self.model.stop_training = True


class QualityMonitor(keras.callbacks.Callback):
    """Every `every` epochs: KID and the judge's tallies of `n` samples into metrics.jsonl, and
    checkpoints/best.npz kept at the lowest KID so far.

    Place it before CSVLogger and TrainingClock (train() does), so history.csv and the loss plot carry the KID
    curve (NaN on epochs without a measurement) and the run's clock counts the measurement; metrics.jsonl records
    what each one took (`seconds`: drawing and scoring, not the best.npz save). best.npz is the state at the end of
    the measured epoch, saved here; a process killed before the epoch's checkpoint replays that epoch exactly on
    resume and measures the same state again.

    An epoch cut short (a time budget, a budget in images ending mid-epoch) is not measured: its resume finishes
    it and measures it then. The run's `checkpoint` callback tells a cut epoch from one that ended on its last step
    because the run stopped there (a budget in images that ends on an epoch boundary), which is measured.
    """

    def __init__(self, run_dir, reference: np.ndarray, checkpoint: Checkpoint, every: int = 5, n: int = 500,
                 seed: int = 0, shown: ImagesShown | None = None):
        super().__init__()
        self.shown = shown  # to record the kimg of each evaluation
        self.checkpoint = checkpoint
        self.run_dir = Path(run_dir)
        self.reference = np.asarray(reference)
        self.every, self.n, self.seed = every, n, seed
        previous = [m["kid"] for m in runs.load_metrics(self.run_dir) if "kid" in m]
        self.best = min(previous) if previous else float("inf")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or not self.checkpoint.epoch_complete or self.model.diverged:
            if logs is not None:
                logs["kid"] = float("nan")  # so history.csv has a KID column from the first epoch on
            return
        start = time.perf_counter()
        images = generate(self.model.sampling_generator, self.n, seed=self.seed)
        result = {"epoch": epoch + 1, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  **({"kimg": self.shown.images / 1000} if self.shown is not None else {}),
                  **evaluate_images(images, self.reference, with_fid=False, seed=self.seed)}
        result["seconds"] = round(time.perf_counter() - start, 3)  # what this measurement cost the run (wall)
        runs.append_metrics(self.run_dir, result)
        if result["kid"] < self.best:
            self.best = result["kid"]
            count = {"steps": self.shown.steps, "images_shown": self.shown.images} if self.shown is not None else {}
            runs.save_checkpoint(self.run_dir, self.model, epoch=epoch + 1, path=runs.BEST_CHECKPOINT, clock=count)
        if logs is not None:
            logs["kid"] = result["kid"]
