"""Which run folders the page may serve, and the checks that keep a request inside the runs folder.

No TensorFlow here: `animegan-tf serve` checks its arguments with these before it starts TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from ..runs import find_runs

MAX_NAME_LENGTH = 255


class BadRunName(ValueError):
    """A run name that is not a single folder name inside the runs folder (HTTP 400)."""


class UnknownRun(LookupError):
    """A well-formed run name with no run folder of that name (HTTP 404)."""


def _inside(root: Path, folder: Path) -> bool:
    """True when `folder`, symlinks resolved, is a direct child of `root`, symlinks resolved."""
    return folder.resolve().parent == root.resolve()


def served_runs(root: Path) -> list[Path]:
    """The run folders (a config.json inside) directly under `root`, minus symlinks that lead out of it."""
    root = Path(root)
    return [folder for folder in find_runs(root) if _inside(root, folder)]


def check_name(name: str) -> None:
    """Raise BadRunName unless `name` is one plain path component."""
    if not name:
        raise BadRunName("run name is empty")
    if len(name) > MAX_NAME_LENGTH or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise BadRunName(f"run name must be one folder name under the runs folder, got {name[:80]!r}")


def resolve_run(root: Path, name: str) -> Path:
    """The folder of run `name` under `root`.

    Raises:
        BadRunName: `name` holds a path, or is a symlink that leads out of `root`.
        UnknownRun: there is no run folder of that name.
    """
    check_name(name)
    folder = Path(root) / name
    if not _inside(Path(root), folder):
        raise BadRunName(f"run {name!r} leads out of the runs folder")
    if not (folder / "config.json").is_file():
        raise UnknownRun(f"unknown run {name!r}")
    return folder
