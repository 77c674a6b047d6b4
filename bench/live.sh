#!/usr/bin/env bash
# Live capture at a high packet rate on loopback: rstscope capture against tcpdump, one after the
# other on the same load, each reporting packets captured and the kernel's drop counter.
#
#   sudo bash bench/live.sh [WRITES_PER_SEC] [SECONDS] [CONNECTIONS]
#
# The load is examples/loopback_load.rs: 64-byte writes with Nagle off over several loopback
# connections (each write one segment, plus the receiver's ACKs). TCP autocorking is turned off
# for the run (it would merge back-to-back small writes) and restored afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-100000}
SECS=${2:-10}
CONNS=${3:-8}
PORT=45123
[ "$(id -u)" = 0 ] || { echo "needs root (capture and sysctl)"; exit 2; }
cargo build --release --quiet --example loopback_load
cargo build --release --quiet
OUT=$(mktemp -d /tmp/rstscope-live-bench.XXXX)
OLD=$(sysctl -n net.ipv4.tcp_autocorking)
trap 'sysctl -qw net.ipv4.tcp_autocorking=$OLD' EXIT
sysctl -qw net.ipv4.tcp_autocorking=0

run_load() { ./target/release/examples/loopback_load "$PORT" "$RATE" "$SECS" "$CONNS"; }

echo "== rstscope capture (saving every packet to pcapng, diagnosing as it goes)"
/usr/bin/time -f "rstscope: %e s elapsed, %U s user, %S s system, max RSS %M KiB" \
  ./target/release/rstscope capture -i lo -f "tcp port $PORT" -w "$OUT/rstscope.pcapng" \
  --format json -a $((SECS + 2)) >"$OUT/rstscope.jsonl" 2>"$OUT/rstscope.err" &
CAP=$!
sleep 1
run_load
wait $CAP || true
python3 - "$OUT/rstscope.jsonl" "$SECS" <<'PY'
import json, sys
end = [json.loads(l) for l in open(sys.argv[1]) if '"end"' in l][-1]
k = end["kernel"]
print(f"rstscope: {end['frames']} packets ({end['frames']/float(sys.argv[2]):.0f}/s over the load), "
      f"kernel dropped {k['dropped']}, interface dropped {k['if_dropped']}, saved {k['saved_bytes']/1e6:.1f} MB")
PY
grep "max RSS" "$OUT/rstscope.err"

echo "== tcpdump -w (the baseline: saving only, no analysis)"
tcpdump -i lo -s 262144 -w "$OUT/tcpdump.pcap" "tcp port $PORT" 2>"$OUT/tcpdump.err" &
TD=$!
sleep 1
run_load
sleep 1
kill -INT $TD
wait $TD || true
grep -E "captured|dropped" "$OUT/tcpdump.err"
rm -rf "$OUT"
