"""Procedural anime-face dataset, drawn with Pillow.

Tests, notebooks and quick experiments need anime faces without downloading a
dataset. `synthetic_faces` draws cartoon face crops framed like the usual 64x64
anime-face datasets (the face fills the frame, the eyes sit a little below the
middle): hair with bangs and side locks, big eyes with iris, pupil and
highlights, eyebrows, a small nose and mouth, optional blush and accessories,
on varied backgrounds, with a little pose and scale jitter.

They are simple enough for a small DCGAN to learn quickly, and drawn so that the
`animeface` detector (see `quality.detect_faces`) finds most of them, which
gives face-rate metrics a known-good reference.

Each image is drawn with its own RNG seeded from (seed, index), so image i is
the same whatever n is. Faces are drawn at `_SUPERSAMPLE` times the requested
size and box-downsampled (each pixel averages its supersamples), which
antialiases the edges.
"""

import functools
import math

import numpy as np
from PIL import Image, ImageDraw

# Faces are drawn this many times larger than requested, then downsampled.
_SUPERSAMPLE = 3

# Width of the ink outlines, in unit coordinates (about 0.7 px at 64x64).
_LINE_WIDTH = 0.011

# Point about which pose jitter (rotation, scale) is applied, in unit coordinates.
_PIVOT = (0.5, 0.55)

# Broad hair palette: natural colours plus the usual anime ones.
HAIR_COLOURS = (
    (30, 28, 36), (62, 40, 30), (110, 66, 38), (150, 96, 52), (230, 200, 120),
    (245, 222, 160), (210, 90, 40), (180, 40, 40), (240, 140, 170), (250, 190, 210),
    (150, 80, 170), (200, 160, 230), (40, 60, 150), (90, 140, 220), (150, 200, 240),
    (40, 130, 90), (120, 200, 150), (40, 150, 160), (200, 200, 210), (240, 240, 245),
)
SKIN_COLOURS = (
    (255, 236, 224), (252, 226, 206), (250, 218, 196), (244, 206, 180), (236, 192, 160),
    (220, 170, 136),
)
IRIS_COLOURS = (
    (40, 90, 200), (30, 150, 210), (40, 160, 90), (90, 180, 60), (200, 40, 50),
    (130, 60, 190), (190, 90, 200), (140, 80, 40), (200, 150, 40), (30, 150, 140),
    (80, 80, 110),
)
BACKGROUND_COLOURS = (
    (255, 255, 255), (250, 246, 236), (230, 240, 250), (250, 230, 236), (232, 248, 232),
    (250, 250, 214), (220, 220, 228), (200, 220, 245), (245, 205, 180), (180, 200, 170),
    (120, 130, 160), (60, 60, 80),
)
CLOTHES_COLOURS = (
    (255, 255, 255), (30, 30, 50), (40, 60, 120), (160, 30, 40), (60, 100, 60),
    (220, 200, 160), (120, 120, 130), (240, 170, 190), (90, 60, 130),
)
ACCESSORY_COLOURS = (
    (220, 30, 50), (250, 120, 160), (255, 255, 255), (40, 80, 200), (250, 200, 40),
    (40, 160, 80), (30, 30, 30), (150, 60, 200),
)
MOUTH_COLOUR = (150, 40, 50)
TONGUE_COLOUR = (230, 110, 120)


def synthetic_faces(n, image_size=64, seed=0):
    """Draws `n` procedural anime faces.

    Args:
        n: number of images.
        image_size: side of the square images, in pixels.
        seed: base seed; image i depends only on (seed, i).

    Returns:
        uint8 array of shape (n, image_size, image_size, 3).
    """
    if n < 0 or image_size < 8:
        raise ValueError(f"need n >= 0 and image_size >= 8, got n={n}, image_size={image_size}")
    faces = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        faces[i] = _draw_face(rng, image_size)
    return faces


def _draw_face(rng, image_size):
    """Draws one face with the random choices taken from `rng`; returns (S, S, 3) uint8."""
    size = image_size * _SUPERSAMPLE
    image = _background(rng, size)
    canvas = _Canvas(
        image,
        angle=rng.uniform(-9, 9),
        scale=rng.uniform(1.0, 1.14),
        shift=rng.uniform(-0.035, 0.035, size=2),
    )

    hair = _jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 18)
    skin = _jitter(rng, SKIN_COLOURS[rng.integers(len(SKIN_COLOURS))], 6)
    face = {
        "half_width": rng.uniform(0.25, 0.29),  # at the cheekbones
        "cheek_y": rng.uniform(0.59, 0.63),  # where the jaw starts to narrow
        "chin_y": rng.uniform(0.86, 0.91),
        "eye_y": rng.uniform(0.55, 0.585),
    }

    _back_hair(canvas, rng, face, _shade(hair, 0.78))
    _neck_and_clothes(canvas, rng, face, skin)
    _face_shape(canvas, face, skin)
    if rng.random() < 0.6:
        _blush(canvas, rng, face)
    _eyes(canvas, rng, face, hair)
    _nose_and_mouth(canvas, rng, face, skin)
    _front_hair(canvas, rng, face, hair)
    _accessory(canvas, rng, face)

    # averaging each block of supersamples antialiases the edges
    return np.asarray(image.reduce(_SUPERSAMPLE))


class _Canvas:
    """Draws shapes given in unit coordinates (0..1 across the image) through a pose jitter."""

    def __init__(self, image, angle, scale, shift):
        self.size = image.width
        self.opaque = ImageDraw.Draw(image)
        self.blend = ImageDraw.Draw(image, "RGBA")  # for (r, g, b, alpha) colours; slower
        theta = math.radians(angle)
        rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        self.scale = scale
        self.matrix = self.size * scale * rotation.T  # row vectors: pixel = unit @ matrix + offset
        pivot = np.array(_PIVOT)
        self.offset = self.size * (pivot + shift) - pivot @ self.matrix

    def pixels(self, points):
        """Maps (K, 2) unit coordinates to pixel coordinates."""
        points = np.asarray(points, dtype=float) @ self.matrix + self.offset
        return points.ravel().tolist()  # Pillow takes a flat [x0, y0, x1, y1, ...] list

    def polygon(self, points, fill, outline=None, width=_LINE_WIDTH):
        """Filled polygon, with an optional ink outline `width` wide (unit coordinates)."""
        pixels = self.pixels(points)
        self._draw(fill).polygon(pixels, fill=fill)
        if outline is not None:
            # a closed polyline: much faster than Pillow's wide polygon outlines
            self._draw(outline).line(pixels + pixels[:4], fill=outline, width=self._pixel_width(width))

    def ellipse(self, cx, cy, rx, ry, fill, start=0.0, end=360.0, outline=None, width=_LINE_WIDTH):
        """Filled ellipse (or pie slice from `start` to `end` degrees, clockwise from +x)."""
        steps = min(48, max(8, int(max(rx, ry) * (end - start) * 0.5)))  # fewer points for small ones
        self.polygon(_arc(cx, cy, rx, ry, start, end, steps), fill, outline, width)

    def line(self, points, fill, width):
        """Polyline with `width` in unit coordinates."""
        self._draw(fill).line(self.pixels(points), fill=fill, width=self._pixel_width(width), joint="curve")

    def _draw(self, colour):
        return self.blend if len(colour) == 4 else self.opaque

    def _pixel_width(self, width):
        return max(1, round(width * self.size * self.scale))


# --- geometry and colour helpers ---------------------------------------------------------


# Shapes are small, so numpy's per-call overhead dominates: the unit circle arcs and
# Bezier weights below are computed once per distinct argument set and reused.


@functools.cache
def _unit_arc(start, end, steps):
    """(steps, 2) read-only (cos, sin) of `steps` angles from `start` to `end` degrees."""
    angles = np.radians(np.linspace(start, end, steps))
    points = np.column_stack([np.cos(angles), np.sin(angles)])
    points.flags.writeable = False
    return points


@functools.cache
def _bezier_weights(steps):
    """(steps, 3) read-only Bernstein weights of a quadratic Bezier curve."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    weights = np.hstack([(1 - t) ** 2, 2 * (1 - t) * t, t**2])
    weights.flags.writeable = False
    return weights


def _arc(cx, cy, rx, ry, start=0.0, end=360.0, steps=40):
    """(steps, 2) points on an ellipse, angles in degrees clockwise from +x (y points down)."""
    return _unit_arc(start, end, steps) * (rx, ry) + (cx, cy)


def _bezier(p0, p1, p2, steps=12):
    """(steps, 2) points on the quadratic Bezier curve p0 -> p2 pulled towards p1."""
    return _bezier_weights(steps) @ np.array([p0, p1, p2], dtype=float)


def _jitter(rng, colour, amount):
    """`colour` with each channel moved by up to +-amount."""
    offsets = rng.integers(-amount, amount + 1, 3).tolist()
    return tuple(min(255, max(0, c + d)) for c, d in zip(colour, offsets))


def _shade(colour, factor):
    """Darkens (factor < 1) towards black or lightens (factor > 1) towards white."""
    if factor <= 1:
        return tuple(int(c * factor) for c in colour)
    return tuple(min(255, int(c + (255 - c) * (factor - 1))) for c in colour)


# --- drawing parts, back to front ----------------------------------------------------------


def _background(rng, size):
    """Flat colour, vertical gradient, or flat colour with soft bokeh circles."""
    first = np.asarray(_jitter(rng, BACKGROUND_COLOURS[rng.integers(len(BACKGROUND_COLOURS))], 12))
    second = np.asarray(_jitter(rng, BACKGROUND_COLOURS[rng.integers(len(BACKGROUND_COLOURS))], 12))
    style = rng.integers(3)
    if style == 1:
        t = np.linspace(0.0, 1.0, size)[:, None]
        column = ((1 - t) * first + t * second).astype(np.uint8)  # (size, 3)
        image = Image.fromarray(column[:, None, :]).resize((size, size), Image.NEAREST)
    else:
        image = Image.new("RGB", (size, size), tuple(int(c) for c in first))
    if style == 2:
        draw = ImageDraw.Draw(image, "RGBA")
        for _ in range(rng.integers(3, 7)):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(0.05, 0.15) * size
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(*(int(c) for c in second), 110))
    return image


def _back_hair(canvas, rng, face, colour):
    """Hair behind the head: a dome, plus a bob, long hair or twin tails."""
    cx, hw = 0.5, face["half_width"]
    ink = _shade(colour, 0.5)
    style = rng.choice(["short", "bob", "long", "twintails"])
    if style == "bob":
        bottom = face["chin_y"] + rng.uniform(-0.06, 0.02)
        outline = np.concatenate([
            [[cx - hw - 0.08, 0.42]],
            _bezier((cx - hw - 0.09, 0.6), (cx - hw - 0.1, bottom), (cx - hw + 0.02, bottom)),
            _bezier((cx + hw - 0.02, bottom), (cx + hw + 0.1, bottom), (cx + hw + 0.09, 0.6)),
            [[cx + hw + 0.08, 0.42]],
        ])
        canvas.polygon(outline, colour, ink)
    elif style == "long":
        spread = rng.uniform(0.08, 0.16)
        canvas.polygon([(cx - hw - 0.08, 0.42), (cx - hw - spread, 1.1),
                        (cx + hw + spread, 1.1), (cx + hw + 0.08, 0.42)], colour, ink)
    elif style == "twintails":
        for side in (-1, 1):
            tail_x = cx + side * (hw + rng.uniform(0.1, 0.15))
            canvas.ellipse(tail_x, 0.68, 0.075, 0.3, colour, outline=ink)
            canvas.ellipse(cx + side * (hw + 0.06), 0.3, 0.035, 0.035, _shade(colour, 0.6))  # hair tie
    canvas.ellipse(cx, 0.42, hw + 0.08, 0.37, colour, outline=ink)  # the dome over the rest


def _neck_and_clothes(canvas, rng, face, skin):
    """Neck in shadow under the chin, and shoulders with a V neckline."""
    cx, hw, chin_y = 0.5, face["half_width"], face["chin_y"]
    neck = hw * 0.4
    canvas.polygon([(cx - neck, face["cheek_y"]), (cx - neck * 1.1, 1.1),
                    (cx + neck * 1.1, 1.1), (cx + neck, face["cheek_y"])], _shade(skin, 0.86))
    clothes = _jitter(rng, CLOTHES_COLOURS[rng.integers(len(CLOTHES_COLOURS))], 10)
    shoulder_y = chin_y + rng.uniform(0.06, 0.1)
    canvas.polygon([(cx - neck * 1.05, chin_y + 0.05), (cx - 0.45, shoulder_y), (cx - 0.7, 1.2),
                    (cx + 0.7, 1.2), (cx + 0.45, shoulder_y), (cx + neck * 1.05, chin_y + 0.05),
                    (cx, chin_y + rng.uniform(0.1, 0.16))], clothes, _shade(clothes, 0.5))


def _face_shape(canvas, face, skin):
    """Round forehead and cheeks narrowing to the pointed anime chin."""
    cx, hw, cheek_y, chin_y = 0.5, face["half_width"], face["cheek_y"], face["chin_y"]
    outline = np.concatenate([
        _arc(cx, cheek_y, hw, cheek_y - 0.18, 180, 360),  # forehead, mostly under the bangs
        _bezier((cx + hw, cheek_y), (cx + hw * 0.92, chin_y - 0.1), (cx, chin_y)),
        _bezier((cx, chin_y), (cx - hw * 0.92, chin_y - 0.1), (cx - hw, cheek_y)),
    ])
    canvas.polygon(outline, skin, _shade(skin, 0.6))


def _blush(canvas, rng, face):
    """Translucent pink ovals on the cheeks."""
    alpha = int(rng.integers(60, 120))
    for side in (-1, 1):
        canvas.ellipse(0.5 + side * 0.15, face["eye_y"] + 0.12, 0.06, 0.022, (240, 100, 120, alpha))


def _eyes(canvas, rng, face, hair):
    """Large eyes: white, dark-rimmed iris lit from below, pupil, highlights, heavy upper lashes."""
    iris = _jitter(rng, IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))], 20)
    lash = _shade(hair, 0.3) if rng.random() < 0.5 else (35, 25, 30)
    spacing = rng.uniform(0.125, 0.145)
    width = rng.uniform(0.065, 0.08)
    height = rng.uniform(0.075, 0.095)
    gaze = rng.uniform(-0.25, 0.25) * width  # both irises look the same way
    eye_y = face["eye_y"]
    for side in (-1, 1):  # -1: the eye on the image's left
        ex = 0.5 + side * spacing
        # the eye white
        canvas.ellipse(ex, eye_y, width, height, (255, 255, 255), outline=(*lash, 100), width=0.006)
        # the iris: dark rim, colour, lighter lower half
        ix, iy, irx, iry = ex + gaze, eye_y + 0.06 * height, 0.74 * width, 0.92 * height
        canvas.ellipse(ix, iy, irx, iry, _shade(iris, 0.45))
        canvas.ellipse(ix, iy, irx * 0.86, iry * 0.88, iris)
        canvas.ellipse(ix, iy + 0.3 * iry, irx * 0.6, iry * 0.45, _shade(iris, 1.45))
        # the pupil
        canvas.ellipse(ix, iy - 0.05 * iry, irx * 0.42, iry * 0.5, _shade(iris, 0.2))
        # shadow of the upper lid across the top of the iris
        canvas.ellipse(ex, eye_y, width, height, (*_shade(iris, 0.3), 110), 200, 340)
        # highlights: a big one up on the light side, a small one low on the other
        canvas.ellipse(ix - 0.4 * irx, iy - 0.4 * iry, 0.3 * irx, 0.26 * iry, (255, 255, 255))
        canvas.ellipse(ix + 0.35 * irx, iy + 0.4 * iry, 0.13 * irx, 0.11 * iry, (255, 255, 255))
        # heavy upper lash line with a flick at the outer corner, thin lower lid
        top = _arc(ex, eye_y, width * 1.05, height * 1.02, 190, 350, steps=16)
        canvas.line(top, lash, 0.022)
        corner = top[-1] if side > 0 else top[0]
        canvas.polygon([corner + (0, -0.012), corner + (side * 0.035, -0.02), corner + (0, 0.02)], lash)
        canvas.line(_arc(ex, eye_y, width * 0.8, height * 1.02, 60, 120, steps=8), _shade(lash, 1.3), 0.008)
        # the eyebrow, thin; the bangs often hide part of it
        brow_y = eye_y - height - rng.uniform(0.025, 0.045)
        canvas.line(_bezier((ex - side * 0.05, brow_y + 0.012), (ex, brow_y - 0.015),
                            (ex + side * 0.065, brow_y + 0.01)), _shade(hair, 0.55), 0.012)


def _nose_and_mouth(canvas, rng, face, skin):
    """A tiny nose stroke and a small mouth: closed smile, open smile or flat line."""
    nose_y = face["eye_y"] + rng.uniform(0.1, 0.13)
    canvas.line([(0.5, nose_y - 0.012), (0.5 + 0.008, nose_y + 0.008)], _shade(skin, 0.72), 0.01)
    mouth_y = (nose_y + face["chin_y"]) / 2 + rng.uniform(-0.02, 0.01)
    width = rng.uniform(0.03, 0.055)
    style = rng.integers(3)
    if style == 0:
        canvas.line(_bezier((0.5 - width, mouth_y), (0.5, mouth_y + 0.025), (0.5 + width, mouth_y)),
                    MOUTH_COLOUR, 0.01)
    elif style == 1:
        depth = rng.uniform(0.03, 0.05)
        canvas.ellipse(0.5, mouth_y - 0.005, width, depth, MOUTH_COLOUR, 0, 180)
        canvas.ellipse(0.5, mouth_y + depth * 0.55, width * 0.6, depth * 0.4, TONGUE_COLOUR, 180, 360)
    else:
        canvas.line([(0.5 - width * 0.6, mouth_y), (0.5 + width * 0.6, mouth_y)], MOUTH_COLOUR, 0.009)


def _front_hair(canvas, rng, face, colour):
    """Hair over the forehead: side locks, a cap ending in bangs, strand lines and a sheen."""
    cx, hw = 0.5, face["half_width"]
    cap_rx, cap_y = hw + 0.05, 0.42
    brow = face["eye_y"] - 0.1  # bang tips hang to about eyebrow level
    left, right = cx - hw - 0.02, cx + hw + 0.02
    ink = _shade(colour, 0.5)

    # side locks framing the cheeks; their roots are hidden under the cap drawn next
    lock_end = face["chin_y"] + rng.uniform(-0.15, 0.12)
    lock_width = rng.uniform(0.05, 0.08)
    for side in (-1, 1):
        outer_x = cx + side * (hw + 0.03)
        inner_x = cx + side * (hw - lock_width)
        tip_x = outer_x - side * 0.03
        canvas.polygon(np.concatenate([
            [[outer_x, 0.3], [inner_x, 0.3]],
            _bezier((inner_x, 0.4), (inner_x - side * 0.01, lock_end - 0.1), (tip_x, lock_end)),
            _bezier((tip_x, lock_end), (outer_x + side * 0.01, 0.6), (outer_x, 0.3)),
        ]), colour, ink)

    # the cap: crown arc, then the bang edge from right to left
    edge = _bang_edge(rng, rng.choice(["spiky", "blunt", "parted", "swept"]), left, right, brow)
    cap = np.concatenate([
        _arc(cx, cap_y, cap_rx, cap_y - 0.05, 180, 360),
        [[right + 0.02, brow + 0.02]],
        edge,
        [[left - 0.02, brow + 0.02]],
    ])
    canvas.polygon(edge + (0.0, 0.025), (*_shade(colour, 0.4), 50))  # shadow the bangs cast on the forehead
    canvas.polygon(cap, colour, ink)

    # strand lines from the bang edge up towards the crown
    strand = (*_shade(colour, 0.6), 150)
    for x, y in edge[:: max(1, len(edge) // 6)]:
        canvas.line(_bezier((x, y - 0.01), (x + (cx - x) * 0.2, y - 0.08), (x + (cx - x) * 0.5, y - 0.18)),
                    strand, 0.007)

    # the "angel ring" sheen across the crown
    ring = np.concatenate([
        _arc(cx, cap_y, cap_rx * 0.88, 0.3, 205, 335, steps=20),
        _arc(cx, cap_y, cap_rx * 0.8, 0.25, 335, 205, steps=20),
    ])
    canvas.polygon(ring, (*_shade(colour, 1.5), 150))


def _bang_edge(rng, style, left, right, brow):
    """(K, 2) points of the lower edge of the bangs, from `right` to `left`, tips near `brow`."""
    cx = (left + right) / 2
    if style == "blunt":  # a straight cut with small teeth
        teeth = rng.integers(8, 14)
        xs = np.linspace(right, left, 2 * teeth + 1)
        ys = np.where(np.arange(xs.size) % 2 == 0, brow - 0.01, brow - 0.035) + rng.uniform(-0.01, 0.01)
        return np.column_stack([xs, ys])
    if style == "parted":  # two curtains swept aside from a parting
        part_x, part_y = cx + rng.uniform(-0.08, 0.08), rng.uniform(0.27, 0.33)
        return np.concatenate([
            _bezier((right, brow + 0.03), (part_x + 0.04, brow + 0.02), (part_x, part_y)),
            _bezier((part_x, part_y), (part_x - 0.04, brow + 0.02), (left, brow + 0.03)),
        ])
    # spiky or swept: pointed locks, swept ones all leaning one way and longer on one side
    locks = rng.integers(5, 8)
    lean = rng.choice([-1, 1]) * rng.uniform(0.03, 0.06) if style == "swept" else 0.0
    points = []
    for k, x in enumerate(np.linspace(right, left, 2 * locks + 1)):
        if k % 2 == 1:  # a tip
            tip_y = brow + rng.uniform(-0.03, 0.03) + lean * (x - cx) * 3
            points.append((x + lean + rng.uniform(-0.01, 0.01), tip_y))
        else:  # a notch between tips
            points.append((x, brow - rng.uniform(0.07, 0.12)))
    return np.asarray(points)


def _accessory(canvas, rng, face):
    """Sometimes a ribbon, a hairclip or a hairband."""
    style = rng.choice(["none", "none", "ribbon", "hairclip", "hairband"])
    colour = _jitter(rng, ACCESSORY_COLOURS[rng.integers(len(ACCESSORY_COLOURS))], 10)
    side = rng.choice([-1, 1])
    hw = face["half_width"]
    if style == "ribbon":  # two triangles and a knot, on top of the head
        bx, by, r = 0.5 + side * rng.uniform(0.12, 0.22), rng.uniform(0.1, 0.16), rng.uniform(0.05, 0.07)
        ink = _shade(colour, 0.55)
        canvas.polygon([(bx, by), (bx - r * 1.6, by - r), (bx - r * 1.6, by + r)], colour, ink)
        canvas.polygon([(bx, by), (bx + r * 1.6, by - r), (bx + r * 1.6, by + r)], colour, ink)
        canvas.ellipse(bx, by, r * 0.45, r * 0.45, _shade(colour, 0.75))
    elif style == "hairclip":  # two parallel bars on the bangs, above one eye
        x, y = 0.5 + side * rng.uniform(0.15, 0.22), face["eye_y"] - rng.uniform(0.2, 0.24)
        for dx in (-0.015, 0.015):
            canvas.line([(x + dx - 0.02, y - 0.04), (x + dx + 0.02, y + 0.04)], colour, 0.014)
    elif style == "hairband":  # a band across the crown
        canvas.line(_arc(0.5, 0.42, hw + 0.055, 0.3, 195, 345, steps=20), colour, 0.03)
