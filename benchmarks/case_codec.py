"""Case 10: the spool codec.  How a histogram and an image record are written to and read
from a spool line, against the first format, where every array was a JSON list of numbers
(lines in that format are still read).

The histogram is what ``Logger.histogram`` makes of a million normal float32 values with
the default bins; the image is 224 x 224 RGB, smooth with noise, as a photo is.  Encoding and
decoding alternate between the two formats, ``repeats`` rounds of a batch each; the table
shows the median time per record and the sizes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Context, Row, alternate, median


def _list_encode(value: Any) -> Any:
    """The first format: arrays as JSON lists."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str, "shape": value.shape}
    if isinstance(value, tuple):
        return [_list_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _list_encode(v) for k, v in value.items()}
    return value


def list_to_json(record: Any) -> str:
    import dataclasses

    payload = {f.name: _list_encode(getattr(record, f.name)) for f in dataclasses.fields(record)}
    payload["kind"] = record.kind
    return json.dumps(payload, separators=(",", ":"), allow_nan=True)


def _records() -> dict[str, Any]:
    from vizlog.concepts.histogram import bin_values
    from vizlog.records import Histogram, Image

    rng = np.random.default_rng(0)
    values = rng.standard_normal(1_000_000).astype(np.float32)
    histogram = Histogram("weights", 100, 0.0, **bin_values(values, "tensorflow"))
    y, x = np.mgrid[0:224, 0:224]
    smooth = np.stack([x, y, (x + y) // 2], axis=-1).astype(np.float64)
    pixels = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
    return {"histogram": histogram, "image": Image("photo", 100, 0.0, pixels)}


def _per_record_ns(call: Callable[[], Any], count: int) -> float:
    begin = time.perf_counter_ns()
    for _ in range(count):
        call()
    return (time.perf_counter_ns() - begin) / count


def run(ctx: Context) -> list[Row]:
    from vizlog.records import from_json, to_json

    rows = []
    batch = max(2, ctx.sizes.repeats * 5)
    for kind, record in _records().items():
        new_line, old_line = to_json(record), list_to_json(record)
        for line in (new_line, old_line):  # both read back to an equal record
            back = from_json(line)
            for name in ("pixels", "bucket_limits", "bucket_counts"):
                if hasattr(record, name):
                    assert np.array_equal(getattr(back, name), getattr(record, name))
                    assert getattr(back, name).dtype == getattr(record, name).dtype
        samples = alternate({
            "new_encode": lambda r, record=record: _per_record_ns(lambda: to_json(record), batch),
            "old_encode": lambda r, record=record: _per_record_ns(
                lambda: list_to_json(record), batch),
            "new_decode": lambda r, line=new_line: _per_record_ns(lambda: from_json(line), batch),
            "old_decode": lambda r, line=old_line: _per_record_ns(lambda: from_json(line), batch),
        }, ctx.sizes.repeats)
        enc = median(samples["old_encode"]) / median(samples["new_encode"])
        dec = median(samples["old_decode"]) / median(samples["new_decode"])
        smaller = len(old_line) / len(new_line)
        rows.append(Row(
            case=f"10. spool codec, {kind} record",
            vizlog=float(len(new_line)), raw=float(len(old_line)), unit="bytes",
            ratio=smaller, target=">= 3x smaller, >= 5x faster to encode and to decode",
            met=smaller >= 3 and enc >= 5 and dec >= 5,
            notes={"encode_us": median(samples["new_encode"]) / 1e3,
                   "encode_us_json_lists": median(samples["old_encode"]) / 1e3,
                   "decode_us": median(samples["new_decode"]) / 1e3,
                   "decode_us_json_lists": median(samples["old_decode"]) / 1e3,
                   "encode_x": enc, "decode_x": dec},
            shown=(f"{len(new_line):,} B; encode {median(samples['new_encode']) / 1e3:,.0f} µs, "
                   f"decode {median(samples['new_decode']) / 1e3:,.0f} µs",
                   f"{len(old_line):,} B; {median(samples['old_encode']) / 1e3:,.0f} µs, "
                   f"{median(samples['old_decode']) / 1e3:,.0f} µs (x{enc:.1f}, x{dec:.1f})"),
        ))
    return rows
