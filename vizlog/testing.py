"""The pytest plugin (registered through the ``pytest11`` entry point): test your own training
code against the fake backend.

    def test_training_logs_loss(vizlog_fake):
        train(epochs=1)                      # creates vizlog.Logger() somewhere inside
        steps = [s for s, _ in vizlog_fake.scalars("train/loss")]
        assert steps == sorted(steps)

Inside such a test every ``vizlog.Logger()`` created without an explicit ``backend`` records
into ``vizlog_fake`` (a ``vizlog.backends.fake.FakeBackend``): ``.calls`` holds every record in
order (``.kind``, ``.tag``, ``.step`` and the data), ``.scalars(tag)`` the ``(step, value)``
pairs, ``.records(kind, tag)`` and ``.tags(kind)`` the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vizlog.backends import fake
from vizlog.backends.fake import FakeBackend


@pytest.fixture
def vizlog_fake() -> Iterator[FakeBackend]:
    """Loggers made with no explicit backend record here for the duration of the test."""
    previous = fake.capture
    recorder = FakeBackend()
    fake.capture = recorder
    try:
        yield recorder
    finally:
        fake.capture = previous
