#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: relay-netfault-test.sh CASE ZB_RELAY ZB_RELAY_PEER   (needs root)
# CASE: delay, loss, reorder, rate-4k, link-cut, reset (TCP resets for 1 s), loss-latest-curve (5 % loss, CURVE, a
# policy=latest subscriber).
# Network faults between a publishing and a receiving zb-relay, each in its own network namespace, joined by veth
# pairs through a router namespace where the fault is injected (see docs/reliability.md, "Network faults").
set -u
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/relay-test-lib.sh" "$@"
case "$case_name" in
delay | loss | reorder | rate-4k | link-cut | reset | loss-latest-curve) ;;
*) echo "relay-netfault-test.sh: unknown CASE '$case_name' (delay, loss, reorder, rate-4k, link-cut, reset," \
    "loss-latest-curve)" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "FAIL: relay-netfault-$case_name needs root (network namespaces, veth, tc, nft); CI runs as root" >&2; exit 1; }
for tool in ip tc nft; do
    command -v "$tool" >/dev/null || fail "'$tool' is missing: install iproute2 and nftables (scripts/common.sh lists them)"
done

# Namespaces: A (the publishing relay), R (the router, where faults are made), B (the receiving relay).
ns_a="zb-$tag-a" ns_r="zb-$tag-r" ns_b="zb-$tag-b"
namespaces=()
netfault_cleanup() {
    cleanup # the processes first (relays inside the namespaces), then the namespaces and their veths
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
trap netfault_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in "$ns_a" "$ns_r" "$ns_b"; do
    ip netns add "$ns" || fail "cannot create network namespace $ns"
    namespaces+=("$ns")
    ip -n "$ns" link set lo up
done
# Created inside the namespaces, so that parallel tests never clash on interface names.
ip link add a-r netns "$ns_a" type veth peer r-a netns "$ns_r" || fail "cannot create a veth pair"
ip link add b-r netns "$ns_b" type veth peer r-b netns "$ns_r" || fail "cannot create a veth pair"
ip -n "$ns_a" addr add 10.9.1.1/24 dev a-r
ip -n "$ns_r" addr add 10.9.1.2/24 dev r-a
ip -n "$ns_r" addr add 10.9.2.2/24 dev r-b
ip -n "$ns_b" addr add 10.9.2.1/24 dev b-r
for pair in "$ns_a a-r" "$ns_r r-a" "$ns_r r-b" "$ns_b b-r"; do
    read -r ns dev <<<"$pair"
    # One TCP segment per packet, as on a wire: the kernel would otherwise pass 64 KB GSO packets, and dropping
    # one of those would drop some 45 segments at once.
    ip -n "$ns" link set "$dev" gso_max_segs 1 up
done
ip -n "$ns_a" route add default via 10.9.1.2
ip -n "$ns_b" route add default via 10.9.2.2
in_ns "$ns_r" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

# Does this kernel have sch_netem? Probed on a scratch dummy-free device: the router's own loopback.
has_netem=no
if tc -n "$ns_r" qdisc add dev lo root netem delay 1ms 2>/dev/null; then
    has_netem=yes
    tc -n "$ns_r" qdisc del dev lo root
fi
echo "netem: $has_netem"

# tun_forwarder DELAY_MS [REORDER_PERCENT]: without netem, the router routes what it forwards through a TUN device
# and tests/relay/tun-delay.py holds each packet there (the kernel routes it on when it comes back out).
tun_forwarder() {
    [ -c /dev/net/tun ] || {
        echo "SKIP: relay-netfault-$case_name not run: this kernel has neither sch_netem nor TUN (/dev/net/tun), so no" \
            "packet can be delayed or reordered here" >&2
        exit 77
    }
    ip -n "$ns_r" tuntap add dev zbd mode tun || fail "cannot create a TUN device"
    start forwarder ip netns exec "$ns_r" /usr/bin/python3 "$here/tun-delay.py" --dev zbd --delay-ms "$1" \
        --reorder-percent "${2:-0}"
    forwarder=$last_pid
    wait_for forwarder.out "^tun-delay: forwarding" 10
    ip -n "$ns_r" link set zbd up
    ip -n "$ns_r" route add default dev zbd table 100
    ip -n "$ns_r" rule add iif r-a lookup 100
    ip -n "$ns_r" rule add iif r-b lookup 100
    in_ns "$ns_r" sysctl -qw net.ipv4.conf.zbd.rp_filter=0
}
# forwarder_count NAME: a counter the forwarder printed when it stopped.
forwarder_count() { sed -En "s/.*[ :]$1 ([0-9]+).*/\1/p" "$tmp/forwarder.out" | tail -n 1; }

# The faults, each injected in the router R on both of its egress interfaces (both directions of the route).
fault_mechanism=""
case "$case_name" in
delay)
    if [ "$has_netem" = yes ]; then
        for dev in r-a r-b; do tc -n "$ns_r" qdisc add dev "$dev" root netem delay 25ms limit 100000 || fail "netem delay"; done
        fault_mechanism="netem delay 25ms on both router interfaces (50 ms round trip)"
    else
        tun_forwarder 25
        fault_mechanism="TUN forwarder in the router, 25 ms per packet each way (50 ms round trip)"
    fi
    ;;
reorder)
    if [ "$has_netem" = yes ]; then
        for dev in r-a r-b; do
            tc -n "$ns_r" qdisc add dev "$dev" root netem delay 10ms reorder 25% limit 100000 || fail "netem reorder"
        done
        fault_mechanism="netem delay 10ms reorder 25% on both router interfaces"
    else
        tun_forwarder 10 25
        fault_mechanism="TUN forwarder in the router: 75 % of packets held 10 ms, 25 % sent at once (they overtake)"
    fi
    ;;
loss | loss-latest-curve)
    if [ "$has_netem" = yes ]; then
        for dev in r-a r-b; do tc -n "$ns_r" qdisc add dev "$dev" root netem loss 5% limit 100000 || fail "netem loss"; done
        fault_mechanism="netem loss 5% on both router interfaces"
    else
        in_ns "$ns_r" nft -f - <<'EOF' || fail "cannot add the nftables drop rule"
table inet zbfault {
    chain forward {
        type filter hook forward priority 0;
        numgen random mod 100 < 5 counter drop
    }
}
EOF
        fault_mechanism="nftables in the router: forward chain, numgen random mod 100 < 5 drop (5 % of packets)"
    fi
    ;;
rate-4k)
    tc -n "$ns_r" qdisc add dev r-b root tbf rate 100mbit burst 64kb latency 100ms || fail "cannot add the tbf qdisc"
    tc -n "$ns_r" qdisc add dev r-a root tbf rate 100mbit burst 64kb latency 100ms || fail "cannot add the tbf qdisc"
    fault_mechanism="tbf rate 100mbit burst 64kb latency 100ms on both router interfaces"
    ;;
link-cut) fault_mechanism="ip link set r-b down for 5 s, then up" ;;
reset) fault_mechanism="nftables in the router: every forwarded TCP packet answered with a TCP reset, for 1 s" ;;
esac
# Cases where frames may be lost (each gap must be flagged): the link or the connection breaks, or the subscriber
# is policy=latest and the lossy link is slower than the stream.
lossy=no
case "$case_name" in link-cut | reset | loss-latest-curve) lossy=yes ;; esac
echo "fault: $fault_mechanism"

# The route: writer -> ring -> zb-relay in A -> tcp through R -> zb-relay in B -> ring -> reader (checks every byte).
frames=300 fps=30 geometry=(--width 640 --height 360) window=4
# 5 % loss and reordering cut TCP to a few MB/s: fewer frames keep those cases near 20 s.
case "$case_name" in
rate-4k) frames=12 fps=0 geometry=(--width 3840 --height 2160) ;;
link-cut | reset) frames=600 fps=50 ;;
loss | reorder | loss-latest-curve) frames=100 ;;
esac
# loss-latest-curve: CURVE on the route (no payload stream then: frames travel in ZeroMQ messages) and a latest
# subscriber, which the sender drops frames for when its credit runs out instead of waiting.
send_security=(--insecure) receive_security=(--insecure) subscription=""
if [ "$case_name" = loss-latest-curve ]; then
    keys
    send_security=(--curve-secret "$tmp/server.key" --allowed-keys "$tmp/allowed.txt")
    receive_security=(--curve-secret "$tmp/client.key" --server-key "$tmp/server.pub")
    subscription="&policy=latest"
fi
read -r width height <<<"${geometry[1]} ${geometry[3]}"
frame_bytes=$((width * height * 3 / 2))
ring_size=$((frame_bytes * 8 + 4 * 1048576))
reader_flags=(--print-arrivals --timeout-s 120)
[ "$lossy" = yes ] && reader_flags+=(--allow-gaps)
start reader "$peer" read "$tag-dst" --frames $frames "${geometry[@]}" "${reader_flags[@]}"
reader=$last_pid
start receiver ip netns exec "$ns_b" "${measured[@]}" "$relay" --from "tcp://10.9.1.1:5555?window=$window$subscription" \
    --to "ring:$tag-dst?size=$ring_size&wait-readers=1" "${receive_security[@]}" --status-interval 1
receiver=$last_pid
start sender ip netns exec "$ns_a" "${measured[@]}" "$relay" --from "ring:$tag-src" \
    --to "tcp://10.9.1.1:5555?wait-peers=1" "${send_security[@]}" --status-interval 1
sender=$last_pid
fps_flag=()
[ "$fps" = 0 ] || fps_flag=(--fps $fps)
start writer "$peer" write "$tag-src" --frames $frames "${geometry[@]}" --wait-readers 1 --ring-size $ring_size \
    "${fps_flag[@]}"
writer=$last_pid
wait_for sender.err "subscriber #1 joined" 20
started=$EPOCHREALTIME

# Memory of both relays, sampled every 0.2 s until the reader is done: resident (VmRSS, which counts the ring
# pages they touched) and anonymous (RssAnon: heap and stacks, what would grow if a relay buffered without bound).
peak_rss_a=0 peak_rss_b=0 peak_anon_a=0 peak_anon_b=0
sample_memory() {
    local v
    v=$(rss_kb "$sender" 2>/dev/null) && ((v > peak_rss_a)) && peak_rss_a=$v
    v=$(rss_kb "$receiver" 2>/dev/null) && ((v > peak_rss_b)) && peak_rss_b=$v
    v=$(anon_kb "$sender" 2>/dev/null) && ((v > peak_anon_a)) && peak_anon_a=$v
    v=$(anon_kb "$receiver" 2>/dev/null) && ((v > peak_anon_b)) && peak_anon_b=$v
    return 0
}
# sleep_sampling SECONDS
sleep_sampling() {
    local end=$((${1%.*} * 5)) i
    for ((i = 0; i < end; i++)); do sample_memory; sleep 0.2; done
}

if [ "$case_name" = link-cut ]; then
    sleep_sampling 3
    cut_at=$EPOCHREALTIME
    ip -n "$ns_r" link set r-b down || fail "cannot take the link down"
    sleep_sampling 5
    ip -n "$ns_r" link set r-b up || fail "cannot bring the link up again"
    restored_at=$EPOCHREALTIME
elif [ "$case_name" = reset ]; then
    sleep_sampling 3
    cut_at=$EPOCHREALTIME
    in_ns "$ns_r" nft -f - <<'EOF' || fail "cannot add the nftables reset rule"
table inet zbreset {
    chain forward {
        type filter hook forward priority 0;
        meta l4proto tcp counter reject with tcp reset
    }
}
EOF
    sleep_sampling 1
    resets=$(in_ns "$ns_r" nft list table inet zbreset | sed -En 's/.*counter packets ([0-9]+).*/\1/p')
    in_ns "$ns_r" nft delete table inet zbreset || fail "cannot remove the nftables reset rule"
    restored_at=$EPOCHREALTIME
fi
while kill -0 "$reader" 2>/dev/null; do sample_memory; sleep 0.2; done
finished=$EPOCHREALTIME
finish "$writer" writer
finish "$reader" reader

# Nothing corrupted, the whole stream to its end; gaps only where the link was cut, each one flagged.
has reader.out "^mismatches: 0$"
has reader.out "^eos: yes$"
# A latest subscriber may lose the last frames before end-of-stream (each such gap is flagged).
[ "$case_name" = loss-latest-curve ] || has reader.out "^last: $((frames - 1))$"
got=$(value reader.out frames)
missing=$(value reader.out missing)
disc=$(value reader.out discontinuities)
if [ "$lossy" = no ]; then
    # TCP retransmits and reorders: on a lossless route none of these faults may lose a frame.
    [ "$got" -eq "$frames" ] || fail "got $got of $frames frames through a lossless route"
    [ "$disc" -eq 0 ] || fail "$disc frames flagged kFrameDiscontinuity on a lossless route without a cut"
else
    [ "$missing" -eq 0 ] || [ "$disc" -ge 1 ] || fail "$missing frames missing but no frame flagged"
fi

# Did the fault really act on the traffic? Each mechanism's own counters say so.
stop_forwarder() { kill -TERM "$forwarder"; finish "$forwarder" forwarder; }
case "$case_name:$has_netem" in
delay:no | reorder:no)
    stop_forwarder
    [ "$(forwarder_count held)" -gt 1000 ] || fail "the TUN forwarder held $(forwarder_count held) packets"
    if [ "$case_name" = reorder ]; then
        [ "$(forwarder_count sent_at_once)" -gt 100 ] || fail "the TUN forwarder reordered $(forwarder_count sent_at_once) packets"
    fi
    fault_counts="forwarder: $(grep '^tun-delay: packets' "$tmp/forwarder.out" | sed 's/^tun-delay: //')"
    ;;
reset:*)
    [ "${resets:-0}" -gt 0 ] || fail "the router answered no packet with a reset"
    fault_counts="nftables answered $resets packets with a TCP reset"
    ;;
loss:no | loss-latest-curve:no)
    dropped=$(in_ns "$ns_r" nft list table inet zbfault | sed -En 's/.*counter packets ([0-9]+).*/\1/p')
    [ "${dropped:-0}" -gt 100 ] || fail "nftables dropped ${dropped:-0} packets"
    fault_counts="nftables dropped $dropped packets"
    ;;
*:yes | rate-4k:no)
    if [ "$case_name" != link-cut ] && [ "$case_name" != reset ]; then
        stats=$(tc -s -n "$ns_r" qdisc show dev r-b)
        sent=$(sed -En 's/.*Sent [0-9]+ bytes ([0-9]+) pkt.*/\1/p' <<<"$stats" | head -n 1)
        dropped=$(sed -En 's/.*\(dropped ([0-9]+), overlimits ([0-9]+).*/\1/p' <<<"$stats" | head -n 1)
        overlimits=$(sed -En 's/.*\(dropped ([0-9]+), overlimits ([0-9]+).*/\2/p' <<<"$stats" | head -n 1)
        [ "${sent:-0}" -gt 1000 ] || fail "the qdisc on r-b passed ${sent:-0} packets: $stats"
        [ "${case_name#loss}" = "$case_name" ] || [ "${dropped:-0}" -gt 50 ] || fail "netem dropped ${dropped:-0} packets: $stats"
        [ "$case_name" != rate-4k ] || [ "${overlimits:-0}" -gt 0 ] || fail "tbf never held a packet back: $stats"
        fault_counts="r-b qdisc: sent $sent packets, dropped $dropped, overlimits $overlimits"
    fi
    ;;
esac
retransmits=$(in_ns "$ns_a" nstat -az TcpRetransSegs 2>/dev/null | awk '/TcpRetransSegs/ {print $2}')

# Memory stays bounded: the rings each relay maps (counted in VmRSS as their pages are touched) plus a heap
# bounded by what the protocol lets be in flight (window frames, on either side), plus 64 MiB for the program.
ring_kb=$((ring_size / 1024))
anon_bound_kb=$(((window + 1) * frame_bytes / 1024 + 65536))
for side in a b; do
    rss_var=peak_rss_$side anon_var=peak_anon_$side
    [ "${!anon_var}" -gt 0 ] || fail "no memory sample of relay $side"
    [ "${!anon_var}" -le "$anon_bound_kb" ] || fail "relay $side: RssAnon peaked at ${!anon_var} kB, over $anon_bound_kb kB"
    [ "${!rss_var}" -le $((anon_bound_kb + 2 * ring_kb + 65536)) ] ||
        fail "relay $side: VmRSS peaked at ${!rss_var} kB, over the rings ($ring_kb kB each) and the heap bound"
done

stop "$sender" sender
stop "$receiver" receiver
elapsed=$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", b - a }')
echo "result: $case_name: $got of $frames frames of $frame_bytes bytes in $elapsed s, missing $missing," \
    "flagged $disc, corrupted 0; TCP retransmissions at the sender ${retransmits:-?}; ${fault_counts:-}"
echo "memory: sender VmRSS peak $peak_rss_a kB (RssAnon $peak_anon_a kB), receiver VmRSS peak $peak_rss_b kB" \
    "(RssAnon $peak_anon_b kB); bound on RssAnon $anon_bound_kb kB"
if [ "$case_name" = link-cut ] || [ "$case_name" = reset ]; then
    # The first frame that came after the link was back, and the last one before it went down.
    read -r first_after first_index < <(awk -v t="$restored_at" '/^arrival:/ && $3 > t { print $3, $2; exit }' "$tmp/reader.out")
    last_before=$(awk -v t="$cut_at" '/^arrival:/ && $3 <= t { last = $3 } END { print last }' "$tmp/reader.out")
    [ -n "$first_after" ] || fail "no frame came after the link was restored"
    recovery=$(awk -v a="$restored_at" -v b="$first_after" 'BEGIN { printf "%.2f", b - a }')
    stall=$(awk -v a="$last_before" -v b="$first_after" 'BEGIN { printf "%.2f", b - a }')
    sessions=$(grep -c "subscriber #[0-9]* joined" "$tmp/sender.err")
    echo "recovery: first frame (index $first_index) ${recovery} s after the link came back; no frame for ${stall} s;" \
        "subscriber sessions at the sender: $sessions; frames missing $missing, flagged $disc"
fi
if { [ "$case_name" = link-cut ] || [ "$case_name" = reset ]; } && [ "$sessions" -gt 1 ]; then
    has receiver.err "connected to"
fi
check_shm_clean
echo "PASS: relay-netfault-$case_name ($fault_mechanism)"
