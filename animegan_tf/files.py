"""Small file and image helpers that every layer uses: atomic writes, JSON lines, uint8 conversion, grids, PNGs.

No TensorFlow and nothing else from the package: this module sits at the bottom of the import stack.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file (one object per line, blank lines skipped), in order; [] when it is missing."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def to_uint8(images) -> np.ndarray:
    """[-1, 1] floats -> uint8 [0, 255]."""
    arr = np.asarray(images, dtype=np.float32)
    return np.clip((arr + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows*H, cols*W, C) uint8 mosaic; missing cells stay black."""
    n, h, w, c = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    padded = np.zeros((rows * cols, h, w, c), dtype=np.uint8)
    padded[:n] = images
    return padded.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


def grid_tiles(grid: np.ndarray, n: int, side: int, cols: int) -> np.ndarray:
    """The inverse of `image_grid`: the first n (side, side, C) tiles of a mosaic with `cols` columns."""
    rows = grid.shape[0] // side
    tiles = grid[:rows * side, :cols * side].reshape(rows, side, cols, side, -1).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(tiles.reshape(rows * cols, side, side, -1)[:n])


def save_png(array: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
