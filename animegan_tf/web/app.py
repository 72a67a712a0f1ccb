"""The Flask app behind `animegan-tf serve`: a page and a small API that make faces from the runs under one folder.

API (GET; JSON, images as image/png; every error is one line of JSON {"error": ...}):
  /api/runs                                        the runs: config summary, last epoch, latest metrics
  /api/generate?run=R&n=N&seed=S[&raw=1]           a grid PNG of N faces (1-64) drawn with `seed`
  /api/generate?run=R&n=N&seed=S&index=I[&raw=1]   face I of that same batch, alone
  /api/faces?run=R&n=N&seed=S[&raw=1]              the same N faces as JSON: one PNG data URL each
  /api/interpolate?run=R&seed_a=A&seed_b=B&t=T[&raw=1]   one face on the slerp from seed A's z to seed B's
Without `seed` the server draws one and says which (X-Seed header, "seed" in JSON). `raw=1` asks for the trained
generator instead of the averaged one (the same one when the run keeps no average). `state=best` (every image
route) asks for the run's best state by KID measured during training (checkpoints/best.npz, runs with eval_every)
instead of its latest one, the default: latest is what the run is now and what a resume continues, and every run has
one. Status codes: 400 for bad
input, 404 for an unknown run or path, 500 (with the reason) for a run whose weights cannot be read.

The same (run, n, seed, raw) always gives the same PNG bytes: z comes from `sampling.generate`'s seeded draw.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import logging
import math
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import waitress
from flask import Flask, jsonify, request
from PIL import Image
from werkzeug.exceptions import HTTPException

from .. import runs
from ..data import data_sources, source_name
from ..files import image_grid, to_uint8
from ..quality.judge import JUDGE_VERSION
from ..sampling import generate, latents, load_generator
from .folders import BadRunName, UnknownRun, resolve_run, served_runs

MAX_FACES = 64
MAX_SEED = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() would also take "١٢" or " 1_0 "
_log = logging.getLogger(__name__)


class ApiError(Exception):
    """Bad input or an unreadable run: answered as {"error": message} with `status`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------------------------------------
# Generators: loaded once per (run, averaged?, weights on disk), the least recently used dropped past `size`
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class LoadedGenerator:
    model: object | None  # the keras generator, None when loading failed
    error: str | None = None  # why it could not be loaded
    lock: threading.Lock = field(default_factory=threading.Lock)  # one inference at a time per model


def _weights_stamp(run_dir: Path) -> tuple[int, ...]:
    """Changes whenever the run writes new weights, so a run still training is served at its latest checkpoint."""
    paths = (run_dir / runs.CHECKPOINT, run_dir / runs.FINAL_GENERATOR, run_dir / runs.FINAL_RAW_GENERATOR,
             run_dir / runs.BEST_CHECKPOINT, run_dir / runs.INT8_GENERATOR, run_dir / "config.json")
    return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)


def _keeps_average(run_dir: Path) -> bool:
    """Whether the run has an averaged generator; without one, raw and averaged requests share one cache entry."""
    try:
        return runs.load_config(run_dir).averaged
    except Exception:  # noqa: BLE001 - a damaged config.json: loading the generator reports it
        return True


class GeneratorCache:
    """A bounded LRU of loaded generators, safe to share between the server's threads."""

    def __init__(self, size: int = 4):
        if size < 1:
            raise ValueError(f"cache size must be >= 1, got {size}")
        self.size = size
        self._entries: OrderedDict[tuple, LoadedGenerator] = OrderedDict()
        self._lock = threading.Lock()  # guards _entries
        self._load_lock = threading.Lock()  # one load at a time: concurrent first requests load a run once

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _cached(self, key) -> LoadedGenerator | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def get(self, run_dir: Path, ema: bool, state: str = "latest") -> LoadedGenerator:
        ema = ema and _keeps_average(run_dir)
        key = (str(run_dir), ema, state, _weights_stamp(run_dir))
        entry = self._cached(key)
        if entry is not None:
            return entry
        with self._load_lock:
            entry = self._cached(key)  # another thread may have loaded it while this one waited
            if entry is not None:
                return entry
            try:
                entry = LoadedGenerator(load_generator(run_dir, ema=ema, state=state))
            except Exception as exc:  # noqa: BLE001 - any damage to a run folder must leave the server serving
                _log.warning("run %s cannot be loaded: %s: %s", run_dir.name, type(exc).__name__, exc)
                entry = LoadedGenerator(None, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
            with self._lock:
                self._entries[key] = entry  # a failure is cached too, until the run's files change
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            return entry


# ---------------------------------------------------------------------------------------------------------------
# Latents and images
# ---------------------------------------------------------------------------------------------------------------

def seed_latent(seed: int, latent_dim: int) -> np.ndarray:
    """The z of face 0 drawn with `seed`: the one `sampling.generate(g, n, seed)` draws first."""
    return latents(seed, 1, latent_dim)[0]


def slerp(z_a: np.ndarray, z_b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation (White 2016): z ~ N(0, I) lies near a sphere, and a straight line cuts inside it,
    giving faint, low-norm faces mid-way. t=0 gives z_a and t=1 gives z_b exactly."""
    a, b = z_a.astype(np.float64), z_b.astype(np.float64)
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    omega = math.acos(float(np.clip(cos, -1.0, 1.0)))
    if math.sin(omega) < 1e-6:  # (anti)parallel: the sphere's arc is undefined, a straight line is as good
        z = (1 - t) * a + t * b
    else:
        z = (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
    return z.astype(np.float32)


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> PNG file bytes (deterministic: the same pixels give the same bytes)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _png_response(image: np.ndarray, seed: int | None = None):
    headers = {"Content-Type": "image/png", "Cache-Control": "no-store"}
    if seed is not None:
        headers["X-Seed"] = str(seed)  # the seed drawn for a request that gave none
    return png_bytes(image), 200, headers


# ---------------------------------------------------------------------------------------------------------------
# Query parameters: each bad one is a 400 with one line saying what is allowed
# ---------------------------------------------------------------------------------------------------------------

def _int_arg(name: str, low: int, high: int, default: int | None = None) -> int:
    raw = request.args.get(name, "")
    if raw == "" and default is not None:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}, got {raw[:40]!r}")
    return int(raw)


def _seed_arg(name: str) -> int:
    """A non-negative integer seed; a random one when the request gives none."""
    if request.args.get(name, "") == "":
        return secrets.randbelow(2**31)  # small enough to read out and type back in
    return _int_arg(name, 0, MAX_SEED)


def _unit_arg(name: str) -> float:
    raw = request.args.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise ApiError(400, f"{name} must be a number from 0 to 1, got {raw[:40]!r}")
    return value


def _state_arg() -> str:
    state = request.args.get("state", "latest")
    if state not in ("latest", "best"):
        raise ApiError(400, f"state must be latest or best, got {state[:40]!r}")
    return state


def _raw_arg() -> bool:
    raw = request.args.get("raw", "0").lower()
    if raw not in ("0", "1", "false", "true"):
        raise ApiError(400, f"raw must be 0 or 1, got {raw[:40]!r}")
    return raw in ("1", "true")


# ---------------------------------------------------------------------------------------------------------------
# Run summaries
# ---------------------------------------------------------------------------------------------------------------

def _finite(value):
    """JSON has no NaN: a float that is not finite becomes null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run_summary(run_dir: Path) -> dict:
    """What the page shows for a run; {"name", "error"} for a folder that cannot be read."""
    try:
        run = runs.load_run(run_dir)
        row = runs.summary_row(run)
    except Exception as exc:  # noqa: BLE001 - one damaged folder must not hide the others from the list
        return {"name": run_dir.name, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    cfg = run["config"]
    latest = run["metrics"][-1] if run["metrics"] else {}
    summary = {key: _finite(value) for key, value in row.items() if key != "run"}
    summary.update(name=run_dir.name, image_size=cfg.image_size, latent_dim=cfg.latent_dim, loss=cfg.loss,
                   averaged=cfg.averaged, ema_decay=cfg.ema_decay, metrics_epoch=latest.get("epoch"),
                   judge_current=JUDGE_VERSION, best=None)
    made = runs.read_made(run_dir)
    if made:  # a shipped generator: no checkpoint or history, its training and scores are in made.json
        scored = made.get("scored", {})
        shown = made.get("images_shown", scored.get("images_shown"))
        for key, digits in (("fid", 1), ("kid", 4), ("gq_pct", 1), ("dq_pct", 1), ("pq_pct", 1), ("judge", 0)):
            value = _finite(scored.get(key))
            summary[key] = None if value is None else (int(value) if not digits else round(value, digits))
        summary.update(epochs_done=made.get("epoch"), kimg=None if shown is None else shown / 1000,
                       metrics_epoch=made.get("epoch"))
        data = " + ".join(source_name(part) for part in data_sources(made.get("data") or ""))
        summary["made"] = {"kimg": summary["kimg"], "faces": scored.get("faces"), "date": scored.get("date"),
                           "data": data, "n": scored.get("n"),
                           # the real faces FID/KID were measured against (rows without one: the training faces)
                           "reference": scored["reference"].replace("+", " + ") if scored.get("reference") else data,
                           "stored": made.get("stored", "float32"),
                           # an average of another half-life kept beside the run's own (recipe_screen --averages)
                           "halflife": scored.get("halflife_images")}
    best = runs.read_meta(run_dir / runs.BEST_CHECKPOINT)
    if best:
        shown = best.get("images_shown")
        summary["best"] = {"epoch": best.get("epoch"), "kimg": None if shown is None else shown / 1000}
    return summary


# ---------------------------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------------------------

def create_app(runs_dir: Path, default_run: str | None = None, cache_size: int = 4) -> Flask:
    """The page and its API over the run folders directly under `runs_dir`.

    Args:
        runs_dir: the folder of run folders (`runs/`); runs are looked up on every request, so new ones appear.
        default_run: the run the page shows first (default: the first by name).
        cache_size: how many generators (run x averaged/raw) stay loaded.
    """
    runs_dir = Path(runs_dir)
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    generators = GeneratorCache(cache_size)
    app.extensions["animegan_generators"] = generators

    def loaded(name: str, ema: bool, state: str = "latest") -> LoadedGenerator:
        try:
            run_dir = resolve_run(runs_dir, name)
        except BadRunName as exc:
            raise ApiError(400, str(exc)) from None
        except UnknownRun as exc:
            raise ApiError(404, str(exc)) from None
        if state == "best" and not (run_dir / runs.BEST_CHECKPOINT).exists():
            raise ApiError(404, f"run {name!r} has no best state (it is kept when a run measures KID during "
                                "training: --set eval_every=K)")
        entry = generators.get(run_dir, ema, state)
        if entry.model is None:
            raise ApiError(500, f"run {name!r} cannot be loaded: {entry.error}")
        return entry

    def request_run() -> LoadedGenerator:
        return loaded(request.args.get("run", ""), ema=not _raw_arg(), state=_state_arg())

    def request_faces() -> tuple[np.ndarray, int]:
        n = _int_arg("n", 1, MAX_FACES)
        seed = _seed_arg("seed")
        entry = request_run()
        with entry.lock:
            return generate(entry.model, n, seed=seed), seed  # (n, S, S, 3) uint8

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # Flask's own 404/405 as one line of JSON too
        return jsonify(error=f"{exc.code} {exc.name}: {request.path}"), exc.code

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        _log.exception("error answering %s", request.full_path)
        return jsonify(error=f"internal error ({type(exc).__name__}); see the server's log"), 500

    @app.get("/")
    def index():
        return app.send_static_file("index.html")

    @app.get("/api/runs")
    def list_runs():
        return jsonify(runs=[run_summary(folder) for folder in served_runs(runs_dir)], default=default_run)

    @app.get("/api/generate")
    def generate_png():
        if request.args.get("index", "") != "":
            index = _int_arg("index", 0, MAX_FACES - 1)
            faces, seed = request_faces()
            if index >= len(faces):
                raise ApiError(400, f"index must be below n={len(faces)}, got {index}")
            return _png_response(faces[index], seed)
        faces, seed = request_faces()
        return _png_response(image_grid(faces), seed)

    @app.get("/api/faces")
    def faces_json():
        faces, seed = request_faces()
        urls = ["data:image/png;base64," + base64.b64encode(png_bytes(face)).decode("ascii") for face in faces]
        return jsonify(run=request.args["run"], n=len(faces), seed=seed, raw=_raw_arg(), state=_state_arg(),
                       faces=urls)

    @app.get("/api/interpolate")
    def interpolate_png():
        seed_a, seed_b = _int_arg("seed_a", 0, MAX_SEED), _int_arg("seed_b", 0, MAX_SEED)
        t = _unit_arg("t")
        entry = request_run()
        latent_dim = entry.model.input_shape[-1]
        z = slerp(seed_latent(seed_a, latent_dim), seed_latent(seed_b, latent_dim), t)
        with entry.lock:
            face = to_uint8(entry.model(z[None], training=False))[0]
        return _png_response(face)

    return app


# ---------------------------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------------------------

def public_host_warning(host: str) -> str | None:
    """One warning line when `host` lets other machines reach the page, else None."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: other machines may resolve it to this one
    return (f"--host {host or '(all)'} lets other machines open this page, and it has no authentication: "
            f"use 127.0.0.1 unless this network is yours alone")


def make_server(app: Flask, host: str = "127.0.0.1", port: int = 8000, threads: int = 8):
    """A waitress server bound to (host, port), not yet serving: call `.run()`, and `.close()` to stop.
    Port 0 binds a free port; `server_urls(server)` says which."""
    return waitress.create_server(app, host=host, port=port, threads=threads, ident="animegan-tf")


def server_urls(server) -> list[str]:
    """http://host:port/ for every socket the server listens on."""
    listen = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    return [f"http://[{h}]:{p}/" if ":" in str(h) else f"http://{h}:{p}/" for h, p in listen]
