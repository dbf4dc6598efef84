"""Text on pictures with PIL's default font: instance labels placed so they do not overlap,
and a legend strip of colour swatches."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Minimum visible pixels of an instance for it to get a label in a view.
MIN_LABEL_PIXELS = 12


@functools.cache
def font(size: int = 14) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's default font at ``size`` pixels (the bitmap default where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def text_size(draw: ImageDraw.ImageDraw, text: str, size: int = 14) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font(size))
    return int(right - left), int(bottom - top)


@dataclass(frozen=True)
class Label:
    """A text anchored at pixel ``(x, y)`` of a picture, drawn on a box of ``color``."""

    text: str
    x: int
    y: int
    color: tuple[int, int, int]


def visible_anchors(owner_at_pixel: np.ndarray, count: int,
                    min_pixels: int = MIN_LABEL_PIXELS) -> dict[int, tuple[int, int]]:
    """``{instance: (x, y)}``: for every instance covering at least ``min_pixels`` pixels of
    ``owner_at_pixel`` ``(H, W)`` (instance per pixel, −1: none), the visible pixel nearest to
    the centroid of its visible pixels (inside the instance even when it is not convex)."""
    anchors: dict[int, tuple[int, int]] = {}
    ys, xs = np.nonzero(owner_at_pixel >= 0)
    owners = owner_at_pixel[ys, xs]
    order = np.argsort(owners, kind="stable")
    ys, xs, owners = ys[order], xs[order], owners[order]
    starts = np.searchsorted(owners, np.arange(count + 1))
    for k in range(count):
        a, b = starts[k], starts[k + 1]
        if b - a < min_pixels:
            continue
        x, y = xs[a:b], ys[a:b]
        best = int(np.argmin((x - x.mean()) ** 2 + (y - y.mean()) ** 2))
        anchors[k] = (int(x[best]), int(y[best]))
    return anchors


def _text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    lum = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if lum > 150 else (255, 255, 255)


def draw_labels(image: Image.Image, labels: Sequence[Label], size: int = 13) -> None:
    """Draw ``labels`` on ``image``: a dot at each anchor and the text on a box of the
    instance's colour centred above it, moved up or down (with a leader line) where it would
    overlap a label already drawn."""
    draw = ImageDraw.Draw(image)
    placed: list[tuple[int, int, int, int]] = []
    w, h = image.size
    for label in labels:
        tw, th = text_size(draw, label.text, size)
        bw, bh = tw + 6, th + 6
        x0 = int(np.clip(label.x - bw // 2, 0, max(w - bw, 0)))
        box = None
        for step in (0, -1, 1, -2, 2, -3, 3, -4, 4):
            y0 = int(np.clip(label.y - bh - 4 + step * (bh + 2), 0, max(h - bh, 0)))
            candidate = (x0, y0, x0 + bw, y0 + bh)
            if not any(_overlap(candidate, other) for other in placed):
                box = candidate
                break
        if box is None:
            continue  # no room: skip rather than cover another label
        placed.append(box)
        draw.line([(label.x, label.y), (box[0] + bw // 2, box[3] if box[3] <= label.y
                                        else box[1])], fill=(0, 0, 0), width=1)
        draw.ellipse([label.x - 3, label.y - 3, label.x + 3, label.y + 3], fill=label.color,
                     outline=(0, 0, 0))
        draw.rectangle(box, fill=label.color, outline=(0, 0, 0))
        draw.text((box[0] + 3, box[1] + 3), label.text, fill=_text_color(label.color),
                  font=font(size), anchor="lt")


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def legend_strip(entries: Sequence[tuple[tuple[int, int, int], str]], width: int,
                 size: int = 13) -> Image.Image:
    """A white strip ``width`` pixels wide holding a swatch and a text per entry, wrapped
    into as many rows as needed."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_h = text_size(probe, "Ag", size)[1] + 10
    cells, x, y = [], 8, 6
    for color, text in entries:
        cell_w = 18 + text_size(probe, text, size)[0] + 16
        if x + cell_w > width - 8 and x > 8:
            x, y = 8, y + row_h
        cells.append((x, y, color, text))
        x += cell_w
    strip = Image.new("RGB", (width, y + row_h + 4), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for x, y, color, text in cells:
        draw.rectangle([x, y + 2, x + 12, y + 14], fill=color, outline=(0, 0, 0))
        draw.text((x + 18, y + 1), text, fill=(0, 0, 0), font=font(size), anchor="lt")
    return strip


def caption(text: str, width: int, size: int = 15, background=(245, 245, 245)) -> Image.Image:
    """A one-line strip with ``text``."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    strip = Image.new("RGB", (width, text_size(probe, "Ag", size)[1] + 12), background)
    ImageDraw.Draw(strip).text((8, 6), text, fill=(0, 0, 0), font=font(size), anchor="lt")
    return strip


def stack_vertically(parts: Sequence[Image.Image]) -> Image.Image:
    """Pictures one below the other, left-aligned, on white."""
    width = max(p.width for p in parts)
    out = Image.new("RGB", (width, sum(p.height for p in parts)), (255, 255, 255))
    y = 0
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return out


def side_by_side(parts: Sequence[Image.Image], gap: int = 6) -> Image.Image:
    """Pictures next to each other, top-aligned, on white."""
    height = max(p.height for p in parts)
    out = Image.new("RGB", (sum(p.width for p in parts) + gap * (len(parts) - 1), height),
                    (255, 255, 255))
    x = 0
    for part in parts:
        out.paste(part, (x, 0))
        x += part.width + gap
    return out
