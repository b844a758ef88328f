"""The Logger: the facade.  It is the one place that looks at user input.

Each call is checked and converted once (``vizlog.concepts``), stamped with tag, step and
walltime, turned into one record (``vizlog.records``) and handed to every backend in use
(``vizlog.delivery``).  A bad argument raises here, before any backend sees anything, so
nothing of a bad call is written.  The backends, step numbering, flush and close live in
``vizlog.fanout``; process lifetime (exit, signals, fork) in
``vizlog.lifecycle``, ranks in ``vizlog.distributed``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

from vizlog import distributed, records
from vizlog.concepts import (
    audio,
    common,
    custom_scalars,
    embedding,
    graph,
    histogram_call,
    hparams,
    image,
    mesh,
    pr_curve,
    scalar,
    tensorboard_event,
    video,
)
from vizlog.concepts.common import STEP_MAX, STEP_MIN
from vizlog.concepts.figure import figure_pixels
from vizlog.deferred import Pending
from vizlog.errors import VizlogTypeError
from vizlog.fanout import FanOut
from vizlog.records import Histogram, Record, Scalar, Scalars

#: a ``scalars`` call's value types on the quick path (a set: checked without a loop)
_FLOAT_ONLY = frozenset({float})


class Logger(FanOut):
    """Logs training data to one or several backends.

    Args:
        backend: ``"tensorboard"``, ``"tensorboardx"``, ``"visdom"``, ``"fake"``, ``"none"``,
            a comma-separated string or a list of these.  ``None`` reads ``VIZLOG_BACKEND``
            (default ``"tensorboard"``).
        logdir: the run's directory, or an fsspec URL (``s3://bucket/run``, ``gs://...``) for
            the TensorBoard backends.  ``None`` reads ``VIZLOG_LOGDIR``, else
            ``runs/<date>-<time>_<host>``.
        all_ranks: under distributed training only rank 0 logs by default; with
            ``all_ranks=True`` every rank logs into ``<logdir>/rank<r>``.
        queue_size: records a background backend may hold before a logging call waits.
        system_metrics: sample CPU, memory and GPU metrics under ``system/`` from a background
            thread (``vizlog.system_metrics``); ``None`` reads ``VIZLOG_SYSTEM_METRICS``.
        system_interval: seconds between two samples; ``None`` reads
            ``VIZLOG_SYSTEM_INTERVAL`` (default 10).
        **backend_options: passed to the backends that take them (for example ``server`` and
            ``env`` for Visdom, ``flush_secs`` and ``storage_options`` (the store's fsspec
            options: ``endpoint_url``, ``key``, ...) for TensorBoard).
    """

    # ------------------------------------------------------------------ the concepts

    def scalar(self, tag: str, value: Any, step: int | None = None,
               walltime: float | None = None, *, reduce: str | None = None,
               style: tuple[str, str, str] | tuple[()] = ()) -> None:
        """One number.  NaN and infinities are logged as they are, with one warning per tag.

        ``reduce`` (``"mean"``, ``"sum"``, ``"max"``, ``"min"``) combines the value across
        the ranks of ``torch.distributed`` before rank 0 logs it.  It is a collective: every
        rank must make the same call, in the same order, or training hangs.  ``style`` is
        ``(precision, display_name, description)`` for TensorBoard, as the drop-in's
        ``add_scalar(new_style=, double_precision=, display_name=, summary_description=)``.
        """
        if (type(value) is float and type(step) is int and type(tag) is str
                and tag in self._known_tags and walltime is None and reduce is None
                and not style and STEP_MIN <= step <= STEP_MAX):
            # the quick path (``fanout.MAX_KNOWN_TAGS``): known tags are emptied at close
            self._scalar_steps[tag] = step
            packed = (Scalar, tag, step, time.time(), value)
            for put in self._puts:
                put(packed)
            if value - value:  # NaN or infinite (no call: this runs on every step)
                self._warn_not_finite(tag, value, step)
            return
        if reduce is not None:
            value = distributed.all_reduce(value, reduce)
        if not self._active():
            return
        tag = self._known(common.check_tag(tag, "scalar"))
        wall = self._walltime(walltime, "scalar")
        if style:
            style = scalar.check_style(style)
        if common.is_cuda(value):
            # .item() would wait for the GPU; read it on the delivery thread instead
            common.check_one_number(value, "scalar", "value")
            read = scalar.read_later(value)

            def later(s: int) -> Pending:
                def make() -> Scalar:
                    number = read()
                    if not math.isfinite(number):
                        self._warn_not_finite(tag, number, s)
                    return Scalar(tag, s, wall, number, style)
                return Pending(make)

            self._emit("scalar", tag, step, "scalar", later)
            return
        number = common.to_scalar(value, "scalar", "value")
        used = self._emit("scalar", tag, step, "scalar",
                          lambda s: Scalar(tag, s, wall, number, style))
        if used is not None and not math.isfinite(number):
            self._warn_not_finite(tag, number, used)

    def _warn_not_finite(self, tag: str, number: float, step: int) -> None:
        self.warn_once("scalar", tag, f"vizlog: scalar {tag!r} is {number} at step {step}")

    def scalars(self, main_tag: str, tag_value_dict: dict[str, Any], step: int | None = None,
                walltime: float | None = None) -> None:
        """Several numbers drawn in one chart, one line per key."""
        known = self._known_tags
        if (type(tag_value_dict) is dict and type(step) is int and type(main_tag) is str
                and main_tag in known and walltime is None and tag_value_dict
                and known.issuperset(tag_value_dict)
                and _FLOAT_ONLY.issuperset(map(type, tag_value_dict.values()))
                and STEP_MIN <= step <= STEP_MAX):
            self._scalars_steps[main_tag] = step
            values = dict(tag_value_dict)
            packed = (Scalars, main_tag, step, time.time(), values)
            for put in self._puts:
                put(packed)
            used: int | None = step
        else:
            if not self._active():
                return
            main_tag = self._known(common.check_tag(main_tag, "scalars", "main_tag"))
            values = scalar.scalar_dict(tag_value_dict)
            for key in values:
                self._known(key)
            wall = self._walltime(walltime, "scalars")
            used = self._emit("scalars", main_tag, step, "scalars",
                              lambda s: Scalars(main_tag, s, wall, values))
        if used is not None and not all(map(math.isfinite, values.values())):
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            self.warn_once("scalars", main_tag,
                           f"vizlog: scalars {main_tag!r} has non-finite {bad} at step {used}")

    def histogram(self, tag: str, values: Any, step: int | None = None,
                  bins: Any = "tensorflow", walltime: float | None = None,
                  max_bins: int | None = None) -> None:
        """The distribution of ``values``, binned once (``bins`` and ``max_bins`` as in
        ``add_histogram``).

        NaN and infinities cannot be binned: they are left out, with one warning per tag.
        """
        if not self._active():
            return
        tag = common.check_tag(tag, "histogram")
        wall = self._walltime(walltime, "histogram")
        fields, dropped, kept = histogram_call.prepare(values, bins, max_bins)

        def make(s: int) -> Record | Pending:
            if isinstance(fields, dict):
                return Histogram(tag, s, wall, **fields)

            def later() -> Histogram | None:
                done = fields()
                if dropped is None:  # a CUDA tensor: known once binned
                    self._warn_dropped(tag, s, int(done["dropped"]), int(done["num"]))
                return Histogram(tag, s, wall, **done) if done["num"] else None
            return Pending(later)

        used = self._emit("histogram", tag, step, "histogram", make)
        if used is not None and dropped is not None:
            self._warn_dropped(tag, used, dropped, kept)

    def _warn_dropped(self, tag: str, step: int, dropped: int, kept: int) -> None:
        if kept == 0:
            self.warn_once("histogram-empty", tag,
                           f"vizlog: histogram {tag!r} at step {step} has no finite values; "
                           "nothing was logged for it")
        elif dropped:
            self.warn_once("histogram", tag,
                           f"vizlog: histogram {tag!r} at step {step}: left out {dropped} "
                           "NaN/infinite values")

    def histogram_raw(self, tag: str, min: Any, max: Any, num: Any, sum: Any,
                      sum_squares: Any, bucket_limits: Any, bucket_counts: Any,
                      step: int | None = None, walltime: float | None = None) -> None:
        """A histogram binned elsewhere: right edges and one count per bucket."""
        if not self._active():
            return
        tag = common.check_tag(tag, "histogram_raw")
        fields = histogram_call.raw_fields(min, max, num, sum, sum_squares, bucket_limits,
                                           bucket_counts)
        wall = self._walltime(walltime, "histogram_raw")
        self._emit("histogram", tag, step, "histogram_raw",
                   lambda s: Histogram(tag, s, wall, **fields))

    def image(self, tag: str, img: Any, step: int | None = None, dataformats: str | None = None,
              walltime: float | None = None) -> None:
        """A picture, or a batch (4-D) shown as a grid.

        ``dataformats`` (``"CHW"``, ``"HWC"``, ``"HW"``, ``"NCHW"``, ``"NHWC"``) is inferred
        when the shape allows only one.  uint8 means 0-255; floats mean 0-1 and are clipped to
        it (NaN shows black); other integers are clipped to 0-255.
        """
        if not self._active():
            return
        tag = common.check_tag(tag, "image")
        pixels, tiles = image.image_grid(img, dataformats)
        wall = self._walltime(walltime, "image")
        self._emit("image", tag, step, "image",
                   lambda s: records.Image(tag, s, wall, pixels, tiles))

    def figure(self, tag: str, figure: Any, step: int | None = None, close: bool = True,
               walltime: float | None = None) -> None:
        """A matplotlib figure (or a list of same-sized ones, as a grid), rendered once to
        pixels; ``close`` closes the figures afterwards, as the writers do."""
        if not self._active():
            return
        tag = common.check_tag(tag, "figure")
        wall = self._walltime(walltime, "figure")
        if step is not None:
            common.to_step(step, "figure")  # checked before the figures are closed
        pixels = figure_pixels(figure, close)
        self._emit("figure", tag, step, "figure", lambda s: records.Figure(tag, s, wall, pixels))

    def embedding(self, mat: Any, metadata: Any = None, label_img: Any = None,
                  step: int | None = None, tag: str = "default",
                  metadata_header: Sequence[str] | None = None) -> None:
        """Points for the projector: ``mat`` (N, D), one metadata row and one label image
        (NCHW) per point."""
        if not self._active():
            return
        tag = common.check_tag(tag, "embedding")
        fields = embedding.embedding_fields(mat, metadata, label_img, metadata_header)
        wall = time.time()
        self._emit("embedding", tag, step, "embedding",
                   lambda s: records.Embedding(tag, s, wall, **fields))

    def graph(self, model: Any, input_to_model: Any = None, *,
              use_strict_trace: bool = True) -> None:
        """The model's graph, traced on ``input_to_model``.  A model that cannot be traced
        gives a warning with the reason; its module structure is still logged."""
        if not self._active():
            return
        graph.check_model(model, use_strict_trace)
        graph_def, failure = graph.trace_graph_def(model, input_to_model, use_strict_trace)
        if failure is not None:
            warnings.warn(
                f"vizlog: cannot trace the graph of {type(model).__name__}: {failure}; only its "
                "module structure is logged",
                RuntimeWarning,
                stacklevel=2,
            )
        structure = graph.module_structure(model)
        wall = time.time()
        self._emit("graph", "graph", None, "graph",
                   lambda s: records.Graph("graph", s, wall, graph_def, structure))

    def pr_curve(self, tag: str, labels: Any, predictions: Any, step: int | None = None,
                 num_thresholds: int = 127, weights: Any = None,
                 walltime: float | None = None) -> None:
        """Precision-recall curve of binary ``labels`` against ``predictions`` in [0, 1]."""
        if not self._active():
            return
        tag = common.check_tag(tag, "pr_curve")
        fields = pr_curve.pr_curve_fields(labels, predictions, num_thresholds, weights)
        wall = self._walltime(walltime, "pr_curve")
        self._emit("pr_curve", tag, step, "pr_curve",
                   lambda s: records.PRCurve(tag, s, wall, **fields))

    def pr_curve_raw(self, tag: str, true_positive_counts: Any, false_positive_counts: Any,
                     true_negative_counts: Any, false_negative_counts: Any, precision: Any,
                     recall: Any, step: int | None = None, num_thresholds: int = 127,
                     weights: Any = None, walltime: float | None = None) -> None:
        """A PR curve computed elsewhere: six arrays of one length (``weights`` is accepted,
        and unused, as by the writers)."""
        if not self._active():
            return
        tag = common.check_tag(tag, "pr_curve_raw")
        fields = pr_curve.raw_fields((true_positive_counts, false_positive_counts,
                                      true_negative_counts, false_negative_counts, precision,
                                      recall), num_thresholds)
        wall = self._walltime(walltime, "pr_curve_raw")
        self._emit("pr_curve", tag, step, "pr_curve_raw",
                   lambda s: records.PRCurve(tag, s, wall, **fields))

    def text(self, tag: str, text: str, step: int | None = None,
             walltime: float | None = None) -> None:
        """A note.  TensorBoard renders it as Markdown; Visdom shows it escaped, as data."""
        if not self._active():
            return
        tag = common.check_tag(tag, "text")
        if not isinstance(text, str):
            raise VizlogTypeError(f"text(text=...): expected a string, got {type(text).__name__}")
        common.check_text(text, "text", "text")
        wall = self._walltime(walltime, "text")
        self._emit("text", tag, step, "text", lambda s: records.Text(tag, s, wall, text))

    def hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any] | None = None,
                run_name: str | None = None, *, step: int | None = None,
                hparam_domain_discrete: dict[str, Any] | None = None) -> None:
        """The run's hyperparameters, and the scalar tags that measure it.

        Written into the run itself: each metric is a scalar series of the run, and
        TensorBoard's HParams tab shows its latest value as training goes on.  Numbers given
        in ``metric_dict`` are logged as points of those series (None only names a metric).
        ``run_name`` writes them into the sub-run ``<logdir>/<run_name>`` instead, as the
        writers' ``add_hparams`` does (one run per trial of a sweep).
        """
        if not self._active():
            return
        fields = hparams.hparams_fields(hparam_dict, metric_dict, hparam_domain_discrete,
                                        run_name)
        if step is not None:
            common.to_step(step, "hparams")
        wall, run = time.time(), fields["run"]

        def make(s: int) -> list[Record]:
            made: list[Record] = [records.HParams(run or "hparams", s, wall, **fields)]
            if run is None:  # the values are points of the run's own series
                made += [Scalar(tag, self._step("scalar", tag, step, "hparams"), wall, value)
                         for tag, value in hparams.numbers(fields["metrics"]).items()]
            return made

        self._emit("hparams", run or "", step, "hparams", make)

    def audio(self, tag: str, snd_tensor: Any, step: int | None = None,
              sample_rate: int = 44100, walltime: float | None = None) -> None:
        """Sound in [-1, 1]: (L,) or (1, L) mono, (L, 2) stereo; louder samples are clipped,
        with one warning per tag.  Written as 16-bit WAV."""
        if not self._active():
            return
        tag = common.check_tag(tag, "audio")
        samples, clipped = audio.audio_samples(snd_tensor)
        rate = audio.check_sample_rate(sample_rate)
        wall = self._walltime(walltime, "audio")
        used = self._emit("audio", tag, step, "audio",
                          lambda s: records.Audio(tag, s, wall, samples, rate))
        if clipped and used is not None:
            self.warn_once("audio", tag, f"vizlog: audio {tag!r} at step {used} goes beyond "
                           "[-1, 1]; it was clipped")

    def video(self, tag: str, vid_tensor: Any, step: int | None = None, fps: float = 4,
              walltime: float | None = None, dataformats: str = "NTCHW") -> None:
        """A batch of videos (N, T, C, H, W), tiled into one grid per frame, or one video
        (T, C, H, W); uint8 means 0-255, floats 0-1.  Shown as an animated GIF."""
        if not self._active():
            return
        tag = common.check_tag(tag, "video")
        frames = video.video_frames(vid_tensor, dataformats)
        rate = video.check_fps(fps)
        wall = self._walltime(walltime, "video")
        self._emit("video", tag, step, "video", lambda s: Pending(  # encoded off this thread
            lambda: records.Video(tag, s, wall, frames, rate, video.gif_bytes(frames, rate))))

    def mesh(self, tag: str, vertices: Any, colors: Any = None, faces: Any = None,
             config_dict: dict[str, Any] | None = None, step: int | None = None,
             walltime: float | None = None) -> None:
        """A mesh or point cloud: vertices (B, N, 3), colors (B, N, 3), faces (B, F, 3)."""
        if not self._active():
            return
        tag = common.check_tag(tag, "mesh")
        fields = mesh.mesh_fields(vertices, colors, faces, config_dict)
        wall = self._walltime(walltime, "mesh")
        self._emit("mesh", tag, step, "mesh", lambda s: records.Mesh(tag, s, wall, **fields))

    def custom_scalars(self, layout: dict[str, Any]) -> None:
        """Charts that draw several scalar tags together (TensorBoard's CUSTOM SCALARS):
        ``{category: {title: ["Multiline", [tags]] or ["Margin", [value, lower, upper]]}}``.
        A later call replaces the layout, as with the writers."""
        if not self._active():
            return
        checked = custom_scalars.check_layout(layout)
        wall = time.time()
        self._emit("custom_scalars", "custom_scalars", None, "custom_scalars",
                   lambda s: records.CustomScalars("custom_scalars", s, wall, checked))

    def tensorboard_event(self, event: Any, step: int | None = None,
                          walltime: float | None = None) -> None:
        """A TensorBoard ``Event`` or ``Summary`` protobuf you built, written as it is by the
        TensorBoard backends (``step``/``walltime`` None keep the event's own); the other
        backends show a one-line description of it."""
        if not self._active():
            return
        if step is not None:
            step = common.to_step(step, "tensorboard_event")
        wall = None if walltime is None else common.to_walltime(walltime, "tensorboard_event")
        f = tensorboard_event.event_fields(event, step, wall)
        self._emit("tensorboard_event", f["tag"], f["step"], "tensorboard_event",
                   lambda s: records.TensorBoardEvent(f["tag"], s, f["walltime"], f["event"],
                                                      f["note"]))
