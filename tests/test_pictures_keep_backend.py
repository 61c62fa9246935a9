"""Picture files are drawn on bare matplotlib Figures: no library call switches the user's backend
(matplotlib.use would blank a notebook's inline plots) or leaves figures in pyplot's global state."""
import re
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.image import imread

from disentax.evaluation.cross_domain import variance_heatmap
from disentax.runner.sweep_scores import plot_distributions, plot_rank_correlation

SOURCES = Path(__file__).resolve().parents[1] / "disentax"


def test_no_library_module_switches_the_backend_or_imports_pyplot():
    offenders = [f"{p.relative_to(SOURCES.parent)}:{i}" for p in sorted(SOURCES.rglob("*.py"))
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"matplotlib\.use\(|import matplotlib\.pyplot|from matplotlib import pyplot", line)]
    assert offenders == []


@pytest.fixture
def svg_backend():
    """A backend other than Agg that needs no display; the previous one comes back afterwards."""
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        yield "svg"
    finally:
        matplotlib.use(before)


def _size(width_in: float, height_in: float, dpi: int) -> tuple[int, int]:
    """(rows, columns) of a figure saved at `dpi`: matplotlib truncates inches × dpi to whole pixels, after
    adding 1e-8 against a floating-point tick below an integer (FigureCanvasBase.get_width_height)."""
    return int(height_in * dpi + 1e-8), int(width_in * dpi + 1e-8)


def _pixels(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path)


def _share_of(colour, image: np.ndarray) -> float:
    """Fraction of pixels within 2/255 of `colour` (RGB) in each channel."""
    return float(np.all(np.abs(image[..., :3] - np.asarray(colour)[:3]) <= 2 / 255, axis=-1).mean())


def test_pictures_keep_the_backend_and_have_their_size_and_colours(svg_backend, tmp_path):
    plt_fignums = sys.modules["matplotlib.pyplot"].get_fignums() if "matplotlib.pyplot" in sys.modules else None

    # Every ratio 0.6 on the colour scale [0, 1.2]: the cells are viridis' middle colour.
    k, d = 4, 5
    path = variance_heatmap(tmp_path / "heat.png", np.full((k, d), 0.6), [f"z{j}" for j in range(d)], "ratios")
    image = _pixels(path)
    assert image.shape[:2] == _size(0.38 * d + 2.2, 0.32 * k + 1.6, 100)
    assert _share_of(matplotlib.colormaps["viridis"](0.5), image) > 0.2

    # Two grid points with three seeds each; "b" = 2a + 1 and "c" = -a rank the members alike (ρ = 1) and
    # oppositely (ρ = -1).
    members = [{"model.beta": beta, "seed": s} for beta in (1.0, 4.0) for s in range(3)]
    a = [0.1, 0.3, 0.2, 0.6, 0.5, 0.9]
    table = [{"a": x, "b": 2 * x + 1, "c": -x} for x in a]
    columns = ["a", "b", "c"]
    path = plot_distributions(table, members, columns, tmp_path / "dist.png")
    image = _pixels(path)
    width = max(3.2, 0.9 * 2 + 1.6) * 3
    assert image.shape[:2] == _size(width, 3.0, 110)
    assert image[..., :3].std() > 0

    path = plot_rank_correlation(table, columns, tmp_path / "rho.png")
    image = _pixels(path)
    size = 1.0 + 0.55 * len(columns)
    assert image.shape[:2] == _size(size + 1.5, size, 110)
    rd_bu = matplotlib.colormaps["RdBu_r"]
    # Five cells of ρ = 1 (the diagonal and a-b) and four of ρ = -1, each mostly its colour under the label.
    assert _share_of(rd_bu(1.0), image) > 1.1 * _share_of(rd_bu(0.0), image) > 0.05

    assert matplotlib.get_backend() == svg_backend
    if plt_fignums is not None:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == plt_fignums
