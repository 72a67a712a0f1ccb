"""How long dropping a partly consumed training iterator takes (the lab's tf.data pipeline, dcgan batches).

Found while measuring train_throughput.py: with a whole `fit` call per timed window, several windows came out at the
same low rate, and the time went into tearing down the previous window's iterator. This measures that alone:
make a pipeline, take a few batches through a training step, then time `del iterator; gc.collect()`.

  python benchmarks/iterator_teardown.py --tries 5
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from animegan_tf.config import preset  # noqa: E402
from animegan_tf.data import make_dataset  # noqa: E402
from animegan_tf.sampling import build_gan  # noqa: E402
from train_throughput import bare_loop, fake_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tries", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6, help="training steps taken from each iterator")
    args = ap.parse_args()

    cfg = preset("dcgan")
    images = fake_data(8 * cfg.batch_size)
    step = bare_loop(build_gan(cfg), cfg, jit=False)
    seconds = []
    for i in range(args.tries):
        iterator = iter(make_dataset(images, cfg.batch_size, epochs=2))
        for _ in range(args.steps):
            float(step(next(iterator)))
        start = time.perf_counter()
        del iterator
        gc.collect()
        seconds.append(time.perf_counter() - start)
        print(f"try {i + 1}: teardown {seconds[-1]:.2f} s", flush=True)
    print(f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s over {args.tries} tries")


if __name__ == "__main__":
    main()
