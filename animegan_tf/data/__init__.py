"""Images in, batches out: folders, zips and the embedded synthetic set -> a uint8 array -> tf.data.

Validation happens once, at ingestion: every file is decoded, converted to RGB, centre-cropped and resized to
`image_size`, and the ones that cannot be used (corrupt, truncated, empty, not an image, smaller than 16 px, a
decompression bomb) are skipped with one warning. The decoded uint8 array is cached on disk as .npy, keyed by the
file list, sizes, mtimes and image_size, so the next run (and every epoch) skips decoding, and a changed folder
invalidates the cache. Training reads that array through a memory map: the dataset is never held as float32, and
never embedded in the tf.data graph (only a small index is).

`make_dataset` yields the batches of epoch e in an order that depends only on (seed, e), so a resumed run sees
exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..files import atomic_write_bytes, image_grid

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
MIN_SIDE = 16  # images smaller than this (either side) are skipped
SYNTHETIC_DEFAULT_N = 10_000


class DataError(ValueError):
    """The data source cannot be used (missing, empty, no usable image). The CLI exits 2 with its message."""


def data_dir() -> Path:
    """Where downloads and caches land: $ANIMEGAN_DATA_DIR, else the checkout's data/, else ~/.cache/animegan_tf."""
    if os.environ.get("ANIMEGAN_DATA_DIR"):
        return Path(os.environ["ANIMEGAN_DATA_DIR"])
    checkout_data = Path(__file__).resolve().parent.parent / "data"
    if (checkout_data / "README.md").exists():
        return checkout_data
    return Path.home() / ".cache" / "animegan_tf" / "data"


# ---------------------------------------------------------------------------------------------------------------
# Decoding one image
# ---------------------------------------------------------------------------------------------------------------

def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB. Transparency is composited on white; 16/32-bit greyscale is rescaled to 8 bits."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def decode_image(data: bytes, image_size: int) -> np.ndarray:
    """Encoded bytes -> (image_size, image_size, 3) uint8, centre-cropped to a square then resized.

    Raises ValueError (or a Pillow error) for anything that is not a usable image.
    """
    if not data:
        raise ValueError("empty file")
    with warnings.catch_warnings():
        # A decompression bomb is refused, never decoded: Pillow's own limit, turned into an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)  # first frame of a GIF/WebP animation
            img.load()  # truncated files fail here, not mid-training
            if min(img.size) < MIN_SIDE:
                raise ValueError(f"smaller than {MIN_SIDE} px ({img.size[0]}x{img.size[1]})")
            rgb = to_rgb(img)
    square = ImageOps.fit(rgb, (image_size, image_size), method=Image.Resampling.LANCZOS)
    return np.asarray(square, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Ingestion: folder or zip -> cached uint8 array
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class IngestReport:
    """What ingestion found: how many images were used and which files were skipped, with the reason."""
    source: str
    used: int
    skipped: list[tuple[str, str]]
    from_cache: bool


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def _folder_entries(folder: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime) of every visible file, images and others (the others are reported)."""
    entries = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            st = path.stat()
            entries.append((str(path.relative_to(folder)), st.st_size, st.st_mtime_ns))
    return entries


def _zip_entries(zf: zipfile.ZipFile) -> list[tuple[str, int, int]]:
    entries = []
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        name = info.filename
        if info.is_dir() or name.startswith("__MACOSX/") or Path(name).name.startswith("."):
            continue
        entries.append((name, info.file_size, info.CRC))
    return entries


def _cache_key(kind: str, source: Path, entries, image_size: int, extra: str = "") -> str:
    h = hashlib.sha256()
    h.update(json.dumps([kind, str(source.resolve()), image_size, extra, entries]).encode())
    return h.hexdigest()[:24]


def _decode_all(names, read, image_size):
    """Decode every entry on a thread pool (Pillow releases the GIL while decoding)."""
    def work(name):
        try:
            return name, decode_image(read(name), image_size), None
        except Exception as exc:  # noqa: BLE001 - any failure means "skip this file"
            return name, None, f"{type(exc).__name__}: {exc}".strip()

    workers = min(8, (os.cpu_count() or 1) * 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, names))


def _warn_skipped(source: str, skipped: list[tuple[str, str]]) -> None:
    if skipped:
        first = ", ".join(name for name, _ in skipped[:5])
        more = "" if len(skipped) <= 5 else f" and {len(skipped) - 5} more"
        warnings.warn(f"skipped {len(skipped)} unusable file(s) in {source}: {first}{more}", stacklevel=3)


def ingest(source: str | os.PathLike, image_size: int = 64, cache_dir: Path | None = None):
    """Folder (recursive) or .zip -> (uint8 array (N, S, S, 3), IngestReport), through the on-disk cache.

    Raises DataError when the source is missing or holds no usable image.
    """
    source = Path(source)
    if not source.exists():
        raise DataError(f"data path not found: {source}")
    cache_dir = Path(cache_dir) if cache_dir else data_dir() / "cache"
    if source.is_dir():
        entries = _folder_entries(source)
        kind = "folder"
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            entries = _zip_entries(zf)
        kind = "zip"
    else:
        raise DataError(f"data path is neither a folder nor a .zip: {source}")
    if not any(_is_image_name(name) for name, _, _ in entries):
        raise DataError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {source}")

    st = source.stat()
    key = _cache_key(kind, source, entries, image_size, extra=f"{st.st_size}:{st.st_mtime_ns}" if kind == "zip" else "")
    array_path = cache_dir / f"{key}.npy"
    meta_path = cache_dir / f"{key}.json"
    if array_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        skipped = [tuple(s) for s in meta["skipped"]]
        _warn_skipped(str(source), skipped)
        images = np.load(array_path, mmap_mode="r")
        return images, IngestReport(str(source), len(images), skipped, from_cache=True)

    names = [name for name, _, _ in entries if _is_image_name(name)]
    not_images = [(name, "not an image file type") for name, _, _ in entries if not _is_image_name(name)]
    if kind == "folder":
        results = _decode_all(names, lambda n: (source / n).read_bytes(), image_size)
    else:
        with zipfile.ZipFile(source) as zf:
            # ZipFile objects are not thread-safe: read the bytes first, decode in parallel.
            blobs = {}
            for n in names:
                try:
                    blobs[n] = zf.read(n)
                except Exception:  # noqa: BLE001 - a broken member is a skipped file
                    blobs[n] = b""
        results = _decode_all(names, blobs.__getitem__, image_size)

    good = [arr for _, arr, err in results if err is None]
    skipped = not_images + [(name, err) for name, _, err in results if err is not None]
    skipped.sort()
    _warn_skipped(str(source), skipped)
    if not good:
        raise DataError(f"no usable image in {source} ({len(skipped)} file(s) could not be read)")
    images = np.stack(good)
    buf = io.BytesIO()
    np.save(buf, images)
    atomic_write_bytes(array_path, buf.getvalue())
    atomic_write_bytes(meta_path, json.dumps({"source": str(source), "skipped": skipped}).encode())
    return np.load(array_path, mmap_mode="r"), IngestReport(str(source), len(images), skipped, from_cache=False)


def synthetic_array(n: int, image_size: int = 64, seed: int = 0, cache_dir: Path | None = None) -> np.ndarray:
    """The embedded procedural face set (synthetic.py), cached on disk like any other source."""
    from .synthetic import synthetic_faces

    cache_dir = Path(cache_dir) if cache_dir else data_dir() / "cache"
    path = cache_dir / f"synthetic-n{n}-s{image_size}-seed{seed}.npy"
    if not path.exists():
        buf = io.BytesIO()
        np.save(buf, synthetic_faces(n, image_size=image_size, seed=seed))
        atomic_write_bytes(path, buf.getvalue())
    return np.load(path, mmap_mode="r")


def data_sources(spec: str | os.PathLike) -> list[str]:
    """A `--data` value's sources, in order: "faces_a,faces_b" -> ["faces_a", "faces_b"].

    A path that exists is one source even when its name holds a comma.
    """
    text = str(spec).strip()
    if "," not in text or Path(text).exists():
        return [text] if text else []
    return [part.strip() for part in text.split(",") if part.strip()]


def is_synthetic(source: str) -> bool:
    """Whether one source names the embedded faces ("synthetic" or "synthetic:N") rather than a path."""
    return source == "synthetic" or source.startswith("synthetic:")


def source_name(source: str) -> str:
    """How records and pages name one source without this machine's paths: "synthetic[:N]" as given, else the
    folder's or archive's own name ("../shared/faces/" -> "faces")."""
    return source if is_synthetic(source) else Path(os.path.abspath(source)).name


def load_array(spec: str | os.PathLike, image_size: int = 64) -> np.ndarray:
    """A `--data` value -> uint8 array (N, S, S, 3).

    `spec` is "synthetic" (10,000 embedded faces), "synthetic:N", a folder (recursive) or a .zip, or several of
    them separated by commas ("faces_a,faces_b"), read as one set in that order.
    """
    sources = data_sources(spec)
    if not sources:
        raise DataError(f"--data {str(spec)!r} names no folder, .zip or synthetic set")
    if len(sources) > 1:
        return np.concatenate([np.asarray(load_array(part, image_size)) for part in sources])
    text = sources[0]
    if is_synthetic(text):
        count = text.partition(":")[2] or str(SYNTHETIC_DEFAULT_N)
        if not count.isdigit() or int(count) < 1:
            raise DataError(f"--data {text!r}: expected synthetic or synthetic:N with N a positive integer")
        return synthetic_array(int(count), image_size=image_size)
    images, _ = ingest(text, image_size=image_size)
    return images


# ---------------------------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------------------------

def steps_per_epoch(num_images: int, batch_size: int) -> int:
    steps = num_images // batch_size
    if steps < 1:
        raise DataError(f"{num_images} images are fewer than one batch of {batch_size}: lower batch_size")
    return steps


def normalize(images, dtype="float32"):
    """uint8 [0, 255] -> [-1, 1] in `dtype` (the compute dtype under mixed precision)."""
    from ..backend import tf

    return tf.cast(images, dtype) / tf.constant(127.5, dtype) - tf.constant(1.0, dtype)


def preview_grid(images: np.ndarray, n: int = 25, seed: int = 0) -> np.ndarray:
    """n random images of a dataset (uint8 array) as one square uint8 grid, as seed 001 shows before training."""
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
    return image_grid(np.asarray(images[picks]))


def make_dataset(images: np.ndarray, batch_size: int, epochs: int, seed: int = 0, initial_epoch: int = 0,
                 dtype: str = "float32", augment=None):
    """uint8 array -> tf.data.Dataset of normalised batches for epochs [initial_epoch, epochs).

    Each epoch is a fresh permutation that depends only on (seed, epoch); batches drop the remainder. Only an index
    lives in the graph; batches are gathered from `images` (typically a memory map) by a numpy call.

    Args:
        images: (N, S, S, C) uint8.
        augment: optional `fn(batch_uint8, seed) -> batch_uint8` applied in the map with a per-batch seed.
    """
    from ..backend import tf

    n = len(images)
    steps = steps_per_epoch(n, batch_size)
    shape = (batch_size,) + tuple(images.shape[1:])

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: steps * batch_size], (steps, batch_size)))
        return batches.enumerate().map(lambda step, idx: (epoch, step, idx))

    def gather(epoch, step, idx):
        batch = tf.numpy_function(lambda i: np.asarray(images[np.sort(i)]), [idx], tf.uint8, stateful=False)
        batch = tf.ensure_shape(batch, shape)
        if augment is not None:
            batch = augment(batch, tf.stack([epoch * 1_000_003 + seed, step]))
        return normalize(batch, dtype)

    ds = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_images(path, cfg, initial_epoch: int = 0):
    """A folder/zip/"synthetic" -> the tf.data.Dataset `fit` trains on, for `cfg` (batch, epochs, seed, dtype)."""
    from .augment import make_augment
    from ..precision import compute_dtype  # TensorFlow only when a dataset is made

    images = load_array(path, cfg.image_size)
    return make_dataset(images, cfg.batch_size, cfg.epochs, seed=cfg.seed, initial_epoch=initial_epoch,
                        dtype=compute_dtype(cfg), augment=make_augment(cfg))


def _array_slices_class():
    from ..backend import keras

    class ArraySlices(keras.utils.PyDataset):
        """Seed 003's first-scenario policy: batch i is `x[i*B:(i+1)*B]` of an in-memory array, in order."""

        def __init__(self, images: np.ndarray, batch_size: int, dtype: str = "float32"):
            super().__init__()
            self.images = images
            self.batch_size = batch_size
            self.dtype = dtype
            self.steps = steps_per_epoch(len(images), batch_size)

        def __len__(self):
            return self.steps

        def __getitem__(self, i):
            batch = np.asarray(self.images[i * self.batch_size:(i + 1) * self.batch_size], dtype=np.float32)
            return (batch / 127.5 - 1.0,)  # float32; the layers cast to their compute dtype

    return ArraySlices


def array_slices(images: np.ndarray, batch_size: int, dtype: str = "float32"):
    """A keras PyDataset over `images` in order, batch i = images[i*B:(i+1)*B] (scenario 1)."""
    return _array_slices_class()(images, batch_size, dtype)
