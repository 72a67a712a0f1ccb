"""The run's checkpoint format, measured: the lab's single .npz (runs.save_checkpoint: every variable by group and
index, written atomically, two previous states kept) against tf.train.Checkpoint + CheckpointManager(max_to_keep=3)
(variables by object path), on the same built GAN (both optimizers' slots, the averaged generator, the z stream).

Reports median save and restore seconds over --repeats, bytes on disk per state, files per state, and whether each
restores the state exactly. Usage:
    python benchmarks/checkpoint_format.py --presets fast dcgan --repeats 5
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from animegan_tf import runs
from animegan_tf.config import preset
from animegan_tf.sampling import build_gan


def built(name):
    cfg = preset(name).replace(precision="float32", ema_decay=preset(name).ema_decay or 0.999)
    gan = build_gan(cfg)
    gan.build_optimizers()
    rng = np.random.default_rng(0)
    for var in gan.weights + gan.g_optimizer.variables + gan.d_optimizer.variables:
        if var.dtype.is_floating if hasattr(var.dtype, "is_floating") else "float" in str(var.dtype):
            var.assign(rng.standard_normal(var.shape).astype(var.dtype.name if hasattr(var.dtype, "name") else var.dtype))
    return cfg, gan


def state(gan):
    return [np.array(v.numpy()) for v in gan.weights + gan.g_optimizer.variables + gan.d_optimizer.variables] + [
        gan.z_rng.state.numpy()]


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["fast", "dcgan"])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for name in args.presets:
        cfg, gan = built(name)
        before = state(gan)
        root = Path(tempfile.mkdtemp())
        try:
            run = root / "npz"
            runs.write_config(run, cfg)
            npz_save = timed(lambda: runs.save_checkpoint(run, gan, epoch=1), args.repeats)
            npz_bytes = (run / runs.CHECKPOINT).stat().st_size
            _, fresh = built(name)
            npz_load = timed(lambda: runs.restore_checkpoint(run, fresh), args.repeats)
            npz_exact = all(np.array_equal(a, b) for a, b in zip(before, state(fresh)))

            objects = dict(generator=gan.generator, discriminator=gan.discriminator, g_optimizer=gan.g_optimizer,
                           d_optimizer=gan.d_optimizer, ema_generator=gan.ema_generator, z_rng=gan.z_rng)
            manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects), root / "tf", max_to_keep=3)
            tf_save = timed(manager.save, args.repeats)
            latest = manager.latest_checkpoint
            tf_files = [p for p in (root / "tf").iterdir() if p.name.startswith(Path(latest).name)]
            tf_bytes = sum(p.stat().st_size for p in tf_files)
            _, fresh = built(name)
            restore = tf.train.Checkpoint(generator=fresh.generator, discriminator=fresh.discriminator,
                                          g_optimizer=fresh.g_optimizer, d_optimizer=fresh.d_optimizer,
                                          ema_generator=fresh.ema_generator, z_rng=fresh.z_rng)
            tf_load = timed(lambda: restore.restore(latest).assert_existing_objects_matched(), args.repeats)
            tf_exact = all(np.array_equal(a, b) for a, b in zip(before, state(fresh)))
        finally:
            shutil.rmtree(root)
        params = gan.generator.count_params() + gan.discriminator.count_params()
        print(f"{name}: {params:,} parameters (G + D), EMA generator, Adam slots")
        print(f"  npz (lab)            save {npz_save * 1e3:7.1f} ms  restore {npz_load * 1e3:7.1f} ms  "
              f"{npz_bytes / 2**20:6.1f} MiB in 1 file   exact: {npz_exact}")
        print(f"  tf.train.Checkpoint  save {tf_save * 1e3:7.1f} ms  restore {tf_load * 1e3:7.1f} ms  "
              f"{tf_bytes / 2**20:6.1f} MiB in {len(tf_files)} files  exact: {tf_exact}")


if __name__ == "__main__":
    main()
