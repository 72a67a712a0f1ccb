"""FID-Inception feature pass: the literal conv -> BN -> ReLU port at batch 50 (old) vs ``inception_features`` (new).

Both run in one process on the same N images, alternately (old first on even repeats, new first on odd ones), so
a shared machine's load falls on both; the figure that means something is the ratio. One warm-up batch each, then
the median over --repeats. Also prints the max abs feature difference and each side's arithmetic rate (the
network is 5.71 GMAC per 299x299 image), against a 2048x2048 float32 matmul timed in the same repeat as a rough
ceiling for what the CPU does right now, and each side's process CPU seconds per image (less sensitive to the
other load than wall time).

  python benchmarks/inception_speed.py                      # 500 random uint8 64x64x3 images
  python benchmarks/inception_speed.py --faces ../shared/anime_faces_calib --n 500 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from animegan_tf.quality import inception  # noqa: E402

GFLOP_PER_IMAGE = 2 * 5.711  # 2 x the multiply-adds of the 94 convs at 299x299


def load_images(n: int, faces: str | None, seed: int = 0) -> np.ndarray:
    """n uint8 (64, 64, 3) images: the first n PNG/JPGs of ``faces`` (sorted, resized if needed), else random."""
    if not faces:
        return np.random.default_rng(seed).integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
    files = sorted(p for p in Path(faces).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[:n]
    if len(files) < n:
        raise SystemExit(f"{faces}: {len(files)} images, need {n}")
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((64, 64), Image.BILINEAR)) for p in files])


def old_path(weights):
    """Features as ``inception_features`` computed them before the fold: unfolded model, batch 50."""
    model = inception.build_fid_inception(weights, fold_batchnorm=False)
    infer = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    return lambda images: np.concatenate([np.asarray(infer(np.ascontiguousarray(images[i:i + 50], np.float32)))
                                          for i in range(0, len(images), 50)])


def matmul_gflops(n: int = 2048, reps: int = 8) -> float:
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    tf.linalg.matmul(a, b).numpy()
    t = time.perf_counter()
    for _ in range(reps):
        c = tf.linalg.matmul(a, b)
    c.numpy()
    return reps * 2 * n ** 3 / (time.perf_counter() - t) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--faces", help="folder of PNG/JPG faces (default: random uint8 images)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=50, help="new path's batch size")
    ap.add_argument("--weights", help="converted .npz (default: resolve_fid_weights())")
    args = ap.parse_args(argv)

    images = load_images(args.n, args.faces)
    weights = inception.resolve_fid_weights(args.weights)
    paths = {"old": old_path(weights),
             "new": lambda x: inception.inception_features(x, batch_size=args.batch_size, weights_path=weights)}
    for f in paths.values():  # warm-up: trace and first oneDNN primitives
        f(images[:max(50, args.batch_size)])
    times: dict[str, list[float]] = {k: [] for k in paths}
    cpu: dict[str, list[float]] = {k: [] for k in paths}
    feats, peaks = {}, []
    for r in range(args.repeats):
        peaks.append(matmul_gflops())
        for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
            t, c = time.perf_counter(), time.process_time()
            feats[k] = paths[k](images)
            times[k].append(time.perf_counter() - t)
            cpu[k].append((time.process_time() - c) / args.n)
        print(f"repeat {r}: old {args.n / times['old'][-1]:.2f} img/s, new {args.n / times['new'][-1]:.2f} img/s, "
              f"matmul {peaks[-1]:.0f} GFLOP/s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"images: {args.n} x 64x64 ({'faces from ' + args.faces if args.faces else 'random uint8'}), "
          f"median of {args.repeats}")
    for k, label in (("old", "unfolded, batch 50"), ("new", f"inception_features, batch {args.batch_size}")):
        rate = args.n / med[k]
        print(f"{k} ({label}): {rate:.2f} img/s ({rate * GFLOP_PER_IMAGE:.0f} GFLOP/s), "
              f"{statistics.median(cpu[k]):.3f} CPU s/img")
    print(f"ratio new/old: {med['old'] / med['new']:.2f}x "
          f"(per repeat: {', '.join(f'{o / n:.2f}' for o, n in zip(times['old'], times['new']))})")
    print(f"matmul 2048^2 float32, median: {statistics.median(peaks):.0f} GFLOP/s")
    print(f"max abs feature difference: {np.abs(feats['new'] - feats['old']).max():.3g} "
          f"(feature max {feats['old'].max():.3g})")


if __name__ == "__main__":
    main()
