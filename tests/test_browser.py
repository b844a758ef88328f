"""What you see is what you logged: TensorBoard and Visdom pages in headless Chromium.

One run logs every concept to TensorBoard and Visdom at once; each test opens a page, waits
until it is drawn, and checks what a person would: the cards and windows with their titles,
legends naming the keys, pictures and charts drawn, nothing "No data", no error in the page's
console or the server's output.  Each test saves its screenshot in its temporary folder (and in
``$VIZLOG_SCREENSHOTS``: ``make screenshots`` puts them in docs/ for the README).

Skipped, with how to install it, where Chromium or playwright is missing; ``.ci/run``
installs both and sets ``VIZLOG_REQUIRE_BROWSER=1``, which makes a missing browser fail.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import viewer_pages as vp

import vizlog
from vizlog import servers

pytestmark = pytest.mark.timeout(240)


def _unavailable(reason: str) -> None:
    if os.environ.get(vp.REQUIRE) or os.environ.get(vp.SCREENSHOTS):
        pytest.fail(reason)
    pytest.skip(reason)


def test_without_chromium_the_reason_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("VIZLOG_CHROMIUM", str(tmp_path / "no-such-chromium"))
    reason = vp.missing()
    assert reason and "apt-get install -y chromium" in reason and "playwright" in reason


@dataclass
class Viewers:
    tensorboard: servers.Server
    visdom: servers.Server
    env: str
    logdir: Path


@pytest.fixture(scope="module")
def viewers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewers]:
    """TensorBoard and Visdom on 127.0.0.1, showing one run with every concept."""
    reason = vp.missing()
    if reason:
        _unavailable(reason)
    pytest.importorskip("torch")
    pytest.importorskip("visdom")
    root = tmp_path_factory.mktemp("viewers")
    env = "demo"  # the server is this module's own
    with servers.serve("visdom", port=0, env_path=root / "visdom-env") as visdom:
        logdir = root / "logs" / "demo"
        with vizlog.Logger(["tensorboard", "visdom"], logdir=logdir, server=visdom.url,
                           env=env) as log:
            vp.log_every_concept(log)
        with servers.serve("tensorboard", logdir=root / "logs", port=0) as tensorboard:
            yield Viewers(tensorboard, visdom, env, logdir)
            assert not vp.server_problems(tensorboard.output()), tensorboard.output()
        assert not vp.server_problems(visdom.output()), visdom.output()


@pytest.fixture(scope="module")
def open_page(viewers: Viewers) -> Iterator[Callable[[str], vp.Page]]:
    with vp.browser() as opener:
        yield opener


def _quiet(page: vp.Page) -> None:
    assert page.errors == [], page.errors


def _rgb(color: str) -> tuple[int, ...]:
    if color.startswith("#"):
        return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(int(v) for v in re.findall(r"\d+", color)[:3])


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _count(pixels: np.ndarray, color: tuple[int, ...], tolerance: int = 40) -> int:
    return int((np.abs(pixels - np.array(color)).max(axis=2) <= tolerance).sum())


# -------------------------------------------------------------------------------- TensorBoard


def _tensorboard(open_page, viewers: Viewers, dashboard: str) -> vp.Page:
    page = open_page(f"{viewers.tensorboard.url}#{dashboard}")
    page.wait_for(lambda: "No dashboards are active" not in page.text(), "TensorBoard's UI")
    return page


def test_landing_page_has_one_card_per_scalars_main_tag_with_a_line_per_key(
    open_page, viewers, tmp_path
):
    """TIME SERIES: a ``loss`` card with a ``train`` and a ``val`` line in two colours, named
    in the card's table; no ``loss/train`` card."""
    page = _tensorboard(open_page, viewers, "timeseries")
    tab = page.page
    tab.set_viewport_size({"width": 1400, "height": 1250})

    def group(name: str):
        title = tab.locator(".group-title", has_text=re.compile(rf"^\s*{name}\s*$"))
        return tab.locator("button.group-toolbar", has=title)

    # TensorBoard opens the first two groups (accuracy, digits): look at loss instead
    tab.locator("button[aria-label='Close side pane']").click()
    group("digits").click()
    group("loss").click()
    card = tab.locator("card-view", has=tab.locator("tb-truncated-path[title='loss']"))
    rows = card.locator("tb-data-table-content-row")
    page.wait_for(lambda: rows.count() == 2, "the loss card's table")
    names = [row.inner_text().split()[0] for row in rows.all()]
    assert names == ["demo/train", "demo/val"]
    colors = [_rgb(row.locator(".row-circle span").evaluate("e => e.style.backgroundColor"))
              for row in rows.all()]
    assert colors[0] != colors[1]

    def drawn() -> list[int]:
        chart = _pixels(card.locator("canvas").first.screenshot())
        return [_count(chart, color) for color in colors]

    page.wait_for(lambda: min(drawn()) > 50, f"a {names[0]} and a {names[1]} line in {colors}")
    group("accuracy").scroll_into_view_if_needed()
    vp.save_screenshot(page, tmp_path / "tensorboard-time-series.png")
    groups = [t.strip() for t in tab.locator("button.group-toolbar .group-title").all_inner_texts()]
    assert sorted(groups) == ["accuracy", "digits", "loss", "lr", "one digit", "weights"]
    _quiet(page)


def test_scalars_dashboard_one_card_per_main_tag(open_page, viewers, tmp_path):
    page = _tensorboard(open_page, viewers, "scalars")
    page.wait_for(lambda: any(c["tag"] == "loss" and len(c["strokes"]) == 2
                              for c in page.cards("tf-scalar-card")), "the loss card's lines")
    vp.save_screenshot(page, tmp_path / "tensorboard-scalars.png")
    cards = {c["tag"]: c for c in page.cards("tf-scalar-card")}
    assert "loss/train" not in cards and {"loss", "accuracy"} <= set(cards)
    loss = cards["loss"]
    assert loss["runs"] == ["demo/train", "demo/val"]
    # each key's line is drawn in the colour the run list shows for it
    colors = page.run_colors()
    assert {"demo/train", "demo/val"} <= set(colors)
    assert {_rgb(colors[run]) for run in loss["runs"]} == {_rgb(c) for c in loss["strokes"]}
    _quiet(page)


def test_images_dashboard_shows_both_pictures(open_page, viewers, tmp_path):
    page = _tensorboard(open_page, viewers, "images")
    page.wait_for(lambda: len([c for c in page.cards("tf-image-loader") if c["images"]]) == 2,
                  "two pictures")
    vp.save_screenshot(page, tmp_path / "tensorboard-images.png")
    pictures = {c["tag"]: c["images"][0] for c in page.cards("tf-image-loader")}
    assert pictures == {"digits": [8 * 8, 2 * 8], "one digit": [8, 8]}  # as the writers store
    _quiet(page)


def test_histograms_and_distributions_are_drawn(open_page, viewers, tmp_path):
    for dashboard, element in (("histograms", "vz-histogram-timeseries"),
                               ("distributions", "vz-distribution-chart")):
        page = _tensorboard(open_page, viewers, dashboard)
        page.wait_for(lambda page=page, element=element: any(
            c["paths"] >= 3 for c in page.cards(element)), f"the {dashboard} chart")
        vp.save_screenshot(page, tmp_path / f"tensorboard-{dashboard}.png")
        assert "weights" in page.deep_text()
        _quiet(page)


def test_graph_pr_curve_and_text_dashboards(open_page, viewers, tmp_path):
    page = _tensorboard(open_page, viewers, "graphs")
    page.wait_for(lambda: "Sequential" in page.deep_text(), "the model's graph")
    assert "No graph definition files were found" not in page.deep_text()
    page.page.locator("g.node", has_text="Sequential").first.dblclick()  # open the model
    page.wait_for(lambda: "Sequential[featu" in page.deep_text()  # labels are shortened
                  and "Sequential[class" in page.deep_text(), "the model's two blocks")
    page.page.get_by_text("Fit to screen").click()
    page.page.wait_for_timeout(1500)  # the zoom is animated
    vp.save_screenshot(page, tmp_path / "tensorboard-graphs.png")
    _quiet(page)

    page = _tensorboard(open_page, viewers, "pr_curves")
    page.wait_for(lambda: any(c["tag"] == "is seven" and c["strokes"]
                              for c in page.cards("tf-pr-curve-card")), "the PR curve")
    vp.save_screenshot(page, tmp_path / "tensorboard-pr-curves.png")
    _quiet(page)

    page = _tensorboard(open_page, viewers, "text")
    page.wait_for(lambda: "lr halves every 10 steps" in page.deep_text(), "the note")
    assert "<b>tags</b> are shown as logged" in page.deep_text()  # text, not markup
    vp.save_screenshot(page, tmp_path / "tensorboard-text.png")
    _quiet(page)


def test_projector_shows_the_embedding(open_page, viewers, tmp_path):
    page = _tensorboard(open_page, viewers, "projector")
    page.wait_for(lambda: "Points: 200" in page.deep_text()
                  and "Total variance described" in page.deep_text(), "the projection", 90)
    assert "Dimension: 64" in page.deep_text()
    vp.save_screenshot(page, tmp_path / "tensorboard-projector.png")
    _quiet(page)


# ------------------------------------------------------------------------------------- Visdom


def _visdom_windows(page: vp.Page) -> dict[str, dict]:
    return {w["title"]: w for w in page.page.evaluate(_WINDOWS)}


_WINDOWS = """() => [...document.querySelectorAll('.window')].map((w) => {
  const box = (e) => e && e.getBoundingClientRect().toJSON();
  const img = w.querySelector('img.content-image');
  const text = w.querySelector('.content-text');
  const plot = w.querySelector('.js-plotly-plot');
  return {
    title: w.querySelector('.bar > .pull-right:last-child').innerText,
    box: box(w),
    content: ((c) => c && {client: c.clientHeight, scroll: c.scrollHeight})(
      w.querySelector('.content')),
    text: text && {client: text.clientHeight, scroll: text.scrollHeight, html: text.innerText},
    image: img && {natural: [img.naturalWidth, img.naturalHeight], box: box(img)},
    caption: box(w.querySelector('.widgets')),
    legend: plot && [...plot.querySelectorAll('.legendtext')].map((e) => e.textContent),
    data: plot && plot.data && plot.data.map((t) => ({name: t.name, x: t.x, y: t.y})),
    bars: plot && [...plot.querySelectorAll('.barlayer .point path')].map(box),
    zero: plot && [...plot.querySelectorAll('.xtick text')].filter(
      (t) => t.textContent === '0').map(box)[0],
  };
})"""

VISDOM_TITLES = {
    "lr", "loss", "accuracy", "weights (step 20)", "weights (distribution over steps)",
    "digits", "one digit", "digits (step 30, PCA 2-D)", "graph (module tree)",
    "is seven (AP {ap} at step 30)", "notes",
}


@pytest.fixture(scope="module")
def visdom_page(viewers: Viewers, open_page) -> vp.Page:
    from vizlog.servers.visdom_assets import FETCH_COMMAND, missing_assets

    if missing_assets():
        _unavailable(f"Visdom's web assets are not installed; fetch them with {FETCH_COMMAND}")
    page = open_page(f"{viewers.visdom.url}env/{viewers.env}")
    page.wait_for(lambda: len(_visdom_windows(page)) == len(VISDOM_TITLES), "every window")
    page.wait_for(lambda: all(w["image"]["natural"][0] for w in _visdom_windows(page).values()
                              if w["image"]), "the pictures")
    return page


def test_visdom_every_window_with_its_title_and_legend(visdom_page, viewers, tmp_path):
    vp.save_screenshot(visdom_page, tmp_path / "visdom.png", full_page=True)
    windows = _visdom_windows(visdom_page)
    (pr_title,) = [t for t in windows if t.startswith("is seven")]
    expected = {t for t in VISDOM_TITLES if not t.startswith("is seven")} | {pr_title}
    assert set(windows) == expected
    assert windows["loss"]["legend"] == ["train", "val"]
    assert windows["accuracy"]["legend"] == ["train", "val"]
    for title, window in windows.items():
        if window["data"] is not None:
            assert all(len(trace["x"]) for trace in window["data"]), title
    _quiet(visdom_page)


def test_visdom_histogram_bars_are_equal_and_symmetric(visdom_page):
    """A normal sample looks symmetric: equal-width bars, heights mirrored about zero."""
    window = _visdom_windows(visdom_page)["weights (step 20)"]
    bars = window["bars"]
    assert len(bars) >= 20
    widths = [b["width"] for b in bars]
    assert max(widths) - min(widths) <= 1.0  # pixels (plotly rounds each bar to whole pixels)
    zero = window["zero"]["x"] + window["zero"]["width"] / 2
    centres = np.array([b["x"] + b["width"] / 2 - zero for b in bars])
    heights = np.array([b["height"] for b in bars])
    order = np.argsort(centres)
    centres, heights = centres[order], heights[order]
    assert abs(centres[np.argmax(heights)]) < 3 * widths[0]
    span = min(-centres[0], centres[-1]) * 0.8
    xs = np.linspace(0, span, 12)
    mirrored = np.abs(np.interp(xs, centres, heights) - np.interp(-xs, centres, heights))
    assert mirrored.max() < 0.12 * heights.max(), (centres.tolist(), heights.tolist())


def test_visdom_image_grid_has_gaps_and_fits_its_window(visdom_page, tmp_path):
    windows = _visdom_windows(visdom_page)
    for title in ("digits", "one digit"):
        window = windows[title]
        image, box, caption = window["image"]["box"], window["box"], window["caption"]
        # all of it inside the window, above the caption that covers the window's bottom
        assert box["y"] < image["y"] and image["y"] + image["height"] <= caption["y"], title
        assert box["x"] <= image["x"] and image["x"] + image["width"] <= box["x"] + box[
            "width"] + 1, title
        assert window["image"]["natural"][0] == pytest.approx(image["width"], abs=1), title
    assert min(windows["one digit"]["image"]["box"]["width"],
               windows["one digit"]["image"]["box"]["height"]) >= 150  # readable, not a sliver
    grid = visdom_page.page.locator(".window", has_text="digits, step 30").locator(
        "img.content-image")
    # the page draws the picture one pixel wider than its window: that column is the page
    pixels = _pixels(grid.screenshot(path=str(tmp_path / "visdom-grid.png")))[:, :-1]
    white_rows = np.flatnonzero(pixels.min(axis=(1, 2)) > 200)
    white_cols = np.flatnonzero(pixels.min(axis=(0, 2)) > 200)
    # runs of white between the pictures: 2 rows of 8, so 3 bands across and 9 down
    assert len(np.split(white_rows, np.flatnonzero(np.diff(white_rows) > 1) + 1)) >= 3
    assert len(np.split(white_cols, np.flatnonzero(np.diff(white_cols) > 1) + 1)) >= 9


def test_visdom_pr_curve_ends_where_tensorboard_ends(visdom_page):
    (window,) = [w for t, w in _visdom_windows(visdom_page).items() if t.startswith("is seven")]
    (trace,) = window["data"]
    assert (trace["x"][-1], trace["y"][-1]) != (0, 0)
    assert min(trace["y"]) > 0.3  # never down to precision 0


def test_visdom_module_tree_needs_no_scrolling(visdom_page):
    window = _visdom_windows(visdom_page)["graph (module tree)"]
    assert window["text"]["scroll"] <= window["text"]["client"]
    assert window["content"]["scroll"] <= window["content"]["client"]
    for line in ("(model)", "features (Sequential, 1,264 params)", "Conv2d, 80 params",
                 "classifier (Sequential, 8,554 params)", "Linear, 330 params"):
        assert line in window["text"]["html"]
