"""The ``vizlog`` command: serve, export, replay, upload, info, visdom-assets.

Only the standard library is imported here; each subcommand imports what it needs when it
runs, so that ``vizlog --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

DEFAULT_PORTS = {"tensorboard": 6006, "visdom": 8097}
HOST_HELP = (
    "address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 accepts "
    "connections from other machines. Note that Visdom's own launcher listens on every "
    "interface by default; vizlog does not)"
)
PORT_HELP = "port to listen on (default %(default)s; 0 picks any free port)"


class CliError(Exception):
    """A failure to report as one line, without a traceback."""


def _logdir_default() -> str:
    return os.environ.get("VIZLOG_LOGDIR") or "runs"


def _add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="start TensorBoard and/or Visdom and stop them on Ctrl-C",
        description="Start a viewer as a child process, wait until it answers HTTP, print its "
        "URL, and stop it (and everything it started) on Ctrl-C or SIGTERM.",
    )
    kinds = serve.add_subparsers(dest="server", metavar="{tensorboard,visdom,all}", required=True)

    tb = kinds.add_parser(
        "tensorboard",
        help="serve TensorBoard on a logdir",
        description="Serve TensorBoard on LOGDIR (default: $VIZLOG_LOGDIR, else ./runs). "
        "LOGDIR may be a URL (s3://bucket/runs, gs://...), read with the store's standard "
        "configuration (for S3 the AWS_* environment, AWS_ENDPOINT_URL included).",
    )
    tb.add_argument("--logdir", default=None,
                    help="directory or URL of runs (default: $VIZLOG_LOGDIR, else ./runs)")
    tb.add_argument("--port", type=int, default=DEFAULT_PORTS["tensorboard"], help=PORT_HELP)
    tb.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    _add_timeout(tb)

    vd = kinds.add_parser(
        "visdom",
        help="serve Visdom (works offline)",
        description="Serve Visdom without downloading anything at start (it works offline). "
        "If the web page's assets are missing the server still runs and says how to get them.",
    )
    vd.add_argument("--port", type=int, default=DEFAULT_PORTS["visdom"], help=PORT_HELP)
    vd.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    vd.add_argument(
        "--env-path", default=None, help="where Visdom saves its environments (default ~/.visdom)"
    )
    vd.add_argument(
        "--fetch-assets",
        action="store_true",
        help="first fetch the web page's assets from the npm registry if they are missing",
    )
    _add_timeout(vd)

    both = kinds.add_parser(
        "all",
        help="serve TensorBoard and Visdom together",
        description="Serve TensorBoard (port 6006) and Visdom (port 8097) together.",
    )
    both.add_argument("--logdir", default=None, help="TensorBoard's directory of runs")
    both.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    both.add_argument("--env-path", default=None, help="where Visdom saves its environments")
    both.add_argument(
        "--tensorboard-port", type=int, default=DEFAULT_PORTS["tensorboard"], help=PORT_HELP
    )
    both.add_argument("--visdom-port", type=int, default=DEFAULT_PORTS["visdom"], help=PORT_HELP)
    _add_timeout(both)
    for parser in (tb, vd, both):
        parser.set_defaults(handler=_cmd_serve)


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for a server to answer before giving up (default %(default)s)",
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cmd_serve(args: argparse.Namespace) -> int:
    from vizlog import servers

    logdir = getattr(args, "logdir", None) or _logdir_default()
    plans: list[tuple[str, dict[str, Any]]] = []
    if args.server in ("tensorboard", "all"):
        port = args.port if args.server == "tensorboard" else args.tensorboard_port
        plans.append(("tensorboard", {"logdir": logdir, "port": port}))
    if args.server in ("visdom", "all"):
        port = args.port if args.server == "visdom" else args.visdom_port
        plans.append(("visdom", {"port": port, "env_path": args.env_path}))
        if getattr(args, "fetch_assets", False):
            _fetch_visdom_assets(registry=None, use_npm=None, force=False)

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    started: list[servers.Server] = []
    try:
        for kind, options in plans:
            server = servers.serve(
                kind, host=args.host, timeout=args.timeout, echo=sys.stderr, **options
            )
            started.append(server)
            shown = logdir if "://" in logdir else os.path.abspath(logdir)
            where = f" (logdir {shown})" if kind == "tensorboard" else ""
            print(f"{kind} is running at {server.url}{where}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            for server in started:
                if not server.running():
                    raise CliError(
                        f"{server.kind} exited unexpectedly with code "
                        f"{server.process.returncode}; its last output:\n{server.output()}"
                    )
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
    except servers.ServerError as exc:
        raise CliError(str(exc)) from exc
    finally:
        # A second Ctrl-C must not leave children behind half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for server in reversed(started):
            print(f"stopping {server.kind} (pid {server.pid})", file=sys.stderr, flush=True)
            server.stop()
        if started:
            print("stopped", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _add_assets_parser(sub: Any) -> None:
    assets = sub.add_parser(
        "visdom-assets",
        help="fetch the Visdom web page's assets from the npm registry",
        description="Install the JavaScript, CSS and fonts of Visdom's web page into the "
        "visdom package's static directory, from the npm registry: with `npm pack` when npm "
        "is installed, else over HTTPS with Python alone. Needed once per installation; the "
        "Visdom server itself runs without them.",
    )
    assets.add_argument(
        "--check", action="store_true", help="only report what is missing (exit 1 if anything is)"
    )
    assets.add_argument(
        "--registry",
        default=None,
        help="npm registry URL (default: $VIZLOG_NPM_REGISTRY, else https://registry.npmjs.org)",
    )
    how = assets.add_mutually_exclusive_group()
    how.add_argument("--npm", dest="use_npm", action="store_true", default=None, help="use npm")
    how.add_argument(
        "--no-npm", dest="use_npm", action="store_false", help="use HTTPS even if npm exists"
    )
    assets.add_argument("--force", action="store_true", help="fetch again what is present")
    assets.set_defaults(handler=_cmd_assets)


def _fetch_visdom_assets(registry: str | None, use_npm: bool | None, force: bool) -> None:
    from vizlog.servers import visdom_assets

    try:
        written = visdom_assets.fetch_assets(
            registry=registry,
            use_npm=use_npm,
            force=force,
            progress=visdom_assets.print_progress(sys.stderr),
        )
    except (OSError, ImportError) as exc:
        raise CliError(f"could not fetch Visdom's web assets: {exc}") from exc
    where = visdom_assets.static_dir()
    if written:
        print(f"installed {len(written)} Visdom asset files into {where}", file=sys.stderr)
    else:
        print(f"Visdom's web assets are already installed in {where}", file=sys.stderr)


def _cmd_assets(args: argparse.Namespace) -> int:
    from vizlog.servers import visdom_assets

    if args.check:
        try:
            missing = visdom_assets.missing_assets()
        except ImportError as exc:
            raise CliError(str(exc)) from exc
        if missing:
            print(visdom_assets.missing_message(missing))
            return 1
        print(f"all Visdom web assets are installed in {visdom_assets.static_dir()}")
        return 0
    _fetch_visdom_assets(args.registry, args.use_npm, args.force)
    return 0


def _add_export_parser(sub: Any) -> None:
    export = sub.add_parser(
        "export",
        help="write every scalar under a logdir as CSV or JSON",
        description="Read every scalar of every run under LOGDIR (written by "
        "torch.utils.tensorboard or tensorboardX, via scalar or scalars) and write rows of "
        "run, tag, step, walltime, value. The run is the event file's directory relative to "
        "LOGDIR ('.' for LOGDIR itself).",
    )
    export.add_argument("logdir", metavar="LOGDIR", help="a directory, or a URL (s3://...)")
    export.add_argument(
        "--format",
        choices=("csv", "json"),
        default=None,
        help="output format (default: json if FILE ends in .json, else csv)",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from vizlog import export

    fmt = args.format or (
        "json" if args.output and args.output.lower().endswith(".json") else "csv"
    )
    try:
        rows = export.scalar_rows(args.logdir)
    except (ValueError, ImportError, OSError) as exc:  # OSError: a store's refusal
        raise CliError(str(exc)) from exc
    if args.output is None:
        export.export(rows, sys.stdout, fmt)
        sys.stdout.flush()
    else:
        with open(args.output, "w", newline="") as stream:
            export.export(rows, stream, fmt)
        runs = len({row["run"] for row in rows})
        print(f"wrote {len(rows)} scalars from {runs} run(s) to {args.output}", file=sys.stderr)
    return 0


def _add_replay_parser(sub: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="send a Visdom spool (logged while the server was down) to a Visdom server",
        description="Deliver the records a Visdom backend spooled under LOGDIR while its "
        "server was unreachable.",
    )
    replay.add_argument("logdir", metavar="LOGDIR")
    replay.add_argument(
        "--server",
        default=None,
        help="Visdom server URL (default: the server the run used, kept in the spool, "
        "else $VIZLOG_VISDOM_SERVER)",
    )
    replay.add_argument(
        "--env",
        default=None,
        help="Visdom environment to replay into (default: the run's, else $VIZLOG_VISDOM_ENV)",
    )
    replay.set_defaults(handler=_cmd_replay)


def _cmd_replay(args: argparse.Namespace) -> int:
    from vizlog.backends.visdom.replay import replay

    with warnings.catch_warnings(record=True) as caught:  # said plainly, not as warnings
        warnings.simplefilter("always")
        try:
            count = replay(args.logdir, server=args.server, env=args.env)
        except ImportError as exc:  # the Visdom backend is imported by replay() itself
            raise CliError(f"replay is not available: {exc}") from exc
        except (ValueError, OSError) as exc:
            raise CliError(str(exc)) from exc
        finally:
            for warning in caught:
                print(str(warning.message), file=sys.stderr)
    print(f"replayed {count} record(s) from {args.logdir}")
    return 0


def _add_upload_parser(sub: Any) -> None:
    upload = sub.add_parser(
        "upload", help="send what a run left unsent (its store was unreachable) to its store",
        description="Send the objects a run with a remote logdir kept in SPOOL (named in "
        "its warning) to the store they were meant for, in order, with the store's standard "
        "configuration. Each is removed once sent; run it again after a failure.",
    )
    upload.add_argument("spool", metavar="SPOOL")
    upload.set_defaults(handler=_cmd_upload)


def _cmd_upload(args: argparse.Namespace) -> int:
    from vizlog.backends.tensorboard.uploader import send_spool

    try:
        count = send_spool(args.spool)
    except (ValueError, OSError, ImportError) as exc:
        raise CliError(str(exc)) from exc
    print(f"sent {count} object(s) from {args.spool}")
    return 0


def _add_info_parser(sub: Any) -> None:
    info = sub.add_parser(
        "info",
        help="installed backends, environment variables in effect, where logs go",
        description="Show the installed backends and their versions, the environment "
        "variables vizlog reads with the values in effect, and where logs will go.",
    )
    info.set_defaults(handler=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from vizlog.info import render

    print(render())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vizlog",
        description="Serve TensorBoard and Visdom, export logged scalars, replay a Visdom "
        "spool, and show vizlog's setup.",
    )
    parser.add_argument("--version", action="version", version=f"vizlog {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_serve_parser(sub)
    _add_export_parser(sub)
    _add_replay_parser(sub)
    _add_upload_parser(sub)
    _add_info_parser(sub)
    _add_assets_parser(sub)
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("vizlog")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vizlog`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"vizlog {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `vizlog export LOGDIR | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
