"""Quality of generated anime faces: GQ/DQ/PQ labels by eye (loss-free), tallies, and an automatic judge.

Face detection: `detect_faces` runs the `animeface` detector (a classical anime
face detector, CPU only) with a fixed recipe, so face rates are comparable
between runs: each image is upscaled to 128x128 (bicubic) and pasted centred on
a 256x256 mid-grey canvas, and a face is "found" when the detector returns at
least one face. It takes about 40-90 ms per image on one CPU core (the
detector holds the GIL, so threads do not help).
"""

import functools
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageFilter, ImageOps

from ..data.synthetic import synthetic_faces
from ..files import atomic_write_bytes, grid_tiles
from . import inception, metrics

# The judge's version, recorded in every evaluation (metrics.jsonl "judge"); rates of different versions are never
# compared (compare.comparable). 1: animeface on the raw canvas + k-NN manifold (until 2026-11-30); 2: see `judge`.
JUDGE_VERSION = 2

# The fixed detection recipe (see the module docstring).
DETECT_UPSCALE = 128
DETECT_CANVAS = 256
DETECT_BACKGROUND = (128, 128, 128)

# Synthetic face used by the self-check, chosen so that a working detector finds it.
_SELF_CHECK_SEED = 0
_SELF_CHECK_INDEX = 0


def _detector_input(image, canvas: int = DETECT_CANVAS, sharpen: bool = False):
    """(H, W, 3) uint8 array -> the PIL canvas the detector sees: the face upscaled to 128 px (bicubic), centred on
    a mid-grey square; `sharpen`: the face unsharp-masked and contrast-stretched first (a candidate for v2 that
    benchmarks/judge_agreement.py measures and that lost: it calls noise a face)."""
    face = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    face = face.resize((DETECT_UPSCALE, DETECT_UPSCALE), Image.BICUBIC)
    if sharpen:
        face = ImageOps.autocontrast(face.filter(ImageFilter.UnsharpMask(radius=2, percent=200, threshold=2)),
                                     cutoff=1)
    board = Image.new("RGB", (canvas, canvas), DETECT_BACKGROUND)
    corner = (canvas - DETECT_UPSCALE) // 2
    board.paste(face, (corner, corner))
    return board


def _count_faces(image, canvas: int = DETECT_CANVAS, sharpen: bool = False):
    import animeface  # imported lazily: only detection needs it

    return len(animeface.detect(_detector_input(image, canvas, sharpen)))


@functools.cache
def detector_self_check():
    """Checks that the detector finds a known face; raises RuntimeError if it does not.

    `animeface` reads Pillow internals and silently finds nothing with Pillow 12 and
    later, which would otherwise show up as a 0% face rate. Cached: runs once per process.
    """
    known_face = synthetic_faces(_SELF_CHECK_INDEX + 1, seed=_SELF_CHECK_SEED)[_SELF_CHECK_INDEX]
    if _count_faces(known_face) == 0:
        message = (
            f"anime-face detector self-check failed: no face found in a known face image with "
            f"Pillow {PIL.__version__}; animeface needs Pillow 11.x (pip install 'pillow>=11,<12')"
        )
        if PIL.__version__.startswith("11."):
            message += "; Pillow is 11.x here, so check the animeface install and animegan_tf.synthetic"
        raise RuntimeError(message)
    return True


def detect_faces(images):
    """Runs the anime-face detector on each image (judge v1's face test).

    It keys on sharp edges: it finds 97 % of real faces as they are and 3.5 % of the same faces after a 1 px blur,
    which is why judge v2 does not use it (BENCHMARKS.md, "Judge v2").

    Args:
        images: uint8 array (N, H, W, 3).

    Returns:
        bool array (N,): True where at least one face was found.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}")
    detector_self_check()
    return np.array([_count_faces(image) > 0 for image in images], dtype=bool)


# ---------------------------------------------------------------------------------------------------------------
# GQ / DQ / PQ: seed 003's sample classes
#   GQ (Good Quality):   recognisable as a face, little distortion
#   DQ (Decent Quality): recognisable as a face, slightly distorted
#   PQ (Poor Quality):   not recognisable as a face
# ---------------------------------------------------------------------------------------------------------------

CLASSES = ("GQ", "DQ", "PQ")


def tally(labels, verbose: bool = True) -> dict:
    """Counts and percentages of GQ/DQ/PQ, printed the way seed 003 reports them ("GQ Rate: 3 / 20 = 15%").

    Args:
        labels: an iterable of "GQ"/"DQ"/"PQ", or a {image_id: label} dict (labels.json's "labels").
    Returns:
        {"n": N, "GQ": count, ..., "gq_pct": %, "dq_pct": %, "pq_pct": %}.
    """
    values = list(labels.values()) if isinstance(labels, dict) else list(labels)
    unknown = sorted({v for v in values if v not in CLASSES})
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}: use {', '.join(CLASSES)}")
    n = len(values)
    result = {"n": n}
    for cls in CLASSES:
        count = sum(v == cls for v in values)
        result[cls] = count
        result[f"{cls.lower()}_pct"] = round(100.0 * count / n, 1) if n else 0.0
    if verbose:
        print(format_tally(result))
    return result


def format_tally(result: dict) -> str:
    def pct(x):
        return f"{x:g}%"
    return "\n".join(f"{cls} Rate: {result[cls]} / {result['n']} = {pct(result[cls.lower() + '_pct'])}"
                     for cls in CLASSES)


# ---------------------------------------------------------------------------------------------------------------
# Manual labelling that loses nothing
# ---------------------------------------------------------------------------------------------------------------

class LabelStore:
    """labels.json of a run folder: every label is written at once, atomically (temp file + rename).

    The images being labelled are saved beside it (label_images.npy), so a new kernel resumes on the same images.
    """

    def __init__(self, run_dir, images=None):
        self.dir = Path(run_dir)
        self.path = self.dir / "labels.json"
        self.images_path = self.dir / "label_images.npy"
        stored = json.loads(self.path.read_text()) if self.path.exists() else None
        if images is None:
            if not self.images_path.exists():
                raise FileNotFoundError(f"no images to label in {self.dir}: pass images")
            images = np.load(self.images_path)
        images = np.asarray(images, dtype=np.uint8)
        digest = hashlib.sha256(images.tobytes()).hexdigest()[:16]
        if stored and stored.get("images_sha256") == digest:
            self.labels = {int(k): v for k, v in stored["labels"].items()}
        else:
            self.labels = {}
            buf = io.BytesIO()
            np.save(buf, images)
            atomic_write_bytes(self.images_path, buf.getvalue())
        self.images = images
        self.digest = digest
        if not self.path.exists() or not self.labels:
            self._write()

    def set(self, index: int, label: str | None) -> None:
        if label is not None and label not in CLASSES:
            raise ValueError(f"label must be one of {', '.join(CLASSES)}, got {label!r}")
        if not 0 <= index < len(self.images):
            raise IndexError(f"image {index} out of range 0..{len(self.images) - 1}")
        if label is None:
            self.labels.pop(index, None)
        else:
            self.labels[index] = label
        self._write()

    def next_unlabelled(self) -> int | None:
        return next((i for i in range(len(self.images)) if i not in self.labels), None)

    def _write(self) -> None:
        payload = {"images_sha256": self.digest, "n_images": len(self.images),
                   "labels": {str(k): v for k, v in sorted(self.labels.items())}}
        atomic_write_bytes(self.path, (json.dumps(payload, indent=1) + "\n").encode())


def label(images=None, run_dir=".", columns: int = 5, scale: int = 2):
    """An ipywidgets grid to label images GQ / DQ / PQ by eye; every click is saved to run_dir/labels.json.

    Keyboard: click the "keys" box and type g, d or p (or 1, 2, 3) to label the next unlabelled image; x undoes
    the last one. Reopening with the same run_dir resumes where you stopped (images=None reuses the stored ones).
    Returns the widget (display it, or leave it as a cell's last expression).
    """
    import ipywidgets as widgets

    store = LabelStore(run_dir, images)
    buttons = []
    status = widgets.HTML()

    def refresh_status():
        counts = {c: sum(v == c for v in store.labels.values()) for c in CLASSES}
        where = f"{store.dir.name}/{store.path.name}"  # the run folder's name: no machine path in outputs
        status.value = (f"<b>{len(store.labels)} / {len(store.images)}</b> labelled — "
                        + ", ".join(f"{c}: {counts[c]}" for c in CLASSES) + f" — saved to {where}")

    def on_change(index):
        def handler(change):
            store.set(index, change["new"])
            refresh_status()
        return handler

    cells = []
    for i, image in enumerate(store.images):
        buf = io.BytesIO()
        Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST).save(
            buf, format="PNG")
        picture = widgets.Image(value=buf.getvalue(), format="png")
        toggle = widgets.ToggleButtons(options=CLASSES, value=store.labels.get(i), style={"button_width": "38px"},
                                       tooltips=["Good: a face, little distortion", "Decent: a face, slightly "
                                                 "distorted", "Poor: not recognisable as a face"])
        toggle.observe(on_change(i), names="value")
        buttons.append(toggle)
        cells.append(widgets.VBox([widgets.HTML(f"#{i}"), picture, toggle]))

    keys = widgets.Text(placeholder="type g / d / p (or 1 / 2 / 3), x = undo", continuous_update=True)
    keymap = {"g": "GQ", "d": "DQ", "p": "PQ", "1": "GQ", "2": "DQ", "3": "PQ"}
    history = []

    def on_key(change):
        typed = change["new"]
        if not typed:
            return
        for char in typed.lower():
            if char in keymap:
                index = store.next_unlabelled()
                if index is not None:
                    buttons[index].value = keymap[char]  # the toggle's observer saves it
                    history.append(index)
            elif char == "x" and history:
                buttons[history.pop()].value = None
        keys.value = ""

    keys.observe(on_key, names="value")
    refresh_status()
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns=f"repeat({columns}, auto)"))
    box = widgets.VBox([status, keys, grid])
    box.label_store = store  # for programmatic access (and tests)
    box.label_buttons = buttons
    box.key_input = keys
    return box


# ---------------------------------------------------------------------------------------------------------------
# The automatic judge: seed 003's definitions made objective
# ---------------------------------------------------------------------------------------------------------------

MANIFOLD_K = 10  # k of the k-NN balls (improved precision, Kynkäänniemi et al., 2019)


def manifold_radii(ref_feats: np.ndarray, k: int = MANIFOLD_K) -> np.ndarray:
    """Distance from each reference feature to its k-th nearest other reference feature."""
    from scipy.spatial.distance import cdist

    radii = np.empty(len(ref_feats))
    for start in range(0, len(ref_feats), 1024):
        d = cdist(ref_feats[start:start + 1024], ref_feats)
        # column 0 after sorting is the point itself (distance 0)
        radii[start:start + 1024] = np.partition(d, k, axis=1)[:, k]
    return radii


def on_manifold(feats: np.ndarray, ref_feats: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """True where a feature lies inside at least one reference k-NN ball."""
    from scipy.spatial.distance import cdist

    inside = np.zeros(len(feats), dtype=bool)
    for start in range(0, len(feats), 1024):
        d = cdist(feats[start:start + 1024], ref_feats)
        inside[start:start + 1024] = (d <= radii[None, :]).any(axis=1)
    return inside


def v1_labels(faces, inside) -> np.ndarray:
    """Judge v1's rule: no face found -> P; a face on the real-face manifold -> G; off it -> D."""
    return np.where(~np.asarray(faces, bool), "P", np.where(np.asarray(inside, bool), "G", "D"))


# ---------------------------------------------------------------------------------------------------------------
# Judge v2: a linear read-out of the FID-Inception features, fitted to labels by eye
# ---------------------------------------------------------------------------------------------------------------

EYE_CLASSES = ("G", "D", "P")  # the by-eye labels (GQ, DQ, PQ)
V2_WEIGHTS = Path(__file__).with_name("judge_v2.npz")  # written by benchmarks/judge_agreement.py --fit


@functools.cache
def load_v2_weights() -> dict:
    """{"weights" (2048, 3), "bias" (3,), "threshold", "how"} of judge v2 (classes in EYE_CLASSES order)."""
    with np.load(V2_WEIGHTS) as data:
        return {"weights": data["weights"].astype(np.float64), "bias": data["bias"].astype(np.float64),
                "threshold": float(data["threshold"]), "how": str(data["how"])}


def probe_labels(logits, threshold: float) -> np.ndarray:
    """G/D/P from the read-out's logits (N, 3) in EYE_CLASSES order: P unless the probability of "some face"
    (G or D) exceeds `threshold`; then G or D, whichever is the more probable."""
    logits = np.asarray(logits, dtype=np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    face = 1.0 - p[:, 2] > threshold
    return np.where(~face, "P", np.where(p[:, 0] >= p[:, 1], "G", "D"))


def load_eye_set(folder) -> tuple[np.ndarray, np.ndarray, dict]:
    """A by-eye labelled set (tests/fixtures/judge_eye): images (N, 64, 64, 3) uint8 from the images.png mosaic,
    labels (N,) of G/D/P and the split {"tune": [...], "held_out": [...]}. Raises ValueError when the labels do not
    belong to these images."""
    folder = Path(folder)
    layout = json.loads((folder / "sources.json").read_text())
    labelled = json.loads((folder / "labels.json").read_text())
    mosaic = np.asarray(Image.open(folder / "images.png").convert("RGB"))
    images = grid_tiles(mosaic, layout["n"], layout["tile"], layout["columns"])
    if hashlib.sha256(images.tobytes()).hexdigest() != labelled["images_sha256"]:
        raise ValueError(f"{folder}: labels.json was made for other images (sha256 differs)")
    return images, np.array(labelled["labels"]), labelled["split"]


def judge(images, reference=None, k: int = MANIFOLD_K, batch_size: int = 50, verbose: bool = False,
          features=None, version: int = JUDGE_VERSION) -> dict:
    """GQ / DQ / PQ of each image, automatically.

    Version 2 (the default): the image's FID-Inception features (the ones FID and KID use, computed once) go
    through a linear softmax fitted to labels given by eye (tests/fixtures/judge_eye, its README has the criteria;
    fitted and validated by benchmarks/judge_agreement.py): PQ unless P(face) exceeds the fitted threshold, then GQ
    or DQ, whichever is more probable. It needs no reference, so its verdicts do not depend on the data a run was
    compared with, and it sees soft faces that the detector misses.

    Version 1 (kept to recompute old rows): recognisable = the anime face detector finds a face (`detect_faces`);
    not distorted = the image's feature lies inside the k-NN ball (k=10) of at least one reference real image.

    Args:
        images: (N, H, W, 3) uint8 images to judge.
        reference: version 1 only: real images (M, H, W, 3) uint8, or a dict from `metrics.reference_features`.
        features: the images' FID-Inception features when already computed.
    Returns:
        tally(...) plus "labels" (one per image), "face" (bool list) and "version"; version 1 also "manifold" and
        "k", version 2 "probabilities" (N lists of P(GQ), P(DQ), P(PQ)).
    """
    images = np.asarray(images)
    if features is None:
        features = inception.inception_features(images, batch_size=batch_size)
    feats = np.asarray(features, dtype=np.float64)
    if version == 2:
        model = load_v2_weights()
        logits = feats @ model["weights"] + model["bias"]
        eye = probe_labels(logits, model["threshold"])
        labels = [f"{e}Q" for e in eye]
        result = tally(labels, verbose=verbose)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        result.update(labels=labels, face=(eye != "P").tolist(), version=2,
                      probabilities=np.round(p / p.sum(axis=1, keepdims=True), 4).tolist())
        return result
    if version != 1:
        raise ValueError(f"unknown judge version {version!r}; one of 1, 2")
    if reference is None:
        raise ValueError("judge version 1 needs reference real images (its manifold test)")
    faces = detect_faces(images)
    ref = reference if isinstance(reference, dict) else metrics.reference_features(np.asarray(reference),
                                                                                 batch_size=batch_size)
    ref_feats = np.asarray(ref["feats"], dtype=np.float64)
    inside = on_manifold(feats, ref_feats, manifold_radii(ref_feats, k))
    labels = [f"{e}Q" for e in v1_labels(faces, inside)]
    result = tally(labels, verbose=verbose)
    result.update(labels=labels, face=faces.tolist(), manifold=inside.tolist(), k=k, version=1)
    return result
