"""The Visdom server as vizlog runs it: Visdom's own tornado application, started without the
CDN download that ``python -m visdom.server`` does at every start (it dies without internet).

Run as a child process by ``vizlog.servers.serve("visdom")``:
``python -m vizlog.servers.visdom_app --host H --port N [--env-path DIR]``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from vizlog.servers.process import DEFAULT_HOST, DEFAULT_PORTS, url_host


def run_visdom(argv: Sequence[str]) -> None:
    """Run Visdom's tornado application without downloading anything.

    Tornado's autoreload is switched off: visdom turns on debug mode, which would re-exec the
    server whenever an imported source file changes.
    """
    import argparse
    import logging

    parser = argparse.ArgumentParser(prog="python -m vizlog.servers.visdom_app")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORTS["visdom"])
    parser.add_argument("--env-path", default=None)
    args = parser.parse_args(argv)

    from tornado import ioloop, web
    from visdom.server import app as visdom_app
    from visdom.server.defaults import DEFAULT_ENV_PATH

    from vizlog.servers import visdom_assets

    class StaticFileHandler(web.StaticFileHandler):
        """Visdom's page links ``static_url("../user/style.css")``, outside the static root;
        recent tornado refuses to hash such a path and the page answers 403.  Serve the link
        without a version hash instead (it resolves to Visdom's ``/user/style.css``)."""

        @classmethod
        def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
            try:
                return super().get_version(settings, path)
            except web.HTTPError:
                return None

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:%(name)s:%(message)s")
    missing = visdom_assets.missing_assets()
    if missing:
        # Said once here; tornado would otherwise log each missing file at every page view.
        print(visdom_assets.missing_message(missing), flush=True)
        logging.getLogger("tornado.general").addFilter(
            lambda record: "Could not open static file" not in record.getMessage()
        )
    env_path = args.env_path or DEFAULT_ENV_PATH
    os.makedirs(env_path, exist_ok=True)
    visdom_app.tornado_settings["autoreload"] = False
    visdom_app.tornado_settings["static_handler_class"] = StaticFileHandler
    application: Any = visdom_app.Application(port=args.port, base_url="", env_path=env_path)
    application.listen(args.port, address=args.host, max_buffer_size=1024**3)
    print(f"Visdom server listening on {url_host(args.host)}:{args.port}", flush=True)
    print(f"Visdom environments are saved in {os.path.abspath(env_path)}", flush=True)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    run_visdom(sys.argv[1:])
