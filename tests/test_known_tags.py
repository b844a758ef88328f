"""The common call's quick path (a float, an int step, a tag logged before) behaves exactly
as the full checks do: it is only ever taken for what the checks accepted."""

from __future__ import annotations

import math
import warnings

import pytest

import vizlog
from vizlog import VizlogTypeError, VizlogValueError


@pytest.fixture
def log():
    logger = vizlog.Logger("fake")
    yield logger
    logger.close()


@pytest.mark.parametrize("tag", ["", "  ", "a\x00b", "\ud800"])
def test_a_refused_tag_is_refused_every_time(log, tag):
    for _ in range(2):
        with pytest.raises(VizlogValueError):
            log.scalar(tag, 1.0, 0)
        with pytest.raises(VizlogValueError):
            log.scalars("pair", {tag: 1.0}, 0)
    assert log.get_backend("fake").calls == []


def test_a_known_tag_still_gets_every_other_check(log):
    log.scalar("loss", 1.0, 0)
    log.scalars("pair", {"a": 1.0}, 0)
    with pytest.raises(VizlogValueError, match="64 bits"):
        log.scalar("loss", 1.0, 2**64)
    with pytest.raises(VizlogTypeError, match="step"):
        log.scalar("loss", 1.0, True)
    with pytest.raises(VizlogTypeError, match="expected a string"):
        log.scalar(["loss"], 1.0, 1)  # unhashable: no TypeError from a set lookup
    with pytest.raises(VizlogValueError, match="empty"):
        log.scalars("pair", {}, 1)
    with pytest.raises(VizlogValueError, match="64 bits"):
        log.scalars("pair", {"a": 1.0}, -(2**63) - 1)
    fake = log.get_backend("fake")
    assert [(r.tag, r.step) for r in fake.calls] == [("loss", 0), ("pair", 0)]


def test_non_finite_values_warn_on_the_quick_path(log):
    log.scalar("loss", 1.0, 0)
    log.scalars("pair", {"a": 1.0, "b": 2.0}, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log.scalar("loss", math.nan, 1)
        log.scalars("pair", {"a": math.inf, "b": 2.0}, 1)
    messages = [str(w.message) for w in caught]
    assert any("scalar 'loss' is nan at step 1" in m for m in messages)
    assert any("scalars 'pair' has non-finite ['a'] at step 1" in m for m in messages)
    records = log.get_backend("fake").calls
    assert math.isnan(records[2].value) and records[3].values == {"a": math.inf, "b": 2.0}


def test_the_dict_is_copied_on_the_quick_path(log):
    values = {"a": 1.0}
    log.scalars("pair", values, 0)
    log.scalars("pair", values, 1)
    values["a"] = 5.0
    assert [r.values for r in log.get_backend("fake").calls] == [{"a": 1.0}, {"a": 1.0}]


def test_calls_after_close_warn_on_both_paths():
    log = vizlog.Logger("fake")
    log.scalar("loss", 1.0, 0)
    log.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log.scalar("loss", 2.0, 1)  # a known tag: the quick path
        log.histogram("weights", [1.0, 2.0], 1)  # the full path
    messages = [str(w.message) for w in caught]
    assert any("scalar() after the Logger was closed" in m for m in messages)
    assert any("histogram() after the Logger was closed" in m for m in messages)
    assert len(log.get_backend("fake").calls) == 1
