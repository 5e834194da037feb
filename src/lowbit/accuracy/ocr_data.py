"""Synthetic text lines for the OCR study: rendered at run time, degraded like a camera would.

Lines are drawn with the fonts matplotlib ships (DejaVu Sans, Serif, Mono and their bold and
italic styles) through matplotlib's FreeType wrapper, from a fixed word list and a seeded
generator, so the ground truth is known and every run makes the same images.  Degradations:
perspective warp and small rotation, Gaussian blur, low contrast, Gaussian noise, JPEG.
Preprocessing is PP-OCR's recogniser input: height 48, aspect kept (width capped), scaled to
[-1, 1], padded on the right with zeros to a fixed width.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np

# A fixed vocabulary: common English words, names, numbers and punctuated tokens of the kind
# printed on documents (the recogniser's dictionary covers ASCII; the ground truth is ASCII).
WORDS = tuple("""
the of and to in is was for on are with as his they be at one have this from or had by hot
word but what some we can out other were all there when up use your how said an each she
which do their time if will way about many then them write would like so these her long
make thing see him two has look more day could go come did number sound no most people my
over know water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good me give
our under name very through just form sentence great think say help low line differ turn
cause much mean before move right boy old too same tell does set three want air well also
play small end put home read hand port large spell add even land here must big high such
follow act why ask men change went light kind off need house picture try us again animal
point mother world near build self earth father head stand own page should country found
answer school grow study still learn plant cover food sun four between state keep eye never
last let thought city tree cross farm hard start might story saw far sea draw left late run
Passport Name Surname Date Birth Place Issue Expiry Nationality Number Card Driver License
Republic Kingdom Street Avenue Road Total Amount Invoice Receipt Price Tax Order Station
London Paris Berlin Madrid Moscow Tokyo Boston Denver Quebec Sydney Geneva Vienna Prague
Alice Robert Maria John Elena Peter Anna David Laura Michael Sofia James Olga Thomas Ivan
2024 1987 15.06.1990 03/12 No.7 #4521 $19.99 10:45 A-113 12,500 98% 0.75 km (C) Ltd. Inc.
""".split())

FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
)

HEIGHT = 48  # PP-OCR recogniser input height


@dataclass(frozen=True)
class LineSetConfig:
    """What fixes a line set: its size, seed, text lengths and the recogniser input width."""

    lines: int
    seed: int
    min_words: int = 2
    max_words: int = 4
    max_chars: int = 20  # keeps most lines inside the fixed input width
    width: int = 320  # PP-OCR's default recogniser input: 3 x 48 x 320
    version: int = 1  # bump when rendering or degradation changes


def font_paths() -> list[str]:
    """Absolute paths of the DejaVu fonts matplotlib ships (all twelve must be there)."""
    from pathlib import Path

    import matplotlib

    base = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = [base / f for f in FONT_FILES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"matplotlib's fonts are missing {missing} under {base}")
    return [str(p) for p in paths]


def random_text(rng: np.random.Generator, cfg: LineSetConfig) -> str:
    while True:
        n = int(rng.integers(cfg.min_words, cfg.max_words + 1))
        words = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), n)]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        text = " ".join(words)
        if len(text) <= cfg.max_chars:
            return text


def render(text: str, font_path: str, size_px: float) -> np.ndarray:
    """Anti-aliased glyph coverage (uint8, 255 = ink) of one line, tight box plus a margin."""
    from matplotlib.ft2font import LoadFlags, FT2Font

    font = FT2Font(font_path)
    font.set_size(size_px, 72)  # points at 72 dpi = pixels
    font.set_text(text, 0.0, flags=LoadFlags.DEFAULT)
    font.draw_glyphs_to_bitmap(antialiased=True)
    img = np.asarray(font.get_image())
    rows, cols = np.nonzero(img)
    img = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    m = max(2, int(0.25 * img.shape[0]))
    return np.pad(img, ((m, m), (m, m)))


def _warp(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small rotation (+-2 degrees) and a perspective tilt (up to 6% of the height)."""
    from scipy import ndimage

    h, w = ink.shape
    angle = np.deg2rad(rng.uniform(-2.0, 2.0))
    tilt = rng.uniform(-0.06, 0.06)  # perspective: the scale changes along x
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = w / 2.0, h / 2.0
    scale = 1.0 + tilt * (xs - cx) / w
    u, v = (xs - cx), (ys - cy) * scale
    src_x = cx + np.cos(angle) * u - np.sin(angle) * v
    src_y = cy + np.sin(angle) * u + np.cos(angle) * v
    return ndimage.map_coordinates(ink.astype(np.float64), [src_y, src_x], order=1, cval=0.0)


def degrade(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera-like RGB uint8 image of the ink: warp, colours, contrast, blur, noise, JPEG."""
    from PIL import Image
    from scipy import ndimage

    cover = _warp(ink, rng) / 255.0
    cover = ndimage.gaussian_filter(cover, rng.uniform(0.3, 1.3))
    contrast = rng.uniform(0.25, 1.0)  # low contrast: ink close to the paper
    paper = rng.uniform(150, 250, 3)
    ink_rgb = paper * (1.0 - contrast) + rng.uniform(0, 60, 3) * contrast
    c = cover[..., None]
    img = paper[None, None, :] * (1.0 - c) + ink_rgb[None, None, :] * c
    img += rng.normal(0.0, rng.uniform(2.0, 12.0), img.shape)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(25, 80)))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def preprocess(img: np.ndarray, width: int = 320) -> np.ndarray:
    """PP-OCR recogniser input: (3, 48, width) float32 in [-1, 1], aspect kept, zero padded."""
    from PIL import Image

    h, w = img.shape[:2]
    new_w = min(width, int(np.ceil(HEIGHT * w / h)))
    resized = np.asarray(Image.fromarray(img).resize((new_w, HEIGHT), Image.BILINEAR),
                         np.float32)
    out = np.zeros((3, HEIGHT, width), np.float32)
    out[:, :, :new_w] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return out


def make_lines(cfg: LineSetConfig) -> tuple[np.ndarray, list[str], list[dict]]:
    """(inputs (n, 3, 48, width) float32, ground-truth texts, per-line rendering details)."""
    rng = np.random.default_rng(cfg.seed)
    fonts = font_paths()
    x = np.empty((cfg.lines, 3, HEIGHT, cfg.width), np.float32)
    texts, meta = [], []
    for i in range(cfg.lines):
        text = random_text(rng, cfg)
        f = int(rng.integers(0, len(fonts)))
        ink = render(text, fonts[f], float(rng.uniform(24, 40)))
        img = degrade(ink, rng)
        x[i] = preprocess(img, cfg.width)
        texts.append(text)
        meta.append({"font": FONT_FILES[f], "aspect": round(img.shape[1] / img.shape[0], 2),
                     "width": min(cfg.width, int(np.ceil(HEIGHT * img.shape[1] / img.shape[0])))})
    return x, texts, meta


def config_dict(cfg: LineSetConfig) -> dict:
    return asdict(cfg)


def batches(meta: list[dict], size: int, step: int = 8) -> list[tuple[np.ndarray, int]]:
    """(line indices, input width) batches: lines sorted by width, each batch cropped to its
    widest line rounded up to `step` (PP-OCR batches lines of similar aspect the same way;
    the zero padding beyond a line is what its own fixed-width input would hold)."""
    order = np.argsort([m["width"] for m in meta], kind="stable")
    out = []
    for i in range(0, len(order), size):
        idx = order[i:i + size]
        w = max(meta[j]["width"] for j in idx)
        out.append((idx, int(-(-w // step) * step)))
    return out
