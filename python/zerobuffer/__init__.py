# SPDX-License-Identifier: MIT
"""ZeroBuffer from Python: video frames in shared memory as numpy arrays and DLPack tensors, without copies.

    import zerobuffer as zb
    with zb.Reader("cam0", policy="latest") as reader:
        for frame in reader:                 # waits with the GIL released; Ctrl-C raises KeyboardInterrupt
            img = frame.array()              # read-only numpy view of the ring memory
            print(frame.sequence, frame.pts, img.shape, reader.format["pixel_format"])

Writer, Reader and Frame wrap the core's ring (docs/protocol.md); DuplexClient and DuplexServer its
request/response channel (docs/duplex.md). Errors are subclasses of zerobuffer.Error, one per core error code,
carrying the core's message. Usage and the semantics of every call: docs/python.md.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import enum
import fractions
import json
from typing import Any, AsyncIterator, Callable, Optional

import numpy as _np

from . import _zerobuffer
from ._zerobuffer import (  # noqa: F401 (re-exported)
    LIBRARY_VERSION,
    NO_TIMESTAMP,
    PROTOCOL_VERSION,
    AuthenticationFailed,
    Busy,
    ChecksumMismatch,
    CorruptSegment,
    Error,
    Frame,
    FrameTooLarge,
    InvalidArgument,
    InvalidState,
    NotFound,
    Reservation,
    SystemError,
    Timeout,
    VersionMismatch,
    WriterGone,
    default_layout,
    inspect_ring,
    list_rings,
    pixel_formats,
    remove_stale_ring,
)

__version__ = LIBRARY_VERSION

# SystemError is left out of __all__ so that `from zerobuffer import *` does not shadow the builtin.
__all__ = [
    "AuthenticationFailed", "Busy", "ChecksumMismatch", "CorruptSegment", "DuplexClient", "DuplexServer", "Error",
    "Frame", "FrameFlags", "FrameTooLarge", "InvalidArgument", "InvalidState", "NotFound", "Reader", "Reservation",
    "Timeout", "VersionMismatch", "Writer", "WriterGone", "default_layout", "inspect_ring", "list_rings",
    "pixel_formats", "remove_stale_ring", "stream_format", "video_format",
]

STREAM_FORMAT_SCHEMA = "zerobuffer.stream-format/1"
FRAME_USER_SHIFT = 16  # Bits 16..31 of Frame.flags are free for applications.


class FrameFlags(enum.IntFlag):
    """Bits of Frame.flags (the values are part of the ring protocol)."""

    NONE = 0
    KEYFRAME = 1 << 0
    DISCONTINUITY = 1 << 1
    END_OF_STREAM = 1 << 2
    HEADER = 1 << 3
    CORRUPTED = 1 << 4
    DROPPABLE = 1 << 5
    GAP = 1 << 6


def _error(cls: type, message: str) -> Error:
    """An exception of one of our classes, with the attributes the extension sets."""
    error = cls(message)
    error.code = cls.__name__
    error.message = message
    error.errno = 0
    return error


def _fraction(value: Any, key: str) -> dict:
    if isinstance(value, dict):
        return {"num": int(value["num"]), "den": int(value.get("den", 1))}
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return {"num": int(value[0]), "den": int(value[1])}
    if isinstance(value, str) and "/" in value:
        num, den = value.split("/", 1)
        return {"num": int(num), "den": int(den)}
    if isinstance(value, (int, float, fractions.Fraction)):
        exact = fractions.Fraction(value).limit_denominator(1001000)
        return {"num": exact.numerator, "den": exact.denominator}
    raise _error(InvalidArgument, f"{key} must be a fraction: (num, den), 'num/den', a number or a dict, not {value!r}")


def stream_format(format: Optional[dict] = None, /, **fields: Any) -> dict:
    """A stream-format document (docs/stream-format.md) from a dict and/or keyword fields.

    Fills what the schema leaves to the producer: media_type "video/x-raw" when a pixel_format is given, codec
    "raw", and for raw video without planes GStreamer's default plane layout and frame_size, so that
    zerobuffersrc, zb-record and readers agree on it. Fractions (framerate, pixel_aspect_ratio, time_base) may
    be given as (num, den), "num/den" or numbers; codec_extradata as bytes.
    """
    document = dict(format or {})
    document.update(fields)
    if "pixel_format" in document and "media_type" not in document:
        document["media_type"] = "video/x-raw"
    if "media_type" not in document:
        raise _error(InvalidArgument, "a stream format needs a media_type (or a pixel_format for raw video)")
    if document["media_type"] == "video/x-raw":
        document.setdefault("codec", "raw")
        pixel_format, width, height = (document.get(k) for k in ("pixel_format", "width", "height"))
        if "planes" not in document and pixel_format and width and height:
            layout = default_layout(pixel_format, int(width), int(height))
            if layout is None:
                raise _error(InvalidArgument, f"pixel format {pixel_format!r} has no default layout here: give "
                             "planes=[{'offset': ..., 'stride': ...}, ...] and frame_size yourself")
            document["planes"], size = layout
            document.setdefault("frame_size", size)
    for key in ("framerate", "pixel_aspect_ratio", "time_base"):
        if document.get(key) is not None:
            document[key] = _fraction(document[key], key)
    if isinstance(document.get("codec_extradata"), (bytes, bytearray, memoryview)):
        document["codec_extradata"] = base64.b64encode(bytes(document["codec_extradata"])).decode("ascii")
    return document


def video_format(pixel_format: str, width: int, height: int, *, framerate: Any = None, **fields: Any) -> dict:
    """The stream format of raw video: video_format("I420", 1920, 1080, framerate=30)."""
    if framerate is not None:
        fields["framerate"] = framerate
    return stream_format(pixel_format=pixel_format, width=width, height=height, **fields)


def _loads(text: str) -> dict:
    return json.loads(text) if text else {}


# Longest wait of one background acquire in the async API; the deadline and cancellation are exact anyway.
_ASYNC_SLICE = 0.25


class _AsyncWaits:
    """Waits of the async API: run on one background thread per object, so the event loop never blocks.

    A wait cancelled while its background call runs leaves that call's result for the next wait: a cancelled
    `await reader.acquire_async()` loses no frame.
    """

    _executor_: Optional[concurrent.futures.ThreadPoolExecutor] = None
    _pending_: Optional[asyncio.Future] = None

    def _async_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor_ is None:
            self._executor_ = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="zerobuffer-wait")
        return self._executor_

    async def _wait_async(self, poll: Callable[[float], Any], timeout: Optional[float], what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._pending_ is None or self._pending_.get_loop() is not loop:
                left = _ASYNC_SLICE if deadline is None else max(0.0, min(_ASYNC_SLICE, deadline - loop.time()))
                self._pending_ = loop.run_in_executor(self._async_executor(), poll, left)
            pending = self._pending_
            try:
                result = await asyncio.shield(pending)
            finally:
                if pending.done() and self._pending_ is pending:
                    self._pending_ = None
            if result is not None:
                return result
            if deadline is not None and loop.time() >= deadline:
                raise _error(Timeout, f"no {what} within {timeout} s")

    def _close_async(self) -> None:
        if self._executor_ is not None:
            self._executor_.shutdown(wait=False)
            self._executor_ = None
        self._pending_ = None


class Reader(_zerobuffer.Reader, _AsyncWaits):
    __doc__ = _zerobuffer.Reader.__doc__

    @property
    def format(self) -> dict:
        """The stream format of the newest frame acquired (before any: the ring's current one), as a dict."""
        return _loads(self._format_json())

    async def acquire_async(self, timeout: Optional[float] = None) -> Frame:
        """acquire() for asyncio: waits on a background thread, never blocking the event loop."""
        return await self._wait_async(self.try_acquire, timeout, f"frame on ring '{self.name}'")

    async def frames(self, timeout: Optional[float] = None) -> AsyncIterator[Frame]:
        """``async for frame in reader.frames()``: frames until the end of the stream or the writer is gone.

        `timeout` bounds each wait (Timeout when no frame came); None waits as long as the writer lives.
        """
        while True:
            try:
                frame = await self.acquire_async(timeout)
            except WriterGone:
                return
            if frame.end_of_stream:
                frame.release()
                return
            yield frame

    def close(self) -> None:
        """Detaches (once every frame of this reader is released). Idempotent."""
        self._close_async()
        super().close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _copy_planes(reservation: Reservation, data: Any) -> None:
    views = reservation.planes()
    planes = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    if len(planes) != len(views):
        raise _error(InvalidArgument, f"got {len(planes)} plane(s) but the stream format has {len(views)}")
    for index, (view, plane) in enumerate(zip(views, planes)):
        plane = _np.asarray(plane)
        if plane.shape != view.shape:
            raise _error(InvalidArgument, f"plane {index} has shape {plane.shape}, the stream format needs {view.shape}")
        _np.copyto(view, plane, casting="same_kind")


class _FormatSetter:
    def set_format(self, format: Optional[dict] = None, /, **fields: Any) -> int:
        """Publishes the stream format (a dict of docs/stream-format.md, or keyword fields; see stream_format()).

        Readers see it before the next frame; returns its generation.
        """
        return self._set_format_json(json.dumps(stream_format(format, **fields)))


class Writer(_zerobuffer.Writer, _FormatSetter):
    __doc__ = _zerobuffer.Writer.__doc__

    @property
    def format(self) -> dict:
        """The stream format last set with set_format(), as published (with its "schema" key); {} if none."""
        return _loads(self._format_json())

    def write(self, data: Any, *, pts: Optional[int] = None, dts: Optional[int] = None,
              duration: Optional[int] = None, flags: int = 0, metadata: bytes = b"") -> None:
        """Copies one frame in and commits it.

        `data` is any bytes-like object (copied as is), a numpy image shaped like the stream format's array
        (rows are copied into the format's padded strides), or a tuple of plane arrays for planar formats.
        """
        if isinstance(data, (tuple, list)) or (isinstance(data, _np.ndarray) and data.ndim > 1):
            with self.reserve(metadata_capacity=len(metadata)) as reservation:
                _copy_planes(reservation, data)
                reservation.commit(pts=pts, dts=dts, duration=duration, flags=flags, metadata=bytes(metadata))
            return
        self._write_bytes(data, pts=pts, dts=dts, duration=duration, flags=flags, metadata=metadata)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # A clean exit ends the stream; after an exception readers see the writer go without end-of-stream.
        self.close(end_of_stream=exc_type is None)


class DuplexClient(_zerobuffer.DuplexClient, _FormatSetter, _AsyncWaits):
    __doc__ = _zerobuffer.DuplexClient.__doc__

    def call(self, data: Any, *, timeout: Optional[float] = None, **info: Any) -> Frame:
        """Sends `data` as a request and waits for its response (other responses are kept for receive())."""
        sequence = self.send(data, **info)
        return self.receive_for(sequence, timeout=timeout)

    def _poll(self, slice_s: float) -> Optional[Frame]:
        try:
            return self.receive(slice_s)
        except Timeout:
            return None

    async def receive_async(self, timeout: Optional[float] = None) -> Frame:
        """receive() for asyncio, without blocking the event loop."""
        return await self._wait_async(self._poll, timeout, f"response on channel '{self.channel}'")

    def close(self) -> None:
        """Closes the request ring: the server sees this client go. Idempotent."""
        self._close_async()
        super().close()

    def __enter__(self) -> "DuplexClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class DuplexServer(_zerobuffer.DuplexServer, _FormatSetter, _AsyncWaits):
    __doc__ = _zerobuffer.DuplexServer.__doc__

    def _poll(self, slice_s: float) -> Optional[Frame]:
        try:
            return self.receive(slice_s)
        except Timeout:
            return None

    async def receive_async(self, timeout: Optional[float] = None) -> Frame:
        """receive() for asyncio, without blocking the event loop."""
        return await self._wait_async(self._poll, timeout, f"request on channel '{self.channel}'")

    def close(self) -> None:
        """Closes the response ring: the client sees the server go. Idempotent."""
        self._close_async()
        super().close()

    def __enter__(self) -> "DuplexServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
