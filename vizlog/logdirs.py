"""Where a logdir is: a local directory, or an fsspec URL (``s3://``, ``gs://``, ``az://``,
``memory://``, ...) naming an object store.

Only the standard library is imported here (fsspec when a URL is used), so that the Logger,
the readers and the servers can all ask without pulling in a backend.  How TensorBoard files
are stored on a store is ``backends/tensorboard/storage.py``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from vizlog import config
from vizlog.errors import VizlogTypeError, VizlogValueError

#: the vizlog extra that installs each protocol's fsspec implementation
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*(://|::)")


def is_url(logdir: str) -> bool:
    """Whether ``logdir`` names a store (``s3://...``, ``simplecache::s3://...``)."""
    return bool(_URL.match(logdir)) and not logdir.startswith("file://")


def normalise(logdir: str) -> str:
    """``file://`` URLs are local paths, and take the local fast path."""
    return logdir[len("file://"):] if logdir.startswith("file://") else logdir


def protocol(url: str) -> str:
    return url.rpartition("::")[2].partition("://")[0].lower()


def local_home(url: str) -> str:
    """A local directory standing for ``url`` (``<spool dir>/s3/bucket/run``), for what
    stays on this machine: the Visdom spool, what the store could not take yet."""
    scheme, _, rest = url.rpartition("::")[2].partition("://")
    parts = [p for p in rest.split("/") if p not in ("", ".", "..")]
    return os.path.join(config.spool_dir(), scheme.lower() or "store", *parts)


def check_options(storage_options: Any) -> dict[str, Any]:
    if storage_options is None:
        return {}
    if not isinstance(storage_options, dict):
        raise VizlogTypeError(
            "Logger(storage_options=...): expected a dict of the store's options "
            f"(for example endpoint_url, key, secret), got {type(storage_options).__name__}"
        )
    return storage_options


def filesystem(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path inside it.  A missing implementation
    is an ImportError that names the vizlog extra installing it."""
    name = protocol(url)
    extra = EXTRAS.get(name)
    hint = f'pip install "vizlog[{extra}]"' if extra else "install its fsspec implementation"
    try:
        import fsspec
    except ImportError as exc:
        raise ImportError(f"the logdir {url!r} needs fsspec, which is not installed: {hint}"
                          ) from exc
    try:
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    except ImportError as exc:
        raise ImportError(
            f"the logdir {url!r} needs the {name}:// store's package, which is not "
            f"installed: {hint} ({exc})"
        ) from exc
    return fs, path.rstrip("/")


def check_logdir(logdir: str, storage_options: dict[str, Any] | None = None) -> None:
    """Fail now, with one clear error, if the run cannot be written: a local directory that
    cannot be created, or a store that refuses a probe object (missing bucket, credentials)."""
    if is_url(logdir):
        _check_store(logdir, storage_options)
        return
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, f".vizlog-write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise VizlogValueError(
            f"Logger(logdir=...): cannot write to {logdir!r} ({exc.strerror or exc}); "
            "pass a writable directory or set VIZLOG_LOGDIR"
        ) from exc


def _check_store(url: str, storage_options: dict[str, Any] | None) -> None:
    fs, root = filesystem(url, storage_options)
    probe = f"{root}/.vizlog-write-test-{os.getpid()}"
    try:
        fs.pipe_file(probe, b"")
    except Exception as exc:  # noqa: BLE001 - every store raises its own kinds
        if isinstance(exc, FileNotFoundError):
            why = "the bucket (or container) does not exist"
        elif isinstance(exc, PermissionError):
            why = ("access denied: check the credentials (for S3 the AWS_* environment or "
                   "storage_options key/secret) and that they may write there")
        else:
            why = f"{type(exc).__name__}: {exc}"
        raise VizlogValueError(f"Logger(logdir=...): cannot write to {url!r}: {why}") from exc
    try:
        fs.rm_file(probe)
    except Exception:  # noqa: BLE001, S110 - a store that allows writes but not deletes
        pass


def tensorboard_env(logdir: str, storage_options: dict[str, Any] | None = None,
                    environ: dict[str, str] | None = None) -> dict[str, str]:
    """What a TensorBoard process needs in its environment to read ``logdir``.

    TensorBoard reads ``s3://`` with boto3 and takes a custom endpoint from ``S3_ENDPOINT``
    only; vizlog's writer takes it from ``AWS_ENDPOINT_URL`` (the standard variable) or
    ``storage_options``.  Other stores are read through fsspec with their standard
    configuration, which the child inherits.
    """
    env = dict(os.environ if environ is None else environ)
    if not is_url(logdir) or protocol(logdir) not in ("s3", "s3a"):
        return {}
    options = dict(storage_options or {})
    client = options.get("client_kwargs") or {}
    endpoint = (options.get("endpoint_url") or client.get("endpoint_url")
                or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"))
    extra: dict[str, str] = {}
    if endpoint and "S3_ENDPOINT" not in env:
        extra["S3_ENDPOINT"] = str(endpoint)
    for option, variable in (("key", "AWS_ACCESS_KEY_ID"), ("secret", "AWS_SECRET_ACCESS_KEY"),
                             ("token", "AWS_SESSION_TOKEN")):
        if options.get(option):
            extra[variable] = str(options[option])
    if client.get("region_name"):
        extra["AWS_REGION"] = extra["AWS_DEFAULT_REGION"] = str(client["region_name"])
    return extra
