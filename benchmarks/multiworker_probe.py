"""Does Keras' `fit` train under tf.distribute.MultiWorkerMirroredStrategy here? Two worker processes on
127.0.0.1 (free ports, TF_CONFIG as TensorFlow defines it) fit a one-layer model for two epochs; each prints
"ok" with its first weights, or the error `fit` raised.

  python benchmarks/multiworker_probe.py

2026-11-30, TensorFlow 2.21.0 / Keras 3.15.1: both workers fail inside `fit` with
"ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported type" (keras-team/keras#20585,
open: Keras 3's TensorFlow trainer does not distribute a dataset for a multi-worker strategy). `strategy=
multiworker` waits on that (issue 23); rerun this probe after upgrading Keras.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

WORKER = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf, keras
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
ds = tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True))).batch(16)
try:
    model.fit(ds, epochs=2, verbose=0)
    print("ok", json.dumps(model.weights[0].numpy().ravel()[:3].tolist()), flush=True)
except Exception as exc:
    print("error", type(exc).__name__, str(exc).splitlines()[0][:160], flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True))
    results = []
    for index, proc in enumerate(procs):
        try:
            out, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out = "error timeout (no answer in 300 s)"
        line = (out.strip().splitlines() or ["error no output"])[-1]
        results.append(line)
        print(f"worker {index}: {line}")
    import keras
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    return 0 if all(r.startswith("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
