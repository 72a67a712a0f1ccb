"""Run a training job: config + data -> a run folder. The CLI and the notebooks both call `train`.

Precision: "auto" picks mixed_float16 on a GPU; on a CPU it picks mixed_bfloat16 only when the CPU has native
bfloat16 arithmetic (AVX512_BF16 or AMX), else float32, because CPUs emulate float16 (see BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import callbacks as cb
from . import data as data_lib
from . import runs
from .augment import make_augment
from .config import GANConfig, diffaugment_policies
from .evaluate import QualityMonitor, reference_sample
from .gan import DCGAN
from .models import build_discriminator, build_generator


@functools.lru_cache(maxsize=1)
def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(cfg: GANConfig, warn: bool = True) -> str:
    """The Keras dtype policy name the run will use."""
    gpu = has_gpu()
    if cfg.precision == "auto":
        if gpu:
            return "mixed_float16"
        return "mixed_bfloat16" if _cpu_has_native_bf16() else "float32"
    if cfg.precision == "mixed_float16" and not gpu and warn:
        warnings.warn("precision=mixed_float16 on a CPU: float16 is emulated there and runs several times slower "
                      "than float32 (set precision=auto or float32 for CPU runs)", stacklevel=2)
    return cfg.precision


def compute_dtype(cfg: GANConfig) -> str:
    return keras.DTypePolicy(resolve_precision(cfg, warn=False)).compute_dtype


def make_strategy(cfg: GANConfig) -> tf.distribute.Strategy:
    if cfg.strategy == "mirrored":  # every local GPU, else every (logical) CPU device
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def build_gan(cfg: GANConfig, strategy: tf.distribute.Strategy | None = None) -> DCGAN:
    """Models and optimizers built and compiled inside the strategy's scope."""
    strategy = strategy or make_strategy(cfg)
    policy = resolve_precision(cfg)
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        gan = DCGAN(build_generator(cfg, dtype=policy), build_discriminator(cfg, dtype=policy),
                    latent_dim=cfg.latent_dim, label_smoothing=cfg.label_smoothing, seed=cfg.seed,
                    diffaugment=diffaugment_policies(cfg), loss=cfg.loss,
                    ema_generator=build_generator(cfg, dtype=policy) if cfg.ema_decay else None,
                    ema_decay=cfg.ema_decay, ema_rampup=cfg.ema_rampup)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(cfg.d_lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2),
            g_optimizer=keras.optimizers.Adam(cfg.g_lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2),
            loss_scale=policy == "mixed_float16",
            jit_compile={"auto": "auto", "on": True, "off": False}[cfg.jit_compile],
        )
        gan.build_optimizers()
    return gan


def load_generator(run_dir: Path, ema: bool = True) -> keras.Sequential:
    """The generator of a run folder at its latest checkpoint (float32, inference ready).

    Args:
        ema: the averaged generator when the run keeps one (`ema_decay > 0`); False = the raw, trained one.
    """
    cfg = runs.load_config(run_dir).replace(precision="float32")
    group = "ema_generator" if ema and cfg.ema_decay else "generator"
    generator = build_generator(cfg, dtype="float32")
    ckpt = Path(run_dir) / runs.CHECKPOINT
    if ckpt.exists():
        with np.load(ckpt) as state:
            keys = sorted(k for k in state.files if k.startswith(group + "/"))
            for key, var in zip(keys, generator.weights, strict=True):
                var.assign(state[key])
        return generator
    final = Path(run_dir) / (runs.FINAL_GENERATOR if group == "ema_generator" or not cfg.ema_decay
                             else runs.FINAL_RAW_GENERATOR)
    if final.exists():
        return keras.saving.load_model(final, compile=False)
    raise FileNotFoundError(f"run folder has no checkpoint and no {final.name}: {run_dir}")


def latents(seed: int, n: int, latent_dim: int) -> np.ndarray:
    """The n latents z ~ N(0, I) that `generate` draws with `seed`, (n, latent_dim) float32; row i is face i."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def generate(generator, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """n uint8 images (n, S, S, 3) from z = latents(seed, n, latent_dim)."""
    z = latents(seed, n, generator.input_shape[-1])
    out = [data_lib.to_uint8(generator(z[i:i + batch_size], training=False)) for i in range(0, n, batch_size)]
    return np.concatenate(out) if out else np.zeros((0,) + generator.output_shape[1:], np.uint8)


def train(cfg: GANConfig, data, run_dir, resume: bool = False, max_minutes: float | None = None,
          verbose: int | str = "auto", extra_callbacks=(), data_source: str | None = None) -> DCGAN:
    """Train `cfg` on `data` into `run_dir`; returns the trained DCGAN.

    Args:
        data: a `--data` value ("synthetic", "synthetic:N", folder, .zip) or a uint8 array (N, S, S, 3).
        run_dir: the run folder; must not hold a checkpoint unless `resume`.
        resume: continue from the run folder's checkpoint exactly (epoch, optimizers, loss scale, z stream, data
            order); `cfg.epochs` may be raised to train longer.
        max_minutes: stop cleanly after the step in progress once this budget is spent, and checkpoint.
        data_source: what `data` came from, recorded in data.json (defaults to `data` when it is a string).
    """
    run_dir = Path(run_dir)
    meta = runs.checkpoint_meta(run_dir)
    if meta is not None and not resume:
        raise FileExistsError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, or choose "
                              f"another --out")
    if resume and meta is None:
        raise FileNotFoundError(f"nothing to resume: {run_dir} has no checkpoint")

    images = data if isinstance(data, np.ndarray) else data_lib.load_array(data, cfg.image_size)
    if images.shape[1:3] != (cfg.image_size, cfg.image_size):
        raise data_lib.DataError(f"images are {images.shape[1]}x{images.shape[2]}, config image_size is "
                                 f"{cfg.image_size}")
    steps = data_lib.steps_per_epoch(len(images), cfg.batch_size)
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_config(run_dir, cfg)
    if data_source or not isinstance(data, np.ndarray):
        runs.write_data_source(run_dir, str(data_source or data), len(images))
    fixed_z = runs.fixed_latents(run_dir, cfg)

    strategy = make_strategy(cfg)
    gan = build_gan(cfg, strategy)
    epoch, step_in_epoch = 0, 0
    if resume:
        meta = runs.restore_checkpoint(run_dir, gan)
        epoch, step_in_epoch = meta["epoch"], meta["step_in_epoch"]
    if epoch >= cfg.epochs:
        return gan

    budget = cb.TimeBudget(max_minutes) if max_minutes else None
    checkpoint = cb.Checkpoint(run_dir, steps, step_offset=step_in_epoch)
    callbacks = [
        cb.EpochTimer(),  # before CSVLogger, so history.csv gets epoch_seconds
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        cb.SampleGrid(run_dir, fixed_z),
        cb.LossPlot(run_dir, title=cfg.name),
        checkpoint,
        *([QualityMonitor(run_dir, reference_sample(images), every=cfg.eval_every, n=cfg.eval_samples,
                          seed=cfg.seed)] if cfg.eval_every else []),
        *([budget] if budget else []),
        *extra_callbacks,
    ]
    dtype = keras.DTypePolicy(resolve_precision(cfg, warn=False)).compute_dtype

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
        if epoch < cfg.epochs and not gan.stop_training:
            fit(data_lib.array_slices(images, cfg.batch_size, dtype), epoch, cfg.epochs, steps)
    else:
        if step_in_epoch:  # finish the interrupted epoch on exactly its remaining batches
            rest = data_lib.make_dataset(images, cfg.batch_size, epoch + 1, seed=cfg.seed, initial_epoch=epoch,
                                         dtype=dtype, augment=augment).skip(step_in_epoch)
            fit(rest, epoch, epoch + 1, steps - step_in_epoch)
            epoch += 1
        if epoch < cfg.epochs and not gan.stop_training:
            dataset = data_lib.make_dataset(images, cfg.batch_size, cfg.epochs, seed=cfg.seed, initial_epoch=epoch,
                                            dtype=dtype, augment=augment)
            fit(dataset, epoch, cfg.epochs, steps)

    final = runs.checkpoint_meta(run_dir)
    if final and final["epoch"] >= cfg.epochs:
        _save_model(gan.sampling_generator, run_dir / runs.FINAL_GENERATOR)  # the averaged one when there is one
        if gan.ema_generator is not None:
            _save_model(gan.generator, run_dir / runs.FINAL_RAW_GENERATOR)
    return gan


def _save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(path)
