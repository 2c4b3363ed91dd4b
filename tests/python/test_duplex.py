# SPDX-License-Identifier: MIT
"""The request/response channel from Python: matching by sequence, zero copy both ways, the death of either
side (a real process, killed), timeouts, a full response ring, one client at a time."""
import asyncio
import os
import signal
import threading
import time

import numpy as np
import pytest

import zerobuffer as zb
from conftest import bound
from test_cross_process import ring_mapping


def inside(array: np.ndarray, ring_name: str) -> bool:
    (start, end), = ring_mapping(ring_name)
    first = array.ctypes.data
    return start <= first and first + array.nbytes <= end


def expected_answer(sequence: int, body: bytes) -> bytes:
    return f"pong {sequence} ".encode() + body[::-1]


def connected_pair(channel: str, **options):
    """A server and a client in this process (the client connects while the server accepts)."""
    server = zb.DuplexServer(channel, **options)
    result = {}

    def connect():
        result["client"] = zb.DuplexClient(channel, connect_timeout=bound(10), **options)

    thread = threading.Thread(target=connect)
    thread.start()
    with pytest.raises(zb.Timeout):
        server.receive(timeout=bound(1))  # Accepts the client, then finds no request.
    thread.join()
    return server, result["client"]


def test_responses_match_requests_with_zero_copy_both_ways(ring, spawn):
    channel = ring()
    server = spawn("duplex-server", channel)
    server.expect("ready")
    with zb.DuplexClient(channel, connect_timeout=bound(10)) as client:
        bodies = [b"frame %d" % i * (i + 1) for i in range(5)]
        sequences = []
        for body in bodies[:3]:  # Copied in.
            sequences.append(client.send(body, pts=len(sequences)))
        for body in bodies[3:]:  # Reserved and filled in place.
            with client.reserve(len(body)) as request:
                assert inside(request.payload, channel + ".req")
                request.payload[:] = np.frombuffer(body, np.uint8)
                sequences.append(request.commit(pts=len(sequences)))
        assert sequences == [0, 1, 2, 3, 4] and client.pending == 5
        # Ask for the last first: the others arrive before it and are kept.
        last = client.receive_for(4, timeout=bound(10))
        assert last.request_sequence == 4 and bytes(last) == expected_answer(4, bodies[4])
        assert inside(last.array(), channel + ".resp"), "responses are read in place"
        rest = [client.receive(timeout=bound(10)) for _ in range(4)]
        assert sorted(r.request_sequence for r in rest) == [0, 1, 2, 3]
        for response in rest:
            assert bytes(response) == expected_answer(response.request_sequence, bodies[response.request_sequence])
            assert response.pts == response.request_sequence
        assert client.pending == 0
        assert bytes(client.call(b"abc", timeout=bound(10))) == expected_answer(5, b"abc")
        with pytest.raises(zb.InvalidArgument, match="not awaiting"):
            client.receive_for(2, timeout=0.1)
        del last, rest, response, request  # Frames and reservations keep the client (and its rings) alive.
    server.kill()
    zb.remove_stale_ring(channel + ".resp")


def test_the_client_learns_of_the_server_death_within_the_liveness_bound(ring, spawn):
    channel = ring()
    server = spawn("duplex-server", channel)
    server.expect("ready")
    client = zb.DuplexClient(channel, connect_timeout=bound(10), liveness_interval=0.05)
    assert bytes(client.call(b"x", timeout=bound(10))) == b"pong 0 x"
    server.kill()
    killed = time.monotonic()
    with pytest.raises(zb.WriterGone, match="server of channel"):
        client.receive(timeout=bound(5))
    assert time.monotonic() - killed < bound(0.1 + 0.1), "within two liveness intervals (and scheduling)"
    with pytest.raises(zb.WriterGone):
        client.send(b"anyone?")
    assert not client.server_alive
    client.close()
    # The client, the last reader of the dead server's ring, removed it as it closed.
    assert not os.path.exists("/dev/shm/zb-" + channel + ".resp")


def test_the_server_learns_of_the_client_death_and_serves_the_next_client(ring, spawn):
    channel = ring()
    with zb.DuplexServer(channel, liveness_interval=0.05) as server:
        client = spawn("duplex-client", channel)
        request = server.receive(timeout=bound(10))
        assert bytes(request) == b"ping" and request.request_sequence == 0
        client.expect("sent")
        client.kill()
        killed = time.monotonic()
        with pytest.raises(zb.WriterGone, match="client of channel"):
            server.receive(timeout=bound(5))
        assert time.monotonic() - killed < bound(0.2)
        assert bytes(request) == b"ping"  # Held requests stay readable after their client died.
        with pytest.raises(zb.WriterGone, match="dropped"):
            server.respond(request, b"too late")
        request.release()
        assert not server.client_connected
        # A new client is served; numbering starts again.
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("c", zb.DuplexClient(channel, connect_timeout=bound(10))))
        thread.start()
        with pytest.raises(zb.Timeout):
            server.receive(timeout=bound(1))
        thread.join()
        second = result["c"]
        second.send(b"again")
        request = server.receive(timeout=bound(5))
        assert request.request_sequence == 0 and server.clients_accepted == 2
        server.respond(request, b"ok")
        assert bytes(second.receive(timeout=bound(5))) == b"ok"
        second.close()


def test_timeouts_busy_and_a_full_response_ring_are_clear_errors(ring):
    channel = ring()
    with pytest.raises(zb.Timeout, match="no server for channel"):
        zb.DuplexClient(channel, connect_timeout=0.1)
    server, client = connected_pair(channel, ring_size=64 * 1024, full_timeout=0.1)
    with server, client:
        with pytest.raises(zb.Busy):
            zb.DuplexServer(channel)
        with pytest.raises(zb.Busy):
            zb.DuplexClient(channel, connect_timeout=0.1)
        with pytest.raises(zb.Timeout, match="no response"):
            client.receive(timeout=0.05)
        with pytest.raises(zb.Timeout, match="no request"):
            server.receive(timeout=0.05)
        held = []
        with pytest.raises(zb.Timeout, match="response ring of channel .* is full"):
            for _ in range(64):  # The client holds every response: the ring fills.
                client.send(b"r")
                request = server.receive(timeout=bound(5))
                with server.reserve(request, 16 * 1024) as response:
                    response.commit()
                held.append(client.receive(timeout=bound(5)))
        assert len(held) >= 2
        held.clear()  # Released: room again.
        with server.reserve(request, 16 * 1024) as response:
            response.commit()
        with pytest.raises(zb.InvalidArgument, match="not awaiting"):
            server.respond(request, b"twice")


@pytest.mark.parametrize("how", ["connect", "reserve"])
def test_ctrl_c_while_connecting_or_waiting_for_room_raises_keyboard_interrupt(ring, spawn, how):
    channel = ring()
    server = zb.DuplexServer(channel, ring_size=64 * 1024) if how == "reserve" else None
    child = spawn("sigint-duplex", channel, how)
    held = server.receive(timeout=bound(10)) if server is not None else None  # Accepts; reads no more.
    child.expect("waiting")
    time.sleep(0.3)  # Well inside the wait.
    sent = time.monotonic_ns()
    child.process.send_signal(signal.SIGINT)
    words = child.line().split()
    assert words[0] == "interrupted", words
    delay = (int(words[1]) - sent) / 1e9
    assert delay < bound(0.2), f"KeyboardInterrupt came {delay * 1000:.1f} ms after SIGINT"
    assert child.wait() == 0
    if server is not None:
        del held
        server.close()


def test_formats_arrays_and_asyncio_on_a_channel(ring):
    channel = ring()
    server, client = connected_pair(channel)
    with server, client:
        client.set_format(zb.video_format("GRAY8", 33, 9))
        server.set_format(zb.video_format("RGB", 3, 2))
        with client.reserve() as request:
            assert request.array().shape == (9, 33, 1)
            request.array()[:] = 200
            sequence = request.commit()
        received = server.receive(timeout=bound(5))
        assert received.array().shape == (9, 33, 1) and int(received.array().min()) == 200
        with server.reserve(received) as response:
            response.array()[:] = (1, 2, 3)
            response.commit()

        async def get():
            return await client.receive_async(timeout=bound(5))

        answer = asyncio.run(get())
        assert answer.request_sequence == sequence
        assert answer.array().shape == (2, 3, 3) and answer.array()[1, 2].tolist() == [1, 2, 3]
        assert answer.format["pixel_format"] == "RGB"
