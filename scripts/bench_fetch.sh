#!/usr/bin/env bash
# Zero-copy against copying fetches, in one run: fills a topic once, then consumes it
# with `weir perf consume` from a broker with weir.fetch.zero.copy.enable=true and one
# with =false on the same data directory, alternating, ROUNDS times each. Prints each
# consume's summary line and the broker's CPU (user + system, from /proc/PID/stat)
# per GB served; the data is in the page cache for every round.
#
#   scripts/bench_fetch.sh [RECORDS] [RECORD_SIZE] [PARTITIONS] [ROUNDS]
#                                     defaults: 1000000 1024 1 3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${1:-1000000}
SIZE=${2:-1024}
PARTITIONS=${3:-1}
ROUNDS=${4:-3}
cargo build --release --quiet
WEIR=${CARGO_TARGET_DIR:-target}/release/weir
DATA=$(mktemp -d)
PORT=${WEIR_BENCH_PORT:-39093}
B=127.0.0.1:$PORT
TICKS=$(getconf CLK_TCK)
BROKER=

start_broker() { # zero copy: true or false
    $WEIR broker --data-dir "$DATA" --listen "$B" --set "weir.fetch.zero.copy.enable=$1" \
        >"$DATA.log" 2>&1 &
    BROKER=$!
    for _ in $(seq 100); do grep -q "listening on" "$DATA.log" && return; sleep 0.1; done
    echo "the broker did not start:" >&2; cat "$DATA.log" >&2; exit 1
}
stop_broker() {
    [[ -n $BROKER ]] && kill "$BROKER" 2>/dev/null && wait "$BROKER" 2>/dev/null || true
    BROKER=
}
trap 'stop_broker; rm -rf "$DATA" "$DATA.log"' EXIT

# utime + stime of the broker, in clock ticks (fields 14 and 15; the name in
# parentheses may hold spaces, so count from after it).
cpu_ticks() { sed 's/^.*) //' "/proc/$BROKER/stat" | awk '{print $12 + $13}'; }

start_broker true
$WEIR topics create bench-fetch --partitions "$PARTITIONS" -b "$B" >/dev/null
printf '%-22s ' "produce ${SIZE}B"
$WEIR perf produce --topic bench-fetch --num-records "$RECORDS" --record-size "$SIZE" \
    -b "$B" 2>&1 | tail -n 1
stop_broker

declare -A TOTAL_TICKS TOTAL_SECS
for round in $(seq "$ROUNDS"); do
    for zero_copy in true false; do
        start_broker "$zero_copy"
        # Warm up: connect, fetch metadata and touch the files once.
        $WEIR perf consume --topic bench-fetch --num-records 1 -b "$B" >/dev/null 2>&1
        before=$(cpu_ticks)
        started=$(date +%s.%N)
        summary=$($WEIR perf consume --topic bench-fetch --num-records "$RECORDS" -b "$B" 2>&1 | tail -n 1)
        secs=$(echo "$(date +%s.%N) - $started" | bc -l)
        ticks=$(( $(cpu_ticks) - before ))
        stop_broker
        gb=$(echo "$RECORDS * $SIZE / 10^9" | bc -l)
        TOTAL_TICKS[$zero_copy]=$(( ${TOTAL_TICKS[$zero_copy]:-0} + ticks ))
        TOTAL_SECS[$zero_copy]=$(echo "${TOTAL_SECS[$zero_copy]:-0} + $secs" | bc -l)
        printf 'round %d zero.copy=%-5s %s broker CPU %.2f s, %.3f CPU s/GB\n' \
            "$round" "$zero_copy" "$summary" "$(echo "$ticks / $TICKS" | bc -l)" \
            "$(echo "$ticks / $TICKS / $gb" | bc -l)"
    done
done
gb=$(echo "$ROUNDS * $RECORDS * $SIZE / 10^9" | bc -l)
for zero_copy in true false; do
    printf 'zero.copy=%-5s over %d rounds: %.3f broker CPU s/GB, %.1f MB/s consumed\n' "$zero_copy" \
        "$ROUNDS" "$(echo "${TOTAL_TICKS[$zero_copy]} / $TICKS / $gb" | bc -l)" \
        "$(echo "$gb * 1000 / ${TOTAL_SECS[$zero_copy]}" | bc -l)"
done
