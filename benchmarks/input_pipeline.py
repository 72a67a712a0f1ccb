"""Input pipeline: cold ingestion of a JPEG folder, throughput from the uint8 cache, and the memory it takes.

  python benchmarks/input_pipeline.py --jpegs 20000 --epoch-images 36700

1. Writes --jpegs synthetic faces as JPEG files (quality 90) into a temporary folder and times the first ingestion
   (decode + validate + centre-crop/resize + cache), i.e. images/s cold from JPEG.
2. Times one pass of the training tf.data pipeline (shuffle index, gather from the memory-mapped cache, normalise to
   float32, batch 128) over that cache: images/s delivered, to compare with what training consumes.
3. Builds a synthetic set the size of the 36.7k-face Kaggle set and reports the process's resident memory (RSS) after
   a full pipeline pass over it, against the baseline after importing TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from animegan_tf.data import ingest, make_dataset, synthetic_array  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pipeline_rate(images, batch=128, max_batches=None):
    ds = make_dataset(images, batch, epochs=1)
    if max_batches:
        ds = ds.take(max_batches)
    start, n = time.perf_counter(), 0
    for b in ds:
        n += int(b.shape[0])
    return n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jpegs", type=int, default=20000)
    ap.add_argument("--epoch-images", type=int, default=36700)
    args = ap.parse_args()

    import tensorflow as tf  # noqa: F401 - the baseline includes TensorFlow itself

    baseline = rss_mb()
    print(f"RSS after importing TensorFlow: {baseline:.0f} MB", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "jpegs"
        folder.mkdir()
        faces = synthetic_array(args.jpegs, cache_dir=Path(tmp) / "synth")
        for i, face in enumerate(faces):
            Image.fromarray(np.asarray(face)).save(folder / f"{i:06d}.jpg", quality=90)
        start = time.perf_counter()
        images, report = ingest(folder, image_size=64, cache_dir=Path(tmp) / "cache")
        cold = time.perf_counter() - start
        print(f"cold ingestion of {report.used} JPEGs: {cold:.1f} s = {report.used / cold:.0f} img/s", flush=True)
        start = time.perf_counter()
        images, report = ingest(folder, image_size=64, cache_dir=Path(tmp) / "cache")
        print(f"second ingestion (cache hit): {time.perf_counter() - start:.2f} s", flush=True)
        pipeline_rate(images, max_batches=5)  # warm-up
        rate = pipeline_rate(images)
        print(f"pipeline from the cache: {rate:.0f} img/s (batch 128, float32, shuffled)", flush=True)

        big = synthetic_array(args.epoch_images, cache_dir=Path(tmp) / "synth")
        before = rss_mb()
        rate_big = pipeline_rate(big)
        after = rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.epoch_images} faces ({big.nbytes / 2**20:.0f} MB as uint8): one pipeline pass at "
              f"{rate_big:.0f} img/s; RSS {before:.0f} -> {after:.0f} MB (TF baseline {baseline:.0f} MB), "
              f"peak RSS of the process {peak:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
