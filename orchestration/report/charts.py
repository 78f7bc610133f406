"""Chart helpers: matplotlib on the Agg backend (no display), PNG files named by content."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PROMOTER = "#1a9850"
PASSIVE = "#bdbdbd"
DETRACTOR = "#d73027"
LINE_30 = "#2c7fb8"
LINE_90 = "#253494"
BAND = "#a6bddb"
LOW_SAMPLE = "#969696"
LOW_SAMPLE_HATCH = "////"

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "bold",
        "figure.dpi": 100,
    }
)


def new_figure(width: float, height: float) -> Figure:
    # Figure() rather than pyplot: nothing global to leak between renders (or threads)
    return Figure(figsize=(width, height), layout="constrained")


def save_png(figure: Figure, directory: Path, stem: str) -> str:
    """Write the figure as `<stem>-<hash>.png` in `directory`; returns the file name.

    The name follows the content, so a page and the images it names always belong together even
    while a newer render is being swapped in."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    data = buffer.getvalue()
    name = f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}.png"
    (directory / name).write_bytes(data)
    return name


def label(text: object) -> str:
    """Data text made safe for matplotlib, where `$` would start a formula."""
    return str(text).replace("$", r"\$")
