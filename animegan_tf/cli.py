"""Command line: parse -> build the config -> print it -> save it in the run folder -> call the library.

Examples:
  python -m animegan_tf presets
  python -m animegan_tf train --preset dcgan --data synthetic --out runs/demo --epochs 2
  python -m animegan_tf train --preset scenario2-fig1 --data data/animefacedataset --out runs/fig1 --max-minutes 60
  python -m animegan_tf train --out runs/fig1 --resume --data data/animefacedataset
  python -m animegan_tf sample --run runs/demo --n 16 --out samples/ --grid grid.png
  python -m animegan_tf serve --runs runs --run demo        # the web page on http://127.0.0.1:8000/

Bad input (a missing path, an unknown preset, an invalid --set) exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .data import data_sources, is_synthetic
from .runs import DEFAULT_PRETRAINED

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def _one_line_warnings():
    def fmt(message, category, filename, lineno, line=None):
        return f"warning: {message}\n"

    warnings.formatwarning = fmt


def _require_path(path, what: str = "data path") -> None:
    """A --data/--run/--ref value that names a file or folder must exist ("synthetic[:N]" names none); a --data
    value may name several, separated by commas."""
    if not path or Path(path).exists():
        return
    parts = data_sources(path) if what == "data path" else [str(path)]
    if not parts:
        raise UsageError(f"{what} names nothing: {path!r}")
    for part in parts:
        if not is_synthetic(part) and not Path(part).exists():
            raise UsageError(f"{what} not found: {part}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="animegan-tf", description="DCGAN lab for 64x64 anime faces (TensorFlow/Keras).",
        epilog=__doc__.split("Examples:", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a preset on a dataset into a run folder")
    train.add_argument("--preset", default=None, help="named preset (see `presets`); default dcgan")
    train.add_argument("--data", default="synthetic",
                       help="folder, .zip, 'synthetic' or 'synthetic:N', or several separated by commas "
                            "(read as one set) (default: synthetic)")
    train.add_argument("--out", required=True, help="run folder, e.g. runs/dcgan-1")
    train.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override any config field (repeatable), e.g. --set g_lr=1e-4")
    train.add_argument("--resume", action="store_true", help="continue the run folder's checkpoint exactly")
    train.add_argument("--max-minutes", type=float, default=None,
                       help="stop cleanly after this many minutes and checkpoint")
    train.add_argument("--cpu-minutes", type=float, default=None,
                       help="the run's whole budget in CPU-minutes of training, counted across --resume")
    train.add_argument("--kimg", type=float, default=None,
                       help="the run's length in thousands of real images shown to D, counted across --resume "
                            "(replaces --epochs; the field's unit, the same on every machine)")
    train.add_argument("--dry-run", action="store_true", help="print the config and stop")
    train.add_argument("--quiet", action="store_true",
                       help="no progress bar (one line per epoch; the default when stdout is not a terminal)")
    train.add_argument("--tensorboard", action="store_true",
                       help="log epoch losses, sample grids and evaluation metrics to OUT/tb/ (= --set tensorboard=true)")

    sample = sub.add_parser("sample", help="write images from a trained run")
    which = sample.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", help="run folder")
    which.add_argument("--pretrained", nargs="?", const=DEFAULT_PRETRAINED, metavar="NAME",
                       help=f"a generator shipped with the package instead of a run (default: {DEFAULT_PRETRAINED})")
    sample.add_argument("--n", type=int, default=16, help="number of images")
    sample.add_argument("--out", default=None, help="folder for single PNGs")
    sample.add_argument("--grid", default=None, help="also write one grid PNG here")
    sample.add_argument("--seed", type=int, default=0, help="seed of the latents")
    sample.add_argument("--raw", action="store_true",
                        help="the trained generator instead of the averaged one (runs with ema_decay > 0)")
    sample.add_argument("--best", action="store_true",
                        help="the run's best state by KID measured during training (checkpoints/best.npz) instead "
                             "of its latest")

    sub.add_parser("presets", help="list the presets and their settings")

    evaluate = sub.add_parser("evaluate", help="GQ/DQ/PQ by the automatic judge, FID and KID")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="run folder: sample --n images from its latest generator")
    source.add_argument("--images", help="folder (or zip) of images to evaluate")
    evaluate.add_argument("--n", type=int, default=2000, help="samples from the run (default 2000)")
    evaluate.add_argument("--ref", default=None,
                          help="real images to compare with (folder, zip, synthetic); default: the run's data")
    evaluate.add_argument("--ref-n", type=int, default=2000,
                          help="real images in the reference sample (default 2000; fewer is faster, FID biased)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--raw", action="store_true",
                          help="--run: the trained generator instead of the averaged one (runs with ema_decay > 0)")
    evaluate.add_argument("--best", action="store_true",
                          help="--run: its best state by KID measured during training instead of its latest")
    evaluate.add_argument("--save", default=None, help="JSON file for the result (--images; default: print only)")

    download = sub.add_parser("download", help="download a Kaggle anime face set (needs a Kaggle API token)")
    download.add_argument("--dataset", required=True,
                          help="OWNER/NAME or a short name: animefacedataset, anime-faces, ntumlds")
    download.add_argument("--to", default=None, help="parent folder (default: the lab's data/ folder)")
    download.add_argument("--force", action="store_true", help="download again even if the folder exists")

    synth = sub.add_parser("synth", help="write embedded procedural anime faces as PNGs")
    synth.add_argument("--n", type=int, required=True, help="number of faces")
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=int, default=64, help="image side in pixels")

    preview = sub.add_parser("preview", help="a grid of 25 random images of a dataset")
    preview.add_argument("--data", required=True, help="folder, .zip, 'synthetic' or 'synthetic:N'")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--n", type=int, default=25)
    preview.add_argument("--seed", type=int, default=0)

    serve = sub.add_parser("serve", help="a local web page that makes faces from the runs under a folder")
    serve.add_argument("--runs", default="runs", help="folder of run folders (default: runs)")
    serve.add_argument("--pretrained", action="store_true",
                       help="serve the generators shipped with the package (no training needed) instead of --runs")
    serve.add_argument("--run", default=None, help="the run the page shows first (a folder name under --runs)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; the page has no login)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    return parser


def cmd_presets(args) -> int:
    from .config import GANConfig, PRESETS, preset

    base = GANConfig()
    for name in PRESETS:
        cfg = preset(name)
        changed = {k: v for k, v in cfg.to_dict().items() if k != "name" and v != getattr(base, k)}
        text = ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in changed.items())
        print(f"{name:18s} {text or '(the defaults)'}")
    return 0


def _resolve_config(args):
    from . import runs
    from .config import apply_overrides, preset

    run_dir = Path(args.out)
    if args.resume:
        if args.preset:
            raise UsageError("--resume continues the run folder's own config: drop --preset (use --set to change it)")
        try:
            cfg = runs.load_config(run_dir)
        except FileNotFoundError as exc:
            raise UsageError(f"nothing to resume: {exc}") from None
    else:
        cfg = preset(args.preset or "dcgan")
    if args.epochs is not None:
        cfg = cfg.replace(epochs=args.epochs)
    return apply_overrides(cfg, args.overrides + (["tensorboard=true"] if args.tensorboard else []))


def cmd_train(args) -> int:
    from .data import DataError, load_array

    for flag, value in (("--max-minutes", args.max_minutes), ("--cpu-minutes", args.cpu_minutes),
                        ("--kimg", args.kimg)):
        if value is not None and not value > 0:
            unit = "thousands of images" if flag == "--kimg" else "minutes"
            raise UsageError(f"{flag} must be a positive number of {unit}, got {value:g}")
    if args.kimg is not None and args.epochs is not None:
        raise UsageError("give --kimg or --epochs, not both (--kimg sets the run's length)")
    cfg = _resolve_config(args)
    print(f"config: {cfg.to_json()}" if args.dry_run else f"preset {cfg.name}: {cfg.to_dict()}")
    if args.dry_run:
        return 0
    data = args.data
    _require_path(data)
    try:
        images = load_array(data, cfg.image_size)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    print(f"data: {len(images)} images of {cfg.image_size}x{cfg.image_size} from {data}")

    from .runs import RunLocked
    from .training import TrainingDiverged, train

    try:
        train(cfg, images, args.out, resume=args.resume, max_minutes=args.max_minutes, cpu_minutes=args.cpu_minutes,
              kimg=args.kimg, verbose=2 if args.quiet or not sys.stdout.isatty() else 1, data_source=str(data))
    except (FileExistsError, FileNotFoundError, DataError, RunLocked) as exc:
        raise UsageError(str(exc)) from None
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"run folder: {Path(args.out).resolve()}")
    return 0


def cmd_sample(args) -> int:
    from . import runs
    from .files import image_grid, save_png
    from .sampling import generate, load_generator

    if args.n < 1:
        raise UsageError(f"--n must be >= 1, got {args.n}")
    if not args.out and not args.grid:
        raise UsageError("give --out DIR (single PNGs) and/or --grid FILE.png")
    try:
        run_dir = runs.pretrained_run(args.pretrained) if args.pretrained else Path(args.run)
        generator = load_generator(run_dir, ema=not args.raw, state="best" if args.best else "latest")
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    images = generate(generator, args.n, seed=args.seed)
    if args.out:
        out = Path(args.out)
        for i, image in enumerate(images):
            save_png(image, out / f"sample_{i:05d}.png")
        print(f"wrote {len(images)} images to {out}")
    if args.grid:
        save_png(image_grid(images), Path(args.grid))
        print(f"wrote grid {args.grid}")
    return 0


def cmd_evaluate(args) -> int:
    import json

    from . import runs
    from .data import DataError, load_array
    from .quality.evaluate import evaluate_images, evaluate_run, format_result, reference_sample

    for path in (args.run, args.images, args.ref):
        _require_path(path, "path")
    if args.ref_n < 2:
        raise UsageError(f"--ref-n must be >= 2, got {args.ref_n}")
    try:
        if args.run:
            if args.n < 2:
                raise UsageError(f"--n must be >= 2, got {args.n}")
            try:
                cfg = runs.load_config(Path(args.run))
            except FileNotFoundError as exc:
                raise UsageError(str(exc)) from None
            ref_spec = args.ref or runs.data_source(Path(args.run))
            if not ref_spec:
                raise UsageError(f"{args.run} does not record its data: pass --ref PATH")
            reference = reference_sample(load_array(ref_spec, cfg.image_size), args.ref_n)
            try:
                result = evaluate_run(Path(args.run), args.n, reference, seed=args.seed, ema=not args.raw,
                                      state="best" if args.best else "latest")
            except FileNotFoundError as exc:
                raise UsageError(str(exc)) from None
            state = ", best state" if args.best else ""
            print(f"{args.run} (epoch {result['epoch']}{state}, {result['generator']} generator): "
                  f"{format_result(result)}")
            print(f"appended to {Path(args.run) / 'metrics.jsonl'}")
        else:
            if not args.ref:
                raise UsageError("--images needs --ref PATH (real images to compare with)")
            images = np.asarray(load_array(args.images))
            reference = reference_sample(load_array(args.ref, images.shape[1]), args.ref_n)
            result = evaluate_images(images, reference, seed=args.seed)
            print(f"{args.images}: {format_result(result)}")
            if args.save:
                from .files import atomic_write_bytes

                atomic_write_bytes(Path(args.save), (json.dumps(result, indent=2) + "\n").encode())
                print(f"saved {args.save}")
    except DataError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_download(args) -> int:
    from .data import data_dir
    from .data.download import DownloadError, download

    try:
        folder = download(args.dataset, args.to or data_dir(), force=args.force)
    except DownloadError as exc:
        raise UsageError(str(exc)) from None
    print(f"dataset folder: {folder}  (train with --data {folder})")
    return 0


def cmd_synth(args) -> int:
    from .files import save_png
    from .data.synthetic import synthetic_faces

    if args.n < 1:
        raise UsageError(f"--n must be >= 1, got {args.n}")
    if args.size < 16 or args.size & (args.size - 1):
        raise UsageError(f"--size must be a power of two >= 16, got {args.size}")
    out = Path(args.out)
    for i, face in enumerate(synthetic_faces(args.n, image_size=args.size, seed=args.seed)):
        save_png(face, out / f"face_{i:05d}.png")
    print(f"wrote {args.n} faces to {out}")
    return 0


def cmd_preview(args) -> int:
    from .data import DataError, load_array, preview_grid
    from .files import save_png

    _require_path(args.data)
    try:
        images = load_array(args.data)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    save_png(preview_grid(images, n=args.n, seed=args.seed), Path(args.out))
    print(f"wrote {args.out} ({min(args.n, len(images))} of {len(images)} images)")
    return 0


def cmd_serve(args) -> int:
    from .runs import PRETRAINED_DIR
    from .web.folders import BadRunName, UnknownRun, resolve_run, served_runs

    runs_dir = PRETRAINED_DIR if args.pretrained else Path(args.runs)
    first = args.run or (DEFAULT_PRETRAINED if args.pretrained else None)  # the page opens on this run
    names = [folder.name for folder in served_runs(runs_dir)]
    if not names:
        raise UsageError(f"no runs under {runs_dir} (a run folder holds config.json): train one first, e.g. make demo")
    if args.run:
        try:
            resolve_run(runs_dir, args.run)
        except (BadRunName, UnknownRun) as exc:
            raise UsageError(f"{exc}; runs under {runs_dir}: {', '.join(names)}") from None
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, got {args.port}")

    from .web.app import create_app, make_server, public_host_warning, server_urls  # Flask and TensorFlow

    warning = public_host_warning(args.host)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        server = make_server(create_app(runs_dir, default_run=first), args.host, args.port)
    except OSError as exc:  # port taken, address not on this machine
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"serving {len(names)} run(s) from {runs_dir} on {' '.join(server_urls(server))}  (Ctrl+C stops)",
          flush=True)
    try:
        server.run()
    finally:
        server.close()
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "presets": cmd_presets, "evaluate": cmd_evaluate,
            "download": cmd_download,
            "synth": cmd_synth, "preview": cmd_preview, "serve": cmd_serve}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _one_line_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 on a usage error
    from .config import ConfigError

    try:
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
