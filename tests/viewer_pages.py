"""Both viewers as a person sees them: a run with every concept, and headless Chromium.

Used by ``tests/test_browser.py`` and, through it, by ``make screenshots`` (which sets
``VIZLOG_SCREENSHOTS`` to the folder the README's pictures live in), so the pictures in the
README are the pages the tests check.

Chromium is Debian's ``chromium`` package driven by playwright; nothing downloads a browser.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

INSTALL_HINT = (
    "the browser tests need Chromium and playwright: `apt-get install -y chromium` (Debian/"
    "Ubuntu, as root) and `pip install playwright` (in the dev extra); playwright's own browser "
    "download is not needed.  Set VIZLOG_CHROMIUM to use another Chromium binary."
)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Set by ``.ci/run`` and ``make screenshots``: a missing browser fails instead of skipping.
REQUIRE = "VIZLOG_REQUIRE_BROWSER"
#: A folder to copy each test's screenshot into (``make screenshots``: docs/).
SCREENSHOTS = "VIZLOG_SCREENSHOTS"

STEPS = 30
KEYS = ("train", "val")
GRID = 16


def chromium() -> str | None:
    """The Chromium binary to drive, or None."""
    configured = os.environ.get("VIZLOG_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed; " + INSTALL_HINT
    if chromium() is None:
        return "no Chromium found; " + INSTALL_HINT
    return None


# ------------------------------------------------------------------------------------- the run


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (shipped with it, nothing downloaded): images 0-1, labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target


def log_every_concept(log: Any) -> None:
    """What a short training run logs, every concept once or more, the same on every backend.

    Curves that a person recognises (a falling loss, val above train), a normal weight
    histogram that widens, a batch of 16 digits and a single one, digits as an embedding, a
    small CNN's graph, a PR curve and a note.
    """
    import torch

    images, labels = digits()
    rng = np.random.default_rng(0)
    for step in range(STEPS):
        decay = np.exp(-step / 8)
        log.scalar("lr", 0.1 * (0.5 ** (step // 10)), step)
        log.scalars("loss", {"train": 0.1 + 2 * decay, "val": 0.3 + 2 * decay}, step)
        log.scalars("accuracy", {"train": 1 - 0.9 * decay, "val": 0.95 - 0.9 * decay}, step)
        if step % 10 == 0:
            log.histogram("weights", rng.normal(scale=1 + step / 10, size=20_000), step)
    log.image("digits", images[:GRID, None], STEPS, dataformats="NCHW")
    log.image("one digit", images[0], STEPS, dataformats="HW")
    log.embedding(images[:200].reshape(200, -1), metadata=[str(d) for d in labels[:200]],
                  label_img=images[:200, None], step=STEPS, tag="digits")
    model = digits_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace's deprecation
        log.graph(model, torch.zeros(1, 1, 8, 8))
    truth = rng.integers(0, 2, 500)
    scores = np.clip(truth * 0.35 + rng.random(500) * 0.65, 0, 1)
    log.pr_curve("is seven", truth, scores, STEPS)
    log.text("notes", "lr halves every 10 steps; <b>tags</b> are shown as logged", STEPS)


def digits_model() -> Any:
    """A CNN the size of the digits example's: 15 modules in two named blocks."""
    from collections import OrderedDict

    from torch import nn

    features = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
    )
    classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10),
    )
    return nn.Sequential(OrderedDict(features=features, classifier=classifier)).eval()


# ------------------------------------------------------------------------------------ browser


class Page:
    """A page that remembers what its console and its scripts complained about."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        """Poll ``condition`` (Python, usually reading the page) until it is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            self.page.wait_for_timeout(250)

    def text(self) -> str:
        return str(self.page.evaluate("document.body.innerText"))

    def deep_text(self) -> str:
        """The text shown on the page, in every frame and open shadow root (TensorBoard's
        Polymer dashboards keep their content there, the projector in a frame of its own)."""
        return " ".join(str(frame.evaluate(_DEEP_TEXT)) for frame in self.page.frames)


    def cards(self, *element_names: str) -> list[dict[str, Any]]:
        """TensorBoard's Polymer cards (``TF-SCALAR-CARD``, ``TF-IMAGE-LOADER``, ...), looked
        up through every shadow root: their tag and run, and what is drawn inside them."""
        return list(self.page.evaluate(_CARDS, [name.upper() for name in element_names]))

    def run_colors(self) -> dict[str, str]:
        """The run list of TensorBoard's Polymer dashboards: each run's name and colour."""
        return dict(self.page.evaluate(_RUN_COLORS))


_DEEP_TEXT = """() => {
  const parts = [];
  const skip = new Set(['STYLE', 'SCRIPT', 'NOSCRIPT', 'TEMPLATE']);
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { parts.push(node.textContent); return; }
    if (skip.has(node.tagName)) return;
    if (node.nodeType === Node.ELEMENT_NODE && getComputedStyle(node).display === 'none') return;
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return parts.join(' ').replace(/\\s+/g, ' ');
}"""

_RUN_COLORS = """() => {
  const out = {};
  const walk = (node) => {
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.children || []) {
      const color = (child.getAttribute('style') || '').match(/checkbox-checked-color:\\s*([^;]+)/);
      const row = child.closest && child.closest('.name-row');
      if (child.tagName === 'PAPER-CHECKBOX' && color && row) out[row.innerText.trim()] = color[1];
      walk(child);
    }
  };
  walk(document.body);
  return out;
}"""

_CARDS = """(names) => {
  const found = [];
  const walk = (node, into) => {
    if (node.shadowRoot) walk(node.shadowRoot, into);
    for (const child of node.children || []) { into(child); walk(child, into); }
  };
  walk(document.body, (el) => { if (names.includes(el.tagName)) found.push(el); });
  return found.map((card) => {
    const strokes = [], images = [];
    let paths = 0;
    walk(card, (el) => {
      if (el.tagName === 'path' && (el.getAttribute('d') || '').length > 20) {
        const style = getComputedStyle(el);
        if (style.stroke !== 'none' || style.fill !== 'none') paths += 1;
        const classes = (el.getAttribute('class') || '').split(' ');
        if (classes.includes('line')) strokes.push(style.stroke);
      }
      if (el.tagName === 'IMG' && el.complete) images.push([el.naturalWidth, el.naturalHeight]);
    });
    const runs = (card.dataToLoad || []).map((item) => item.run);
    return {element: card.tagName, tag: card.tag || null, run: card.run || null, runs,
            paths, strokes: [...new Set(strokes)], images};
  });
}"""


@contextmanager
def browser(viewport: tuple[int, int] = (1400, 900)) -> Iterator[Callable[[str], Page]]:
    """Headless Chromium; yields ``open(url) -> Page``.  A fresh profile, removed after."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="vizlog-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium(), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                def open_page(url: str) -> Page:
                    page = Page(context.new_page())
                    page.page.goto(url, wait_until="load")
                    return page

                yield open_page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def save_screenshot(page: Page, path: Path, full_page: bool = False) -> Path:
    """The page as a PNG at ``path``, and a copy in ``$VIZLOG_SCREENSHOTS`` when set."""
    page.page.screenshot(path=str(path), full_page=full_page)
    folder = os.environ.get(SCREENSHOTS)
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(path, os.path.join(folder, path.name))
    return path


def server_problems(output: str) -> list[str]:
    """Lines of a server's output that say something went wrong."""
    bad = re.compile(r"Traceback|\bERROR\b|Exception|^E\d{4} |\b50\d\b")
    return [line for line in output.splitlines() if bad.search(line)]
