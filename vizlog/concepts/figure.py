"""Matplotlib figures, rendered once to pixels with the Agg canvas (as the writers render
them), whatever matplotlib backend the figure was made with."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from vizlog.concepts.common import where
from vizlog.concepts.image import make_grid
from vizlog.errors import VizlogTypeError, VizlogValueError


def _is_figure(value: Any) -> bool:
    if "matplotlib" not in sys.modules:  # no figure can exist without it; never import it
        return False
    from matplotlib.figure import Figure

    return isinstance(value, Figure)


def figure_pixels(figure: Any, close: Any = True, method: str = "figure") -> np.ndarray:
    """uint8 HWC RGB of one figure, or a grid (8 per row) of a list of same-sized figures.

    Every figure is checked before any is drawn or closed, so a bad call changes nothing.
    """
    if not isinstance(close, bool):
        raise VizlogTypeError(f"{where(method, 'close')}: expected True or False")
    figures = figure if isinstance(figure, list | tuple) else [figure]
    if not figures:
        raise VizlogValueError(f"{where(method, 'figure')}: the list of figures is empty")
    for item in figures:
        if not _is_figure(item):
            raise VizlogTypeError(
                f"{where(method, 'figure')}: expected a matplotlib Figure or a list of them, "
                f"got {type(item).__name__}"
            )
    sizes = {tuple(item.canvas.get_width_height()) for item in figures}
    if len(sizes) > 1:
        raise VizlogValueError(
            f"{where(method, 'figure')}: figures of a list must have one size, got "
            f"{sorted(sizes)}"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pictures = []
    for item in figures:
        canvas = FigureCanvasAgg(item)
        canvas.draw()
        pictures.append(np.array(np.asarray(canvas.buffer_rgba())[..., :3], copy=True))
    if close:
        import matplotlib.pyplot as plt

        for item in figures:
            plt.close(item)
    return make_grid(np.stack(pictures)) if len(pictures) > 1 else pictures[0]
