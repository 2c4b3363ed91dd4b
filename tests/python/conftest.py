# SPDX-License-Identifier: MIT
"""Shared fixtures of the Python module's tests: unique ring names with a /dev/shm leak check, paths of the
programs under test (set by tests/python/meson.build), child processes, and time bounds scaled like the C++
tests' (ZB_TEST_TIME_SCALE)."""
import itertools
import os
import pathlib
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest

import zerobuffer as zb

HERE = pathlib.Path(__file__).resolve().parent
CHILDREN = HERE / "children.py"
_names = itertools.count()


def time_scale() -> float:
    try:
        return max(1.0, float(os.environ.get("ZB_TEST_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


def bound(seconds: float) -> float:
    """A generous time bound, stretched on slow (sanitizer, loaded) runs."""
    return seconds * time_scale()


def program(variable: str) -> str:
    """Path of a program under test, from the environment meson test sets."""
    path = os.environ.get(variable)
    if not path:
        pytest.fail(f"{variable} is not set: run these tests through `meson test -C BUILD --suite python`")
    return path


def shm_entries(prefix: str) -> list:
    return sorted(p for p in os.listdir("/dev/shm") if p.startswith(prefix))


@pytest.fixture
def ring(request):
    """ring() -> a ring (or channel) name unique to this test; fails the test if any is left in /dev/shm."""
    tag = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:60]
    prefix = f"zbpy-{os.getpid()}-{tag}-"

    def make(suffix: str = "") -> str:
        return f"{prefix}{next(_names)}{suffix}"

    yield make
    left = []
    for _ in range(20):  # Killed children may still be exiting; their rings go with them or stay stale.
        left = shm_entries("zb-" + prefix)
        if not left:
            break
        time.sleep(0.05)
    for entry in left:
        try:
            zb.remove_stale_ring(entry[3:])
        except zb.Error:
            os.unlink("/dev/shm/" + entry)
    assert not left, f"the test left rings in /dev/shm: {left}"


class Child:
    """A child process with line-based stdout; killed at the end of the test if still running."""

    def __init__(self, args, env=None):
        self.args = [str(a) for a in args]
        # stdin is a pipe: children that wait for "the end" wait for it to close (close_stdin()).
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=env, stdin=subprocess.PIPE)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    def line(self, timeout: float = 10.0) -> str:
        """The next stdout line (without newline); fails the test on EOF or timeout."""
        deadline = time.monotonic() + bound(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no output from {self.args} within {bound(timeout)} s")
            if self._selector.select(left):
                text = self.process.stdout.readline()
                if not text:
                    self.process.wait(5)
                    pytest.fail(f"{self.args} exited ({self.process.returncode}) early: {self.process.stderr.read()}")
                return text.rstrip("\n")

    def expect(self, expected: str, timeout: float = 10.0) -> None:
        got = self.line(timeout)
        assert got == expected, f"{self.args}: expected {expected!r}, got {got!r}"

    def close_stdin(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(bound(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.args} did not exit within {bound(timeout)} s")

    def finish(self, timeout: float = 30.0) -> str:
        """Closes stdin, waits for a successful exit; returns the rest of stdout."""
        out, err = self.process.communicate(timeout=bound(timeout))
        assert self.process.returncode == 0, f"{self.args} failed ({self.process.returncode}): {err}"
        return out

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream and not stream.closed:
                stream.close()
        self._selector.close()


@pytest.fixture
def spawn():
    """spawn(role, *args) runs tests/python/children.py ROLE ARGS with this Python; spawn.program(argv) any program."""
    children = []

    def python_child(role, *args):
        child = Child([sys.executable, CHILDREN, role, *args])
        children.append(child)
        return child

    def any_program(args, env=None):
        child = Child(args, env=env)
        children.append(child)
        return child

    python_child.program = any_program
    yield python_child
    for child in children:
        child.close()


def gst_env(tmp_path) -> dict:
    """The environment of gst-launch-1.0 with our plugin from the build tree and a registry of its own."""
    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = program("ZB_GST_PLUGIN_DIR")
    env["GST_REGISTRY"] = str(tmp_path / "registry.bin")
    return env
