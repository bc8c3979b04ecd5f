#!/usr/bin/env bash
# Broker throughput figures with `weir perf`, client beside the broker on this machine:
# 100-byte and 10 KB records, 1 and 8 partitions, acks=1 and acks=all, then consuming
# each 100-byte topic back. Prints each run's summary line and the broker's peak RSS.
#
#   scripts/bench.sh [RECORDS_100B] [RECORDS_10KB]      defaults: 5000000 200000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SMALL=${1:-5000000}
LARGE=${2:-200000}
cargo build --release --quiet
WEIR=target/release/weir
DATA=$(mktemp -d)
PORT=${WEIR_BENCH_PORT:-39092}
B=127.0.0.1:$PORT

$WEIR broker --data-dir "$DATA" --listen "$B" >"$DATA.log" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; wait $BROKER 2>/dev/null; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$DATA.log" && break; sleep 0.1; done

run() { # name, then perf arguments
    local name=$1; shift
    printf '%-34s ' "$name"
    $WEIR perf "$@" -b "$B" 2>&1 | tail -n 1
}

for size in 100 10240; do
    records=$SMALL; [[ $size -gt 100 ]] && records=$LARGE
    for partitions in 1 8; do
        for acks in 1 all; do
            topic="bench-$size-$partitions-$acks"
            $WEIR topics create "$topic" --partitions "$partitions" -b "$B" >/dev/null
            run "produce ${size}B p=$partitions acks=$acks" produce --topic "$topic" \
                --num-records "$records" --record-size "$size" --acks "$acks"
        done
    done
done
for partitions in 1 8; do
    run "consume 100B p=$partitions" consume --topic "bench-100-$partitions-1" --num-records "$SMALL"
done
echo "broker peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$BROKER/status)"
