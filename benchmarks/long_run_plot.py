"""The long run's curves in one figure: KID measured during training (eval_every, small samples) and FID/KID at
the screen's kimg marks (2,000 samples vs 2,000 real; a line per set of real faces they were scored against), against
kimg, with the wall-clock on this machine on top.

  python benchmarks/long_run_plot.py --screen bench/screen_more --system fast+eval_every=10 --seed 0 \\
      --out docs/long_run.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from animegan_tf import runs  # noqa: E402
from animegan_tf.files import read_jsonl  # noqa: E402


def marks_by_reference(marks: list[dict]) -> dict[str, list[dict]]:
    """The screen's rows at the marks, grouped by the real faces they were scored against (a row that names none:
    its own training faces), each group in kimg order, the groups in the order first scored."""
    groups: dict[str, list[dict]] = {}
    for r in marks:
        groups.setdefault(r.get("reference", "its own faces"), []).append(r)
    return {ref: sorted(rows, key=lambda r: r["kimg"]) for ref, rows in groups.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--screen", required=True)
    ap.add_argument("--system", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", help="what the title calls the system (default: the system string)")
    args = ap.parse_args()

    screen = Path(args.screen)
    run_dir = screen / "runs" / f"{args.system}-seed{args.seed}"
    during = [m for m in runs.load_metrics(run_dir) if "kimg" in m and "kid" in m and m.get("state") != "best"]
    marks = [r for r in read_jsonl(screen / "results.jsonl")
             if r["system"] == args.system and r["seed"] == args.seed and r["generator"] == "ema"]
    if not during and not marks:
        print(f"error: nothing measured for {args.system} seed {args.seed} in {screen}", file=sys.stderr)
        return 2
    history = runs.load_history(run_dir)

    fig, (ax_kid, ax_fid) = plt.subplots(1, 2, figsize=(11, 3.8))
    if during:
        kimg = [m["kimg"] for m in during]
        kid = [m["kid"] for m in during]
        best = int(np.argmin(kid))
        ax_kid.plot(kimg, kid, marker=".", label=f"during training ({during[0]['n']} samples)")
        ax_kid.plot([kimg[best]], [kid[best]], marker="*", markersize=12, color="black", linestyle="none",
                    label=f"best: {kid[best]:.3f} at {kimg[best]:.0f} kimg")
    references = marks_by_reference(marks)  # a screen may score the same samples against several real sets
    for i, (reference, rows) in enumerate(references.items()):  # a line each
        label = f"vs {reference.replace('+', ' + ')}"
        ax_kid.errorbar([r["kimg"] for r in rows], [r["kid"] for r in rows], yerr=[r["kid_std"] for r in rows],
                        marker="o", linestyle="--", label=f"at the marks (2,000 samples) {label}")
        ax_fid.plot([r["kimg"] for r in rows], [r["fid"] for r in rows], marker="o", label=label)
        for r in rows:
            ax_fid.annotate(f"{r['fid']:.1f}", (r["kimg"], r["fid"]), textcoords="offset points",
                            xytext=(4, -14 if i == 0 and len(references) > 1 else 4), color=f"C{i}")
    ax_kid.set(xlabel="kimg (thousands of real images shown to D)", ylabel="KID (lower is better)",
               title=f"{args.name or args.system}, seed {args.seed}")
    ax_fid.set(xlabel="kimg", ylabel="FID, 2,000 vs 2,000 real (lower is better)", title="FID at the marks")
    ax_kid.legend(fontsize=8)
    if len(references) > 1:
        ax_fid.legend(fontsize=8)
    for ax in (ax_kid, ax_fid):
        ax.grid(alpha=0.3)
    if history.get("kimg") and history.get("epoch_seconds"):  # wall-clock on this machine, on a second axis
        hours = np.cumsum(history["epoch_seconds"]) / 3600
        top = ax_fid.secondary_xaxis("top", functions=(
            lambda k: np.interp(k, history["kimg"], hours), lambda h: np.interp(h, hours, history["kimg"])))
        top.set_xlabel("training hours on this machine")
        ax_fid.set_title("FID at the marks", pad=30)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
