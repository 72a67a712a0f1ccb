"""Figures for comparing runs: loss curves, overlaid curves, sample grids side by side, GQ/DQ/PQ bars, latent
interpolation. Each function takes loaded runs (`runs.load_run`), notebook records (`records.load`), or plain
values, and returns a matplotlib Figure. Curves are drawn against kimg (thousands of real images shown to D) when
the run recorded it, else against epochs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from .files import to_uint8

LOSSES = (("g_loss", "generator"), ("d_real_loss", "discriminator real"), ("d_fake_loss", "discriminator fake"))
TALLY_COLOURS = {"GQ": "tab:green", "DQ": "tab:blue", "PQ": "tab:red"}  # seed 003's colours


def _view(run: dict) -> tuple[str, dict, str | None, str]:
    """(name, per-epoch curves, last grid picture, what the grid shows) of a loaded run or a record."""
    if "curves" in run:  # a record
        return run["run"], run["curves"], run.get("grid_path"), f"{run['images_shown'] / 1000:.3g} kimg"
    epoch = (run["checkpoint"] or {}).get("epoch", 0)
    return run["name"], run["history"], run["grid"], f"epoch {epoch}"


def _x_axis(history: dict) -> tuple[np.ndarray, str]:
    n = len(history.get("g_loss", []))
    kimg = history.get("kimg", [])
    if len(kimg) == n and n and all(v is not None and np.isfinite(v) for v in kimg):  # else epochs: no gaps
        return np.asarray(kimg, float), "kimg"
    return np.arange(1, n + 1), "epoch"


def _values(history: dict, key: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in history.get(key, [])], float)


def loss_panels(run_list, width: float = 4.2):
    """One panel per run with G, D-real and D-fake loss per epoch (seed 003's three curves)."""
    fig, axes = plt.subplots(1, len(run_list), figsize=(width * len(run_list), 3.2), squeeze=False)
    for ax, run in zip(axes[0], run_list):
        name, history, _, _ = _view(run)
        x, unit = _x_axis(history)
        for key, label in LOSSES:
            if key in history:
                ax.plot(x, _values(history, key), marker="o" if len(x) < 20 else None, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(unit)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("loss")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def overlaid_losses(run_list):
    """Each loss in its own panel, every run overlaid."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (key, label) in zip(axes, LOSSES):
        for run in run_list:
            name, history, _, _ = _view(run)
            x, unit = _x_axis(history)
            ax.plot(x, _values(history, key), marker="o" if len(x) < 20 else None, label=name)
        ax.set_title(label)
        ax.set_xlabel(unit)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def sample_grids(run_list, size: float = 3.0):
    """The last sample grid of each run, side by side."""
    fig, axes = plt.subplots(1, len(run_list), figsize=(size * len(run_list), size + 0.4), squeeze=False)
    for ax, run in zip(axes[0], run_list):
        name, _, grid, when = _view(run)
        if grid is not None:
            ax.imshow(np.asarray(Image.open(grid)))
        ax.set_title(f"{name}\n{when}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def tally_bars(tallies: dict[str, dict], title: str = "GQ / DQ / PQ"):
    """Stacked percentage bars, one per run. tallies: {run name: quality.tally(...) or an evaluation dict}."""
    names = list(tallies)
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2.5, 3.4))
    bottom = np.zeros(len(names))
    for cls, colour in TALLY_COLOURS.items():
        values = np.array([tallies[n][f"{cls.lower()}_pct"] for n in names])
        ax.bar(names, values, bottom=bottom, color=colour, label=cls)
        bottom += values
    ax.set_ylabel("% of samples")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    return fig


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latents (stays on the Gaussian shell, unlike a straight line)."""
    cos = np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolation_strip(generator, steps: int = 10, seed: int = 0) -> np.ndarray:
    """uint8 strip (S, steps*S, 3) of the generator's images along a slerp between two random latents."""
    latent_dim = generator.input_shape[-1]
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, latent_dim))
    z = np.stack([slerp(a, b, t) for t in np.linspace(0, 1, steps)]).astype(np.float32)
    images = to_uint8(generator(z, training=False))
    return np.concatenate(list(images), axis=1)


def show_image(array: np.ndarray, title: str = "", scale: float = 1.0):
    fig, ax = plt.subplots(figsize=(scale * array.shape[1] / 50, scale * array.shape[0] / 50 + 0.4))
    ax.imshow(array)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return fig
