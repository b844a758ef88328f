"""Custom scalar charts: ``{category: {title: ["Multiline" | "Margin", [tags]]}}``, as the
writers' ``add_custom_scalars`` takes them, checked once into an immutable layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vizlog.concepts.common import check_tag, where
from vizlog.errors import VizlogTypeError, VizlogValueError

CHART_KINDS = {"multiline": "Multiline", "margin": "Margin"}

Layout = tuple[tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...]


def check_layout(layout: Any, method: str = "custom_scalars") -> Layout:
    arg = where(method, "layout")
    if not isinstance(layout, Mapping) or not layout:
        raise VizlogTypeError(
            f"{arg}: expected a non-empty dict {{category: {{title: [kind, [tags]]}}}}, got "
            f"{type(layout).__name__}"
        )
    categories = []
    for category, charts in layout.items():
        check_tag(category, method, "layout")
        if not isinstance(charts, Mapping) or not charts:
            raise VizlogTypeError(f"{arg}: category {category!r} must map titles to charts")
        rows = []
        for title, chart in charts.items():
            check_tag(title, method, "layout")
            if (not isinstance(chart, Sequence) or isinstance(chart, str) or len(chart) != 2
                    or not isinstance(chart[0], str)):
                raise VizlogTypeError(
                    f"{arg}: chart {title!r} must be [\"Multiline\" or \"Margin\", [tags]]"
                )
            kind = CHART_KINDS.get(chart[0].lower())
            if kind is None:
                raise VizlogValueError(
                    f"{arg}: chart {title!r} is of unknown kind {chart[0]!r}; expected "
                    "'Multiline' or 'Margin'"
                )
            tags = chart[1]
            if isinstance(tags, str) or not isinstance(tags, Sequence) or not tags:
                raise VizlogTypeError(f"{arg}: chart {title!r} needs a non-empty list of tags")
            for tag in tags:
                check_tag(tag, method, "layout")
            if kind == "Margin" and len(tags) != 3:
                raise VizlogValueError(
                    f"{arg}: Margin chart {title!r} needs exactly 3 tags (value, lower, upper), "
                    f"got {len(tags)}"
                )
            rows.append((title, kind, tuple(tags)))
        categories.append((category, tuple(rows)))
    return tuple(categories)


def layout_dict(layout: Layout) -> dict[str, dict[str, list[Any]]]:
    """Back to the writers' dict form (what their ``custom_scalars`` summary takes)."""
    return {cat: {title: [kind, list(tags)] for title, kind, tags in charts}
            for cat, charts in layout}
