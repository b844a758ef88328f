"""A real S3 API on 127.0.0.1: moto's standalone server (the one s3fs's own tests use), in a
child process on a free port, that tests and the benchmark start, kill, restart and stop.

Its state lives in memory: a restarted server is empty, as a store that lost everything
would be; ``snapshot``/``restore`` carry the objects across a restart when a test needs a
store that was only unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from vizlog import servers

#: the credentials the tests use; moto accepts any unless told to check them
KEY, SECRET = "vizlog-test-key", "vizlog-test-secret"


class S3Server:
    def __init__(self, port: int | None = None, recording: str | None = None) -> None:
        self.port = port or servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recording = recording
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """The standard AWS configuration that points clients at this server."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def start(self, timeout: float = 60.0) -> S3Server:
        env = dict(os.environ)
        if self.recording:
            env.update(MOTO_ENABLE_RECORDING="1", MOTO_RECORDER_FILEPATH=self.recording)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2):
                    return self
            except (OSError, urllib.error.URLError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server on port {self.port} did not start") from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the store goes away at once, mid-request if need be."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def moto_api(self, path: str, data: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.url + "/moto-api/" + path, data=data,
                                         method="POST" if data is not None else "GET",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())

    def check_credentials(self, on: bool) -> None:
        """Make the server refuse keys it does not know (all of them), or accept any again."""
        self.moto_api("reset-auth", b"0" if on else b"inf")

    def requests(self) -> list[dict[str, Any]]:
        """The recorded requests (method, url, headers, body) since ``reset_recording``."""
        return [json.loads(line) for line in
                self.moto_api("recorder/download-recording").decode().splitlines() if line]

    def reset_recording(self) -> None:
        self.moto_api("recorder/reset-recording", b"")
        self.moto_api("recorder/start-recording", b"")

    def __enter__(self) -> S3Server:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def s3fs(server: S3Server) -> Any:
    """A fresh s3fs filesystem on the server (no cached listings)."""
    import s3fs as s3fs_module

    return s3fs_module.S3FileSystem(key=KEY, secret=SECRET, skip_instance_cache=True,
                                    endpoint_url=server.url)


def snapshot(fs: Any, bucket: str) -> dict[str, bytes]:
    return {path: fs.cat_file(path) for path in fs.find(bucket)}


def restore(fs: Any, bucket: str, objects: dict[str, bytes]) -> None:
    fs.mkdir(bucket)
    for path, data in objects.items():
        fs.pipe_file(path, data)
