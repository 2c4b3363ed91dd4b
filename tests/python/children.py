# SPDX-License-Identifier: MIT
"""Child processes of the Python module's tests: `python3 children.py ROLE ARGS...` (same interpreter and
PYTHONPATH as pytest). Each role prints status lines the test waits for."""
import inspect
import sys
import time

import numpy as np

import zerobuffer as zb


def pattern(index: int, size: int) -> np.ndarray:
    """Frame `index` of the pattern stream: every byte is index % 251 (so a reused frame shows)."""
    return np.full(size, index % 251, dtype=np.uint8)


def pattern_writer(name: str, count: str, size: str, ring_size: str, interval: str) -> None:
    """Writes COUNT pattern frames, one every INTERVAL s, prints "done", then waits for stdin to close."""
    with zb.Writer(name, ring_size=int(ring_size), reader_timeout=1.0) as writer:
        writer.set_format(media_type="application/octet-stream")
        print("ready", flush=True)
        writer.wait_for_readers(1, timeout=30)
        for index in range(int(count)):
            writer.write(pattern(index, int(size)), pts=index)
            time.sleep(float(interval))
        print("done", flush=True)
        sys.stdin.read()


def video_writer(name: str, pixel_format: str, width: str, height: str) -> None:
    """Creates a raw-video ring, writes one random frame, prints its payload hex digest, then waits for stdin."""
    import hashlib
    with zb.Writer(name) as writer:
        writer.set_format(zb.video_format(pixel_format, int(width), int(height), framerate=(30, 1)))
        print("ready", flush=True)
        writer.wait_for_readers(1, timeout=30)
        with writer.reserve() as reservation:
            reservation.payload[:] = np.random.default_rng(7).integers(0, 256, reservation.size, dtype=np.uint8)
            digest = hashlib.blake2b(bytes(reservation.payload), digest_size=32).hexdigest()
            reservation.commit(pts=0)
        print(f"written {digest}", flush=True)
        sys.stdin.read()


def sigint_reader(name: str, how: str) -> None:
    """Waits for a frame that never comes (by acquire(), iteration or frames()); on Ctrl-C prints the time."""
    reader = zb.Reader(name, wait=30)
    print("waiting", flush=True)
    try:
        if how == "acquire":
            reader.acquire()
        elif how == "iterate":
            for _ in reader:
                pass
        else:
            import asyncio

            async def wait_async():
                async for _ in reader.frames():
                    pass

            asyncio.run(wait_async())
        print("no interrupt", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic_ns()}", flush=True)


def duplex_server(channel: str) -> None:
    """Answers every request with b"pong N " + the request's bytes reversed, in place; runs until killed."""
    with zb.DuplexServer(channel) as server:
        print("ready", flush=True)
        while True:
            try:
                request = server.receive()
            except zb.WriterGone:
                continue  # The client went: serve the next one.
            body = np.asarray(request.array())[::-1]
            head = f"pong {request.request_sequence} ".encode()
            with server.reserve(request, len(head) + body.size) as response:
                response.payload[: len(head)] = np.frombuffer(head, np.uint8)
                response.payload[len(head):] = body
                response.commit(pts=request.pts)
            request.release()


def duplex_client(channel: str) -> None:
    """Connects, sends one request, prints "sent", then sleeps until killed."""
    client = zb.DuplexClient(channel, connect_timeout=30)
    client.send(b"ping")
    print("sent", flush=True)
    time.sleep(3600)


def sigint_duplex(channel: str, how: str) -> None:
    """Waits in the duplex channel (HOW: "connect" to a channel with no server, "reserve" in a request ring its
    server never reads); on Ctrl-C prints the time."""
    try:
        if how == "connect":
            print("waiting", flush=True)
            zb.DuplexClient(channel, connect_timeout=30)
        else:
            client = zb.DuplexClient(channel, connect_timeout=30, ring_size=64 * 1024, full_timeout=30)
            while True:  # The server accepted but never reads: the request ring fills, then reserve waits.
                try:
                    with client.reserve(16 * 1024, timeout=0.05) as request:
                        request.commit()
                except zb.Timeout:
                    break
            print("waiting", flush=True)
            client.reserve(16 * 1024)
        print("no interrupt", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic_ns()}", flush=True)


ROLES = {
    "pattern-writer": pattern_writer,
    "video-writer": video_writer,
    "sigint-reader": sigint_reader,
    "duplex-server": duplex_server,
    "duplex-client": duplex_client,
    "sigint-duplex": sigint_duplex,
}

USAGE = "Usage: children.py ROLE ARGS...  (roles: " + ", ".join(ROLES) + "; see each role's docstring)"


def main(args: list) -> int:
    if any(arg in ("-h", "--help") for arg in args):
        print(USAGE)
        print(__doc__)
        return 0
    role = ROLES.get(args[0]) if args else None
    parameters = inspect.signature(role).parameters if role else {}
    if role is None or len(args) - 1 != len(parameters):
        wanted = f"{args[0]} takes {' '.join(p.upper() for p in parameters)}" if role else "unknown or missing ROLE"
        print(f"children.py: {wanted}\n{USAGE}", file=sys.stderr)
        return 2
    role(*args[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
