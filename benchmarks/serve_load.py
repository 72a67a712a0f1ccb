"""The web page under load: `animegan-tf serve` on 127.0.0.1 answering a bounded mix of requests from N threads.

Starts the real command in its own process on a free port and waits for it; loads both generators (averaged and
raw) with one request each; times 64-face grids one at a time; then sends --requests requests in two halves,
--concurrency at a time: grids and single faces (n from 1 to 64), faces as JSON, latent-walk frames, the run list, and a share of bad
input (which must answer 400/404). Prints throughput, latency percentiles, the answers by status, the answers
that were not the expected status, and the server's resident memory at start, after the warm-up and after each
half. It measures and asserts
nothing; the figures go to BENCHMARKS.md.

  python benchmarks/serve_load.py --requests 1000 --concurrency 16
  python benchmarks/serve_load.py --runs runs --run demo-20261123-120000     # serve a trained run

Without --runs it writes a temporary run of --preset (default dcgan) at its initial weights: a trained run does the
same arithmetic per face, so the timings are the same, and nothing has to be trained first.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from animegan_tf import runs  # noqa: E402
from animegan_tf.config import PRESETS, preset  # noqa: E402
from animegan_tf.web.folders import served_runs  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def initial_weights_run(folder: Path, preset_name: str) -> str:
    """A run folder holding `preset_name`'s config and a checkpoint of its freshly built networks."""
    from animegan_tf.sampling import build_gan  # TensorFlow only for this case

    cfg = preset(preset_name)
    run_dir = folder / f"{preset_name}-initial"
    runs.write_config(run_dir, cfg)
    runs.save_checkpoint(run_dir, build_gan(cfg), epoch=0)
    return run_dir.name


def start_server(runs_dir: Path, run: str, timeout: float = 180):
    """`python -m animegan_tf serve --port 0` -> (process, base URL) once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "animegan_tf", "serve", "--runs", str(runs_dir), "--run", run,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if selector.select(timeout=1):
            line = proc.stdout.readline()
            if "http://" in line:
                return proc, "http://" + line.split("http://", 1)[1].split()[0]
    proc.kill()
    raise SystemExit(f"error: the server did not start within {timeout:.0f} s (exit code {proc.poll()})")


def fetch(base: str, path: str, params: dict) -> tuple[int, float, int]:
    """(status, seconds, body bytes) of one GET."""
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body = exc.read()
        status = exc.code
    return status, time.perf_counter() - start, len(body)


def request_mix(run: str, count: int, seed: int = 0) -> list[tuple[str, str, dict, int]]:
    """`count` requests as (kind, path, params, expected status), drawn reproducibly."""
    rng = np.random.default_rng(seed)
    bad = [("/api/generate", {"run": run, "n": 0, "seed": 1}, 400),
           ("/api/generate", {"run": run, "n": 65, "seed": 1}, 400),
           ("/api/faces", {"run": run, "n": 4, "seed": -1}, 400),
           ("/api/interpolate", {"run": run, "seed_a": 1, "seed_b": 2, "t": 2}, 400),
           ("/api/generate", {"run": "../" + run, "n": 4, "seed": 1}, 400),
           ("/api/generate", {"run": "no-such-run", "n": 4, "seed": 1}, 404),
           ("/api/nope", {}, 404)]
    kinds = ["grid", "face", "faces", "walk", "runs", "bad"]
    mix = []
    for kind in rng.choice(kinds, size=count, p=[0.25, 0.10, 0.15, 0.30, 0.05, 0.15]):
        n, seed = int(rng.integers(1, 65)), int(rng.integers(0, 2**31))
        params = {"run": run, **({"raw": 1} if rng.random() < 0.25 else {})}
        if kind == "grid":
            mix.append((kind, "/api/generate", {**params, "n": n, "seed": seed}, 200))
        elif kind == "face":
            mix.append((kind, "/api/generate", {**params, "n": n, "seed": seed, "index": n - 1}, 200))
        elif kind == "faces":
            mix.append((kind, "/api/faces", {**params, "n": n, "seed": seed}, 200))
        elif kind == "walk":
            mix.append((kind, "/api/interpolate", {**params, "seed_a": seed, "seed_b": seed + 1,
                                                   "t": round(float(rng.random()), 2)}, 200))
        elif kind == "runs":
            mix.append((kind, "/api/runs", {}, 200))
        else:
            path, bad_params, status = bad[int(rng.integers(len(bad)))]
            mix.append((kind, path, bad_params, status))
    return mix


def percentiles(seconds: list[float]) -> str:
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 95, 99])
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000, help="requests in the load phase (default 1000)")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight at once (default 16)")
    ap.add_argument("--runs", default=None, help="folder of runs to serve (default: a temporary one, see above)")
    ap.add_argument("--run", default=None, help="the run to ask for (default: the first under --runs)")
    ap.add_argument("--preset", default="dcgan", help="without --runs: the temporary run's preset (default dcgan)")
    ap.add_argument("--grid-repeats", type=int, default=10, help="64-face grids timed one at a time (default 10)")
    args = ap.parse_args()
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 256:
        print("error: --requests must be from 1 to 100000 and --concurrency from 1 to 256", file=sys.stderr)
        return 2
    if args.preset not in PRESETS:
        print(f"error: unknown preset {args.preset!r}: choose one of {', '.join(PRESETS)}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as scratch:
        if args.runs:
            runs_dir = Path(args.runs)
            names = [folder.name for folder in served_runs(runs_dir)]
            if not names or (args.run and args.run not in names):
                print(f"error: no run {args.run or ''} under {runs_dir}", file=sys.stderr)
                return 2
            run = args.run or names[0]
        else:
            runs_dir = Path(scratch)
            run = initial_weights_run(runs_dir, args.preset)
        cfg = runs.load_config(runs_dir / run)
        print(f"run {run}: preset {cfg.name}, {cfg.image_size}x{cfg.image_size}, latent {cfg.latent_dim}, "
              f"averaged generator: {'yes' if cfg.ema_decay else 'no'}", flush=True)

        proc, base = start_server(runs_dir, run)
        try:
            rss_started = rss_mib(proc.pid)
            for raw in ({}, {"raw": 1}):  # load both generators into the cache
                fetch(base, "/api/generate", {"run": run, "n": 1, "seed": 0, **raw})
            rss_warm = rss_mib(proc.pid)

            grid_seconds = [fetch(base, "/api/generate", {"run": run, "n": 64, "seed": i})[1]
                            for i in range(args.grid_repeats)]
            print(f"64 faces, one request at a time (generate + PNG grid + HTTP): median "
                  f"{statistics.median(grid_seconds) * 1000:.0f} ms, min {min(grid_seconds) * 1000:.0f} ms, "
                  f"max {max(grid_seconds) * 1000:.0f} ms over {args.grid_repeats}", flush=True)

            # Two halves, the server's memory read after each: growth that stops after the first half is caches
            # filling (one set of oneDNN primitives per batch size, allocator arenas), growth that goes on a leak.
            mix = request_mix(run, args.requests)
            halves = (mix[:len(mix) // 2], mix[len(mix) // 2:])
            results, rss_halves = [], []
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                for half in halves:
                    results += pool.map(lambda r: fetch(base, r[1], r[2]), half)
                    rss_halves.append(rss_mib(proc.pid))
            wall = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    statuses = collections.Counter(status for status, _, _ in results)
    unexpected = collections.Counter((kind, status) for (kind, _, _, want), (status, _, _) in zip(mix, results)
                                     if status != want)
    print(f"{args.requests} requests at concurrency {args.concurrency} in {wall:.1f} s: "
          f"{args.requests / wall:.1f} requests/s")
    print(f"latency, all: {percentiles([s for _, s, _ in results])}")
    for kind in ("grid", "face", "faces", "walk", "runs", "bad"):
        seconds = [s for (k, _, _, _), (_, s, _) in zip(mix, results) if k == kind]
        if seconds:
            print(f"latency, {kind} ({len(seconds)}): {percentiles(seconds)}")
    print(f"answers by status: {json.dumps(dict(sorted(statuses.items())))}; "
          f"5xx: {sum(c for s, c in statuses.items() if s >= 500)}; "
          f"not the expected status: {sum(unexpected.values())} {dict(unexpected) if unexpected else ''}")
    print(f"server RSS: {rss_started:.0f} MiB started, {rss_warm:.0f} MiB with both generators loaded, "
          f"{rss_halves[0]:.0f} MiB after the first half of the load, {rss_halves[1]:.0f} MiB after the second "
          f"({rss_halves[1] - rss_halves[0]:+.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
