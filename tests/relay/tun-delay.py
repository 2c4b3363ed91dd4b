#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Delays (and reorders) IP packets that the kernel routes into a TUN device, then hands them back to it.

A stand-in for `tc qdisc ... netem delay D reorder P%` on kernels without sch_netem (relay-netfault-test.sh): a
router network namespace routes the packets it forwards into TUN device DEV (ip rule iif ... lookup TABLE), this
program reads each one, holds it DELAY ms and writes it back into DEV, from where the kernel routes it on to its
destination. With --reorder-percent P, P % of the packets are sent on at once instead (netem's `reorder`), so
they overtake the ones held. On SIGTERM or SIGINT it prints its counters (packets, held, sent at once, largest
queue) on stdout and exits 0.
"""
import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65536


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Delay and reorder the packets routed into a TUN device (netem's delay and reorder).")
    parser.add_argument("--dev", required=True, help="the TUN device (made with `ip tuntap add dev DEV mode tun`)")
    parser.add_argument("--delay-ms", type=float, required=True, help="how long each packet is held")
    parser.add_argument("--reorder-percent", type=float, default=0.0,
                        help="packets sent on at once, overtaking the held ones (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the reorder choice (default 1)")
    args = parser.parse_args(argv)
    if args.delay_ms < 0 or args.delay_ms > 10_000:
        parser.error(f"--delay-ms {args.delay_ms} is out of range (0..10000)")
    if not 0 <= args.reorder_percent <= 100:
        parser.error(f"--reorder-percent {args.reorder_percent} is out of range (0..100)")
    if not args.dev or len(args.dev) > 15:
        parser.error(f"--dev '{args.dev}' is not an interface name (1..15 characters)")
    return args


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def run(args):
    try:
        fd = open_tun(args.dev)
    except OSError as error:
        print(f"tun-delay.py: error: cannot attach to TUN device '{args.dev}': {error}", file=sys.stderr)
        return 1
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    chooser = random.Random(args.seed)
    delay = args.delay_ms / 1000.0
    held = []  # (release time, arrival number, packet): a heap, so equal times keep their order
    counts = {"packets": 0, "held": 0, "sent_at_once": 0, "largest_queue": 0, "write_errors": 0}
    print(f"tun-delay: forwarding on {args.dev}, delay {args.delay_ms} ms, reorder {args.reorder_percent} %",
          flush=True)
    while not stopping:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, packet = heapq.heappop(held)
            try:
                os.write(fd, packet)
            except OSError:
                counts["write_errors"] += 1  # The route may be gone (link cut): like a wire, drop the packet.
        timeout = max(0.0, held[0][0] - now) if held else 0.5
        try:
            readable, _, _ = select.select([fd], [], [], timeout)
        except InterruptedError:
            continue
        if not readable:
            continue
        while True:
            try:
                packet = os.read(fd, MAX_PACKET)
            except BlockingIOError:
                break
            counts["packets"] += 1
            if args.reorder_percent > 0 and chooser.random() * 100 < args.reorder_percent:
                counts["sent_at_once"] += 1
                release = time.monotonic()
            else:
                counts["held"] += 1
                release = time.monotonic() + delay
            heapq.heappush(held, (release, counts["packets"], packet))
            counts["largest_queue"] = max(counts["largest_queue"], len(held))
    print("tun-delay: " + ", ".join(f"{key} {value}" for key, value in counts.items()), flush=True)
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_args(sys.argv[1:])))
