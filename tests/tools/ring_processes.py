# SPDX-License-Identifier: MIT
"""Helpers of the zbctl tests in Python: helper processes holding rings, and checks that fail with a message."""
import os
import signal
import subprocess
import tempfile
import time


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Processes:
    """Starts helper processes and makes sure every one is stopped and every ring removed at the end."""

    def __init__(self, zbctl, holder):
        self.zbctl = zbctl
        self.holder = holder
        self.children = []
        self.rings = []
        self.tmp = tempfile.TemporaryDirectory()

    def start_holder(self, *args):
        log = open(os.path.join(self.tmp.name, f"holder{len(self.children)}.log"), "w+")
        child = subprocess.Popen([self.holder, *args], stdout=log, stderr=subprocess.STDOUT, text=True)
        self.children.append(child)
        return child, log

    def wait_for(self, holder, word, seconds=20):
        child, log = holder
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            log.seek(0)
            text = log.read()
            if word in text.split():
                return
            check(child.poll() is None, f"holder {child.args} exited {child.returncode}: {text}")
            time.sleep(0.05)
        raise Failure(f"holder {child.args} never printed {word}")

    def zbctl_run(self, *args):
        return subprocess.run([self.zbctl, *args], capture_output=True, text=True, timeout=60)

    def close(self):
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for ring in self.rings:
            if os.path.exists(f"/dev/shm/zb-{ring}"):
                self.zbctl_run("gc", ring)
        left = [ring for ring in self.rings if os.path.exists(f"/dev/shm/zb-{ring}")]
        self.tmp.cleanup()
        check(not left, f"rings left in /dev/shm: {left}")



    def kill(self, holder):
        """kill -9: a crashed process, whose slot or ring stays behind."""
        child, _ = holder
        child.kill()
        child.wait()
