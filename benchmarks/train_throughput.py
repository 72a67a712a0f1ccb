"""Training throughput (img/s) of the lab's `fit` path against a bare tf.function loop over the same two models.

One step = one discriminator update (real and fake batches) + one generator update, the `dcgan` preset at 64x64.
Runs are interleaved (fit, bare, fit, bare, ...) after a warm-up, so both see the same machine noise; the report
gives medians over repeats and the ratio fit / bare.

  python benchmarks/train_throughput.py                       # float32, batch 128, XLA per Keras' "auto"
  python benchmarks/train_throughput.py --precision mixed_bfloat16 --repeats 7
  python benchmarks/train_throughput.py --compare-precisions  # float32 vs mixed_bfloat16 vs mixed_float16 (fit)
  python benchmarks/train_throughput.py --preset fast --batch 64 --compare-precisions \\
      --precisions float32 mixed_bfloat16                                  # the CPU recipe on a bf16 CPU
  python benchmarks/train_throughput.py --compare-xla          # fit with XLA off vs on
  python benchmarks/train_throughput.py --torch-python .venv-torch/bin/python   # + the PyTorch peer, NCHW and
                                                                 # channels_last (make bench-torch-env makes it)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from animegan_tf.config import preset  # noqa: E402
from animegan_tf.data import make_dataset  # noqa: E402
from animegan_tf.precision import resolve_precision  # noqa: E402
from animegan_tf.machine import cpu_name  # noqa: E402
from animegan_tf.sampling import build_gan  # noqa: E402


def fake_data(n: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def bare_loop(gan, cfg, jit: bool):
    """The same update written as a plain tf.function, no Keras fit machinery, no metric trackers."""
    g, d = gan.generator, gan.discriminator
    g_opt, d_opt = gan.g_optimizer, gan.d_optimizer
    rng = tf.random.Generator.from_seed(cfg.seed)  # the same z stream as DCGAN
    bce = tf.nn.sigmoid_cross_entropy_with_logits

    @tf.function(jit_compile=jit, autograph=False)  # no Python control flow to convert
    def step(real):
        n = tf.shape(real)[0]
        z = rng.normal((n, cfg.latent_dim))
        with tf.GradientTape() as g_tape:
            fake = g(z, training=True)
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                real_logits = d(real, training=True)
                fake_logits = d(tf.stop_gradient(fake), training=True)
                d_loss = tf.reduce_mean(bce(tf.ones_like(real_logits), real_logits)) + tf.reduce_mean(
                    bce(tf.zeros_like(fake_logits), fake_logits))
                scaled = d_opt.scale_loss(d_loss)
            d_opt.apply(d_tape.gradient(scaled, d.trainable_variables), d.trainable_variables)
            g_logits = d(fake, training=True)
            g_loss = tf.reduce_mean(bce(tf.ones_like(g_logits), g_logits))
            scaled = g_opt.scale_loss(g_loss)
        g_opt.apply(g_tape.gradient(scaled, g.trainable_variables), g.trainable_variables)
        return g_loss

    return step


class Timer:
    """Times training steps of one runner; the first call of each runner is a warm-up.

    A runner's `run(steps)` returns the seconds from the end of its first step to the end of its last, so the rate
    is the steady-state one: building an iterator and tearing it down happen once per training run in real use but
    once per timed run here, and a tf.data iterator's teardown was seen to block for seconds now and then on this
    machine (BENCHMARKS.md), which would otherwise land in whichever window it fell in.
    """

    def __init__(self, name, run):
        self.name, self.run, self.rates = name, run, []

    def measure(self, steps, batch, record=True):
        gc.collect()  # let earlier runs' garbage go now, outside every timed window
        elapsed = self.run(steps)
        if record:
            self.rates.append((steps - 1) * batch / elapsed)
            print(f"  {self.name}: {self.rates[-1]:.1f} img/s", flush=True)


class StepClock(keras.callbacks.Callback):
    """The time at the end of every training batch (a CPU step has finished when its call returns)."""

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def epochs_for(steps, cfg, images):
    return 1 + steps // max(1, len(images) // cfg.batch_size)


def make_fit_runner(cfg, images):
    gan = build_gan(cfg)
    dtype = gan.generator.get_layer("project").compute_dtype
    clock = StepClock()

    def run(steps):
        dataset = make_dataset(images, cfg.batch_size, epochs=epochs_for(steps, cfg, images), dtype=dtype)
        gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[clock])
        return clock.ends[-1] - clock.ends[0]

    return run


def make_bare_runner(cfg, images, jit):
    gan = build_gan(cfg)
    dtype = gan.generator.get_layer("project").compute_dtype
    step = bare_loop(gan, cfg, jit)

    def run(steps):
        ends = []
        ds = make_dataset(images, cfg.batch_size, epochs=epochs_for(steps, cfg, images), dtype=dtype)
        for real in ds.take(steps):
            float(step(real))  # wait for the step
            ends.append(time.perf_counter())
        return ends[-1] - ends[0]

    return run


class TorchWorker:
    """The PyTorch peer (torch_dcgan.py) in its own environment, kept warm in a subprocess between timed runs."""

    def __init__(self, python, batch, channels_last):
        script = Path(__file__).with_name("torch_dcgan.py")
        cmd = [python, str(script), "--serve", "--batch", str(batch)] + (["--channels-last"] if channels_last else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, steps):
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            sys.exit(f"error: the PyTorch worker stopped (exit {self.proc.wait()})")
        return float(answer)


def interleave(timers, steps, batch, repeats):
    for t in timers:  # warm-up: tracing, autotuning
        t.measure(max(3, steps // 4), batch, record=False)
    for _ in range(repeats):
        for t in timers:
            t.measure(steps, batch)
    return {t.name: {"median_img_s": statistics.median(t.rates), "runs": [round(r, 1) for r in t.rates]}
            for t in timers}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="dcgan", help="the config timed (default dcgan; fast = the CPU recipe)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="steps per timed run")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--precision", default="float32")
    ap.add_argument("--xla", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--compare-precisions", action="store_true")
    ap.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16", "mixed_float16"],
                    help="the precisions --compare-precisions times (float32 first: the ratios are against it)")
    ap.add_argument("--compare-xla", action="store_true")
    ap.add_argument("--torch-python", default=None,
                    help="python of an environment with torch: adds the PyTorch peer (NCHW and channels_last)")
    args = ap.parse_args()

    images = fake_data(args.batch * 8)
    base = preset(args.preset).replace(batch_size=args.batch, precision=args.precision, jit_compile=args.xla)
    gpu = tf.config.list_physical_devices("GPU")
    if args.compare_precisions:
        timers = [Timer(p, make_fit_runner(base.replace(precision=p), images))
                  for p in args.precisions]
    elif args.compare_xla:
        timers = [Timer(f"xla_{x}", make_fit_runner(base.replace(jit_compile=x), images)) for x in ("off", "on")]
    else:
        jit = args.xla == "on" or (args.xla == "auto" and bool(gpu))
        timers = [Timer("fit", make_fit_runner(base, images)), Timer("bare", make_bare_runner(base, images, jit))]
        if args.torch_python:
            timers += [Timer(f"pytorch_{fmt}", TorchWorker(args.torch_python, args.batch, fmt == "channels_last"))
                       for fmt in ("nchw", "channels_last")]
    results = interleave(timers, args.steps, args.batch, args.repeats)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "device": tf.config.experimental.get_device_details(gpu[0]).get("device_name", "GPU") if gpu
        else cpu_name() or platform.processor() or platform.machine(), "preset": args.preset,
        "cpus": os.cpu_count(), "tensorflow": tf.__version__, "batch": args.batch, "steps": args.steps,
        "repeats": args.repeats, "precision": resolve_precision(base, warn=False), "xla": args.xla,
        "results": results,
    }
    names = list(results)
    if len(names) >= 2:
        ref = results[names[1]]["median_img_s"] if not args.compare_precisions else results["float32"]["median_img_s"]
        for name in names:
            results[name]["ratio"] = round(results[name]["median_img_s"] / ref, 3)
    for name, r in results.items():
        print(f"{name:16s} median {r['median_img_s']:8.1f} img/s ({1000 / r['median_img_s']:6.2f} s/kimg)  "
              f"ratio {r.get('ratio', 1):.3f}  runs {r['runs']}")
    for name in (n for n in names if n.startswith("pytorch")):
        ratio = results["fit"]["median_img_s"] / results[name]["median_img_s"]
        report[f"fit_over_{name}"] = round(ratio, 3)
        print(f"fit / {name}: {ratio:.3f}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
