"""Ship a trained run's sampling generator with the package (`animegan-tf sample|serve --pretrained NAME`).

  python benchmarks/export_pretrained.py --screen bench/screen --system fast --seed 0 --kimg 1000 --name fast \\
      --command "python benchmarks/recipe_screen.py --faces ... --systems fast --kimg 400 1000 --out bench/screen"

Reads the run folder and its scored row from a recipe screen (benchmarks/recipe_screen.py; with --reference, the
row scored against those real faces), and writes
animegan_tf/pretrained/NAME/ (config.json, generator.keras, made.json: the screen's row, the command, the data) and
docs/pretrained_NAME.png (64 faces of fixed latents, seed 0). With --int8 the generator is stored as
generator_int8.npz (animegan_tf/quantize.py: int8 kernels, about a quarter of the bytes) for one too large for the
repo in float32; the screen's row then scores the float32 generator, and benchmarks/int8_quality.py measures the
difference. With --average KIMG it ships the averaged generator of that half-life the screen kept beside the run's
own (recipe_screen.py --averages) and scored at --kimg (its row `ema<KIMG>k`), in place of the run's own average.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from animegan_tf import runs  # noqa: E402
from animegan_tf.config import ConfigError, is_preset  # noqa: E402
from animegan_tf.data import data_sources  # noqa: E402
from animegan_tf.files import image_grid, read_jsonl, save_png  # noqa: E402
from animegan_tf.sampling import export_generator, generate, load_generator  # noqa: E402

from recipe_screen import kept_averages, set_name  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]


def scored_rows(rows: list[dict], system: str, seed: int, kimg: float, reference: str | None = None,
                own: str = "", generator: str = "ema") -> list[dict]:
    """The screen's rows of SYSTEM seed SEED's GENERATOR (its averaged one, or a kept average such as "ema88k") at
    KIMG, in the order they were scored; with REFERENCE only those scored against it (a row that names no reference
    was scored against OWN, its training faces, as recipe_screen.py reads it)."""
    return [r for r in rows if (r["system"], r["seed"], r["kimg"], r["generator"]) == (system, seed, kimg, generator)
            and reference in (None, r.get("reference", own))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--screen", required=True, help="OUT folder of benchmarks/recipe_screen.py")
    ap.add_argument("--system", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kimg", type=float, required=True, help="the mark the run stopped at (its scored row)")
    ap.add_argument("--name", required=True, help="name under animegan_tf/pretrained/")
    ap.add_argument("--command", required=True, help="the recipe_screen command that trained and scored it")
    ap.add_argument("--preset", help="the preset the run's config is (its seed and eval_every aside), named so in the "
                    "shipped config.json; refused when it is not that preset (default: keep the run's name)")
    ap.add_argument("--reference", help="the scored row against these real faces, as the screen names them "
                    "(e.g. anime_faces_calib; default: the last one scored)")
    ap.add_argument("--int8", action="store_true",
                    help="store the generator in int8 (a quarter of the bytes; for one over the repo's 5 MB)")
    ap.add_argument("--average", type=float, metavar="KIMG",
                    help="ship the average of this half-life the screen kept (--averages) and scored at --kimg")
    args = ap.parse_args()
    generator, halflife = "ema", None  # the run's own average
    if args.average is not None:
        try:
            [(generator, halflife)] = kept_averages([args.average]).items()
        except ValueError as exc:
            ap.error(f"--average: {exc}")

    screen = Path(args.screen)
    run_dir = screen / "runs" / f"{args.system}-seed{args.seed}"
    rows = read_jsonl(screen / "results.jsonl")
    source = runs.data_source(run_dir)
    own = set_name(data_sources(source)) if source else ""
    scored = scored_rows(rows, args.system, args.seed, args.kimg, args.reference, own, generator)
    meta = runs.checkpoint_meta(run_dir) or {}
    if not scored or meta.get("images_shown", 0) < args.kimg * 1000:
        against = f" against {args.reference}" if args.reference else ""
        kept = f" of {generator}" if halflife is not None else ""
        print(f"error: no scored {args.kimg:g}-kimg row{kept}{against} of {args.system} seed {args.seed} whose run "
              f"stopped there in {screen}", file=sys.stderr)
        return 2
    cfg = runs.load_config(run_dir)
    if meta["images_shown"] > args.kimg * 1000 + cfg.batch_size:
        print(f"error: {run_dir} trained past {args.kimg:g} kimg ({meta['images_shown']} images): its row does "
              "not describe its weights", file=sys.stderr)
        return 2
    if halflife is not None and runs.average_steps(run_dir, halflife) != meta["images_shown"] // cfg.batch_size:
        print(f"error: {run_dir} keeps no average of {args.average:g} kimg at the state its row scored",
              file=sys.stderr)
        return 2
    if args.preset:
        try:
            same = is_preset(cfg, args.preset)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not same:
            print(f"error: {args.system} is not the {args.preset} preset (seed and eval_every aside)", file=sys.stderr)
            return 2
        cfg = cfg.replace(name=args.preset)
    made = {"system": args.system, "data": runs.data_source(run_dir), "command": args.command,
            "scored": scored[-1], "images_shown": meta["images_shown"], "epoch": meta["epoch"]}
    if args.int8:
        made["stored"] = "int8 kernels, one scale per output channel (animegan_tf/quantize.py)"
    out = ROOT / "animegan_tf" / "pretrained" / args.name
    export_generator(run_dir, out, made, config=cfg, int8=args.int8, average=halflife)
    grid = ROOT / "docs" / f"pretrained_{args.name}.png"
    save_png(image_grid(generate(load_generator(out), 64, seed=0)), grid)
    print(f"wrote {out} and {grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
