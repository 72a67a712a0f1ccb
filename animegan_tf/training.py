"""Run a training job: config + data -> a run folder. The CLI and the notebooks both call `train`."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from .backend import keras
from . import callbacks as cb
from . import data as data_lib
from . import runs
from .data.augment import make_augment
from .config import GANConfig, check_resume_changes
from .quality.evaluate import reference_sample
from .gan import DCGAN
from .precision import make_strategy, resolve_precision
from .sampling import build_gan


class TrainingDiverged(RuntimeError):
    """Losses and weights went non-finite; the run folder keeps its last good checkpoint."""


def train(cfg: GANConfig, data, run_dir, resume: bool = False, max_minutes: float | None = None,
          verbose: int | str = "auto", extra_callbacks=(), data_source: str | None = None,
          cpu_minutes: float | None = None, kimg: float | None = None) -> DCGAN:
    """Train `cfg` on `data` into `run_dir`; returns the trained DCGAN.

    Args:
        data: a `--data` value ("synthetic", "synthetic:N", folder, .zip) or a uint8 array (N, S, S, 3).
        run_dir: the run folder; must not hold a checkpoint unless `resume`.
        resume: continue from the run folder's checkpoint exactly (epoch, optimizers, loss scale, z stream, data
            order); `cfg.epochs` may be raised to train longer.
        max_minutes: stop cleanly after the step in progress once this process has trained this many wall-clock
            minutes, and checkpoint (a Colab session's limit).
        cpu_minutes: the run's whole budget in CPU-minutes of training, counted over every process that trained it
            (the checkpoint keeps the count): stop cleanly once it is spent; a run that has spent it trains no more.
        kimg: the run's length in thousands of real images shown to D (a step shows one batch), counted across
            resumes: training stops after the step that reaches ceil(kimg * 1000 / batch_size) steps, whatever
            `cfg.epochs` says; a run that has reached it trains no more.
        data_source: what `data` came from, recorded in data.json (defaults to `data` when it is a string).
    Raises:
        ConfigError: on resume, a field that cannot change mid-run differs from the run's config.
        runs.RunLocked: another live process is training this run folder.
        runs.NoReadableCheckpoint: the run has checkpoint files and none of them can be read.
        TrainingDiverged: losses and weights went non-finite (nothing is saved from that state).
    """
    run_dir = Path(run_dir)
    found = runs.readable_checkpoint(run_dir, repair=resume)  # a damaged latest falls back to a previous state
    meta = found[1] if found else None
    if meta is not None and not resume:
        raise FileExistsError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, or choose "
                              f"another --out")
    if resume and meta is None:
        raise FileNotFoundError(f"nothing to resume: {run_dir} has no checkpoint")

    if resume:
        check_resume_changes(runs.load_config(run_dir), cfg)

    images = data if isinstance(data, np.ndarray) else data_lib.load_array(data, cfg.image_size)
    if images.shape[1:3] != (cfg.image_size, cfg.image_size):
        raise data_lib.DataError(f"images are {images.shape[1]}x{images.shape[2]}, config image_size is "
                                 f"{cfg.image_size}")
    run_dir.mkdir(parents=True, exist_ok=True)
    with runs.training_lock(run_dir):  # one writer per run folder
        if runs.checkpoint_meta(run_dir) is not None and not resume:  # another process got there first
            raise FileExistsError(f"{run_dir} already holds a checkpoint: pass --resume to continue it")
        gan, divergence = _train_locked(cfg, images, run_dir, resume, max_minutes, cpu_minutes, kimg, verbose,
                                        extra_callbacks,
                                        data_source or (None if isinstance(data, np.ndarray) else str(data)))
    if divergence:
        epoch, step, losses = divergence
        meta = runs.checkpoint_meta(run_dir)
        kept = f"the latest checkpoint is still epoch {meta['epoch']}" if meta else "no checkpoint was written"
        values = ", ".join(f"{k}={v:.3g}" for k, v in losses.items())
        raise TrainingDiverged(f"training diverged at epoch {epoch}, step {step} ({values}; the weights are "
                               f"non-finite): nothing was saved from them, {kept}; lower g_lr/d_lr and --resume")
    return gan


def target_steps(kimg: float | None, batch_size: int) -> int | None:
    """The steps of a run whose budget is `kimg` thousand real images (None: no budget in images)."""
    return None if kimg is None else max(1, math.ceil(kimg * 1000 / batch_size))


def _run_precision(cfg: GANConfig, run_dir: Path, resume: bool) -> str:
    """The dtype policy a run trains in. `precision=auto` resolves per machine (mixed_float16 on a GPU, float32 or
    mixed_bfloat16 on a CPU), but a run keeps the policy it started in (its checkpoint's meta says which), so that
    it resumes exactly on any machine: a Colab GPU run, resumed on a CPU, keeps its loss scale and float16."""
    policy = resolve_precision(cfg)
    started = (runs.checkpoint_meta(run_dir) or {}).get("precision") if resume else None
    if cfg.precision == "auto" and started and started != policy:
        slow = " (float16 is emulated on a CPU: several times slower)" if started == "mixed_float16" else ""
        warnings.warn(f"precision=auto: this run started in {started}, and continues in it{slow}; here auto would "
                      f"pick {policy}, for new runs", stacklevel=3)
        return started
    return policy


def _train_locked(cfg, images, run_dir, resume, max_minutes, cpu_minutes, kimg, verbose, extra_callbacks,
                  data_source):
    steps = data_lib.steps_per_epoch(len(images), cfg.batch_size)
    runs.write_config(run_dir, cfg)
    if data_source:
        runs.write_data_source(run_dir, data_source, len(images))
    fixed_z = runs.fixed_latents(run_dir, cfg)

    strategy = make_strategy(cfg)
    policy = _run_precision(cfg, run_dir, resume)
    gan = build_gan(cfg, strategy, policy)
    epoch, step_in_epoch, meta = 0, 0, {}
    if resume:
        meta = runs.restore_checkpoint(run_dir, gan)
        epoch, step_in_epoch = meta["epoch"], meta["step_in_epoch"]
        # The checkpoint brings back the learning-rate variables; the config (--set on resume) decides them.
        gan.g_optimizer.learning_rate = cfg.g_lr
        gan.d_optimizer.learning_rate = cfg.d_lr
    runs.trim_history(run_dir, epoch)  # one row per finished epoch, whatever stopped the last process
    clock = cb.TrainingClock(meta.get("train_seconds", 0.0), meta.get("train_cpu_seconds", 0.0), cpu_minutes)
    steps_done = runs.steps_done(meta, steps)
    target = target_steps(kimg, cfg.batch_size)
    # with a budget in images, the epochs are whatever it takes to show them (the last one may end mid-epoch)
    last_epoch = cfg.epochs if target is None else math.ceil(target / steps)
    if epoch >= last_epoch or clock.spent() or (target is not None and steps_done >= target):
        return gan, None
    shown = cb.ImagesShown(cfg.batch_size, steps_done, target)

    budget = cb.TimeBudget(max_minutes) if max_minutes else None
    checkpoint = cb.Checkpoint(run_dir, steps, step_offset=step_in_epoch, clock=clock, shown=shown,
                               meta={"precision": policy})
    guard = cb.DivergenceGuard()
    callbacks = [
        guard,  # first: it marks a diverged step before anything saves
        cb.EpochTimer(),  # before CSVLogger, so history.csv gets epoch_seconds
        shown,  # after EpochTimer, before CSVLogger and Checkpoint: kimg, img/s, s/kimg; the budget in images
        # after ImagesShown (the kimg of each evaluation), before CSVLogger and LossPlot: the KID curve
        *([cb.QualityMonitor(run_dir, reference_sample(images), checkpoint, every=cfg.eval_every,
                             n=cfg.eval_samples, seed=cfg.seed, shown=shown)] if cfg.eval_every else []),
        cb.HistoryLogger(str(run_dir / "history.csv")),
        cb.SampleGrid(run_dir, fixed_z),
        cb.LossPlot(run_dir, title=cfg.name),
        clock,  # after the evaluation, grid and plot (its epoch tick counts them), before Checkpoint (saves the count)
        checkpoint,
        *([keras.callbacks.TensorBoard(log_dir=str(run_dir / "tb"), write_graph=False, profile_batch=0),
           cb.TensorBoardGrid(run_dir / "tb", fixed_z)] if cfg.tensorboard else []),  # after QualityMonitor: kid
        *([budget] if budget else []),
        *extra_callbacks,
    ]
    dtype = keras.DTypePolicy(policy).compute_dtype

    def fit(dataset, first_epoch, last_epoch, steps_per_epoch):
        gan.fit(dataset, epochs=last_epoch, initial_epoch=first_epoch, steps_per_epoch=steps_per_epoch,
                callbacks=callbacks, verbose=verbose, shuffle=False)

    augment = make_augment(cfg)
    if cfg.data_pipeline == "array_slices":
        # Scenario 1: the same in-order slices every epoch (a partial epoch restarts its slices where it stopped).
        if step_in_epoch:
            rest = data_lib.array_slices(images[step_in_epoch * cfg.batch_size:], cfg.batch_size, dtype)
            fit(rest, epoch, epoch + 1, steps - step_in_epoch)
            epoch += 1
        if epoch < last_epoch and not gan.stop_training:
            fit(data_lib.array_slices(images, cfg.batch_size, dtype), epoch, last_epoch, steps)
    else:
        if step_in_epoch:  # finish the interrupted epoch on exactly its remaining batches
            rest = data_lib.make_dataset(images, cfg.batch_size, epoch + 1, seed=cfg.seed, initial_epoch=epoch,
                                         dtype=dtype, augment=augment).skip(step_in_epoch)
            fit(rest, epoch, epoch + 1, steps - step_in_epoch)
            epoch += 1
        if epoch < last_epoch and not gan.stop_training:
            dataset = data_lib.make_dataset(images, cfg.batch_size, last_epoch, seed=cfg.seed, initial_epoch=epoch,
                                            dtype=dtype, augment=augment)
            fit(dataset, epoch, last_epoch, steps)

    if gan.diverged:
        return gan, guard.where
    final = runs.checkpoint_meta(run_dir)
    if final and (final["epoch"] >= last_epoch if target is None else runs.steps_done(final, steps) >= target):
        _save_model(gan.sampling_generator, run_dir / runs.FINAL_GENERATOR)  # the averaged one when there is one
        if gan.ema_generator is not None:
            _save_model(gan.generator, run_dir / runs.FINAL_RAW_GENERATOR)
    return gan, None


def _save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(path)
