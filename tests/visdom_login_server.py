"""A Visdom server with login enabled, for the security tests (vizlog's launcher starts
Visdom without login).

    HOME=<dir> python tests/visdom_login_server.py PORT ENV_PATH USERNAME PASSWORD

Visdom keeps the cookie secret of a login-enabled server under ``~/.visdom``; the test points
``HOME`` at a temporary directory so that nothing outside it is touched.
"""

from __future__ import annotations

import os
import secrets
import sys


def main(argv: list[str]) -> None:
    port, env_path, username, password = int(argv[0]), argv[1], argv[2], argv[3]
    from tornado import ioloop
    from visdom.server import app
    from visdom.server.defaults import DEFAULT_ENV_PATH
    from visdom.utils.server_utils import hash_password

    os.makedirs(DEFAULT_ENV_PATH, exist_ok=True)
    with open(os.path.join(DEFAULT_ENV_PATH, "COOKIE_SECRET"), "w") as f:
        f.write(secrets.token_hex(32))
    os.makedirs(env_path, exist_ok=True)
    app.tornado_settings["autoreload"] = False
    credential = {"username": username, "password": hash_password(hash_password(password))}
    application = app.Application(port=port, env_path=env_path, user_credential=credential)
    application.listen(port, address="127.0.0.1")
    print("ready", flush=True)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main(sys.argv[1:])
