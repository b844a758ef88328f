"""The Visdom web page's JavaScript, CSS and fonts, fetched from the npm registry.

Visdom's own ``download_scripts`` fetches these from several CDNs at every server start and
fails without internet.  The same files are published on the npm registry, which is often the
one place a locked-down machine (or a Docker build) can reach, so vizlog fetches them from
there, once, into Visdom's static directory: with ``npm pack`` when ``npm`` is installed, else
over HTTPS with the standard library.  The server runs without them (its API works); only the
web page needs them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

FETCH_COMMAND = "vizlog visdom-assets"


@dataclass(frozen=True)
class Package:
    """One npm package and the files Visdom's page loads from it.

    ``files`` maps a path inside the package to a path under Visdom's ``static`` directory
    (the names Visdom's ``index.html`` asks for).
    """

    name: str
    version: str
    files: tuple[tuple[str, str], ...]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


_MATHJAX_FILES = (
    "MathJax.js",
    "config/Safe.js",
    "config/TeX-AMS-MML_HTMLorMML.js",
    "extensions/Safe.js",
    "jax/output/SVG/config.js",
    "jax/output/SVG/jax.js",
    "jax/output/SVG/fonts/TeX/fontdata.js",
    "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js",
)
_GLYPHICONS = tuple(
    (f"dist/fonts/glyphicons-halflings-regular.{ext}", f"fonts/glyphicons-halflings-regular.{ext}")
    for ext in ("eot", "woff2", "woff", "ttf", "svg")
)

#: The versions Visdom 0.2.4's ``download_scripts`` pins, file for file.
PACKAGES: tuple[Package, ...] = (
    Package("jquery", "3.1.1", (("dist/jquery.min.js", "js/jquery.min.js"),)),
    Package(
        "bootstrap",
        "3.3.7",
        (
            ("dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
            ("dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
            *_GLYPHICONS,
        ),
    ),
    Package("react", "16.2.0", (("umd/react.production.min.js", "js/react-react.min.js"),)),
    Package("react-dom", "16.2.0", (("umd/react-dom.production.min.js", "js/react-dom.min.js"),)),
    Package("react-modal", "3.1.10", (("dist/react-modal.min.js", "js/react-modal.min.js"),)),
    Package("plotly.js-dist-min", "2.11.1", (("plotly.min.js", "js/plotly-plotly.min.js"),)),
    Package("sjcl", "1.0.7", (("sjcl.js", "js/sjcl.js"),)),
    Package(
        "layout-bin-packer",
        "1.4.0",
        (
            ("dist/layout-bin-packer.js", "js/layout_bin_packer.js"),
            ("dist/layout-bin-packer.js.map", "js/layout-bin-packer.js.map"),
        ),
    ),
    Package("d3", "3.5.17", (("d3.min.js", "js/d3.v3.min.js"),)),
    Package(
        "d3-selection-multi",
        "1.0.1",
        (("build/d3-selection-multi.js", "js/d3-selection-multi.v1.js"),),
    ),
    Package("save-svg-as-png", "1.4.17", (("lib/saveSvgAsPng.js", "js/saveSvgAsPng.js"),)),
    Package("react-resizable", "1.4.6", (("css/styles.css", "css/react-resizable-styles.css"),)),
    Package(
        "react-grid-layout", "0.16.3", (("css/styles.css", "css/react-grid-layout-styles.css"),)
    ),
    Package("classnames", "2.2.5", (("index.js", "fonts/classnames"),)),
    Package("mathjax", "2.7.5", tuple((f, f"js/mathjax/2.7.5/{f}") for f in _MATHJAX_FILES)),
)


def static_dir() -> str:
    """Visdom's ``static`` directory, where its server looks for the page's files."""
    import importlib.util

    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise ImportError(
            'the Visdom server needs the visdom package: pip install "vizlog[visdom]"'
        )
    return os.path.join(os.path.dirname(spec.origin), "static")


def missing_assets(
    directory: str | None = None, packages: tuple[Package, ...] = PACKAGES
) -> list[str]:
    """Paths under ``static/`` that the web page needs and that are not there."""
    directory = static_dir() if directory is None else directory
    return [
        dest
        for package in packages
        for _, dest in package.files
        if not os.path.isfile(os.path.join(directory, dest))
    ]


def missing_message(missing: list[str]) -> str:
    """What the Visdom server prints once when its page cannot work: what, why, how to fix."""
    return (
        f"Visdom's web assets are missing ({len(missing)} files, e.g. {missing[0]}): the server "
        "and its API work, but the web page will not load until they are installed.\n"
        f"Fetch them from the npm registry with:  {FETCH_COMMAND}\n"
        "(or start with `vizlog serve visdom --fetch-assets`; it uses `npm` when installed, "
        f"else Python's HTTPS client, and needs access to {registry_url()})"
    )


def registry_url() -> str:
    from vizlog import config

    return config.npm_registry()


def tarball_url(package: Package, registry: str | None = None) -> str:
    """``<registry>/<name>/-/<name>-<version>.tgz``, for an unscoped package."""
    base = (registry or registry_url()).rstrip("/")
    name = urllib.parse.quote(package.name)
    return f"{base}/{name}/-/{name}-{package.version}.tgz"


#: The registry's published integrity hash of each tarball (``dist.integrity``, Subresource
#: Integrity form): a tarball is installed only if it matches, whichever registry served it.
INTEGRITY: dict[str, str] = {
    "jquery@3.1.1": (
        "sha512-zuiWRmx65Kd1oFGdWLvAjbsumdOBFvs3r1vuqCyKFF79R7exBHNbi"
        "NEJ8LR+xkzgfxqBznMD/4Cv6PHXS6mvEw=="
    ),
    "bootstrap@3.3.7": (
        "sha512-qcFaisBrcBhTFkz1IUnGDYnX6ZWfFzH8zOixUDtHW9Ip+r+7MfMFa"
        "v2rzy7cIHc7rgIg7xjhWBoo1mS/U26j4g=="
    ),
    "react@16.2.0": (
        "sha512-ZmIomM7EE1DvPEnSFAHZn9Vs9zJl5A9H7el0EGTE6ZbW9FKe/14IY"
        "AlPbC8iH25YarEQxZL+E8VW7Mi7kfQrDQ=="
    ),
    "react-dom@16.2.0": (
        "sha512-zpGAdwHVn9K0091d+hr+R0qrjoJ84cIBFL2uU60KvWBPfZ7LPSrfq"
        "viTxGHWN0sjPZb2hxWzMexwrvJdKePvjg=="
    ),
    "react-modal@3.1.10": (
        "sha512-7b77AGWCkdg0YOf/qcYIGCpuwbxRwOA8P3UrUovk4grUNv+idOmHo"
        "vJAx/Dcd3fuwHtgixxVjpcjVG60985MSA=="
    ),
    "plotly.js-dist-min@2.11.1": (
        "sha512-F9WWNht0D3yBLZGHbLoJNfvplXvy+GUPSsA/lCbMuYd/UwzSu6Vmy"
        "prxlps9Einw1LDS1hYBrJeioK0lE3ieXA=="
    ),
    "sjcl@1.0.7": (
        "sha512-xQbiwKfiAj6vyk44ANJ5RRymALRdRZOuRoKNYkWUU404p/RFXmMaa"
        "y1Z5vRn30GJjkD+psox4Jd38jZojSuNYA=="
    ),
    "layout-bin-packer@1.4.0": (
        "sha512-dQOZnajbOBGIcS9YlzKrkRtMCGa2oEpyf1zGRn93suphSvPclJe54"
        "Sbgtb053GJ21DUk84IBzaeQvjn+Gb10fA=="
    ),
    "d3@3.5.17": (
        "sha512-yFk/2idb8OHPKkbAL8QaOaqENNoMhIaSHZerk3oQsECwkObkCpJyj"
        "YwCe+OHiq6UEdhe1m8ZGARRRO3ljFjlKg=="
    ),
    "d3-selection-multi@1.0.1": (
        "sha512-mEnRkJ6A+Otd1LuRPV3az+s/RLDmIEhuz/MnT21O2nPcWNH7wZotd"
        "IlRjMA4Wpr+n7AESQ5fD8v1J3nL2Mnw9g=="
    ),
    "save-svg-as-png@1.4.17": (
        "sha512-7QDaqJsVhdFPwviCxkgHiGm9omeaMBe1VKbHySWU6oFB2LtnGCcYS"
        "13eVoslUgq6VZC6Tjq/HddBd1K6p2PGpA=="
    ),
    "react-resizable@1.4.6": (
        "sha512-4zLORO51u0/mlDsrVCAA4p266d+3mb2ZMNdiWOotAh/PdnfrRzZhg"
        "ePmKE08PSQatXVIfMjmyD+Sapay8tmxdQ=="
    ),
    "react-grid-layout@0.16.3": (
        "sha512-ytP92EqUjqcFhGzvdeKrK610dQ04GdFwRCWtD6PoeL5wR3liETcFI"
        "SO7k8RBqnosV86JtXf/DwIfrL0COLs0gg=="
    ),
    "classnames@2.2.5": (
        "sha512-DTt3GhOUDKhh4ONwIJW4lmhyotQmV2LjNlGK/J2hkwUcqcbKkCLAd"
        "JPtxQnxnlc7SR3f1CEXCyMmc7WLUsWbNA=="
    ),
    "mathjax@2.7.5": (
        "sha512-OzsJNitEHAJB3y4IIlPCAvS0yoXwYjlo2Y4kmm9KQzyIBZt2d8yKR"
        "alby3uTRNN4fZQiGL2iMXjpdP1u2Rq2DQ=="
    ),
}


class IntegrityError(OSError):
    """A downloaded tarball does not match the hash the registry published for it."""


def check_integrity(package: Package, data: bytes, expected: str | None = None) -> None:
    """Raise ``IntegrityError`` unless ``data`` matches the pinned hash of ``package``."""
    expected = INTEGRITY.get(package.spec) if expected is None else expected
    if expected is None:
        raise IntegrityError(f"no pinned integrity hash for {package.spec}; refusing to install")
    algorithm, _, digest = expected.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if actual != digest:
        raise IntegrityError(
            f"{package.spec}: the tarball does not match its published integrity hash "
            f"({expected[:20]}...); nothing was installed. Check VIZLOG_NPM_REGISTRY"
        )


Progress = Callable[[str], None]


def fetch_assets(
    directory: str | None = None,
    *,
    registry: str | None = None,
    use_npm: bool | None = None,
    force: bool = False,
    packages: tuple[Package, ...] = PACKAGES,
    progress: Progress | None = None,
    integrity: dict[str, str] | None = None,
) -> list[str]:
    """Install the page's files into Visdom's static directory; return the paths written.

    Packages whose files are all present are skipped unless ``force``.  ``use_npm=None``
    uses ``npm pack`` when ``npm`` is on PATH, else plain HTTPS to the registry.  Every
    tarball is checked against its pinned integrity hash (``INTEGRITY``; ``integrity``
    adds hashes for other packages) before anything of it is written.
    """
    directory = static_dir() if directory is None else directory
    registry = (registry or registry_url()).rstrip("/")
    npm = shutil.which("npm") if use_npm is not False else None
    if use_npm and npm is None:
        raise FileNotFoundError("use_npm=True, but no `npm` executable is on PATH")
    say = progress or (lambda message: None)
    todo = [p for p in packages if force or missing_assets(directory, (p,))]
    written: list[str] = []
    for index, package in enumerate(todo, 1):
        say(f"[{index}/{len(todo)}] {package.spec}")
        data = _npm_pack(npm, package, registry) if npm else _download(package, registry)
        check_integrity(package, data, integrity.get(package.spec) if integrity else None)
        written += _extract(package, data, directory)
    if todo:
        _mark_built(directory)
    return written


def _download(package: Package, registry: str) -> bytes:
    url = tarball_url(package, registry)
    request = urllib.request.Request(url, headers={"User-Agent": "vizlog"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()
    except OSError as exc:
        raise OSError(f"could not download {package.spec} from {url}: {exc}") from exc


def _npm_pack(npm: str, package: Package, registry: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="vizlog-npm-") as tmp:
        result = subprocess.run(
            [npm, "pack", package.spec, "--registry", registry, "--pack-destination", tmp],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = [f for f in os.listdir(tmp) if f.endswith(".tgz")]
        if result.returncode != 0 or not tarballs:
            raise OSError(f"`npm pack {package.spec}` failed:\n{result.stderr.strip()}")
        with open(os.path.join(tmp, tarballs[0]), "rb") as fh:
            return fh.read()


def _extract(package: Package, data: bytes, directory: str) -> list[str]:
    """Copy the wanted members of an npm tarball (rooted at ``package/``) into place."""
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {_strip_root(m.name): m for m in tar.getmembers() if m.isfile()}
        for source, dest in package.files:
            member = members.get(source)
            if member is None:
                raise OSError(f"{package.spec} has no file {source!r}")
            extracted = tar.extractfile(member)
            assert extracted is not None
            target = os.path.join(directory, dest)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp_target = f"{target}.part"
            with open(tmp_target, "wb") as out:
                shutil.copyfileobj(extracted, out)
            os.replace(tmp_target, target)
            written.append(dest)
    return written


def _strip_root(name: str) -> str:
    """npm tarballs keep files under one top directory, usually ``package/``."""
    return name.split("/", 1)[1] if "/" in name else name


def _mark_built(directory: str) -> None:
    """Write Visdom's ``version.built`` so that its own downloader sees a complete install."""
    try:
        import visdom

        version = str(getattr(visdom, "__version__", "unknown"))
    except ImportError:
        return
    with open(os.path.join(directory, "version.built"), "w") as fh:
        fh.write(version)


def print_progress(stream: IO[str] = sys.stderr) -> Progress:
    """A progress callback that prints one line per package."""

    def progress(message: str) -> None:
        print(f"fetching {message}", file=stream, flush=True)

    return progress
