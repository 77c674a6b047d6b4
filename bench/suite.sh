#!/usr/bin/env bash
# The benchmark suite, in one run: for each capture, the tcpdump read floor
# (`tcpdump -r F -w /dev/null`), rstscope (JSON, JSONL and text reports), tshark
# (`-z conv,tcp`) and tcptrace (`-n -l`), one after the other on a warm page cache,
# with wall seconds and peak RSS (`/usr/bin/time -f '%e %M'`) and every time as a
# ratio to the floor. Run by `bench/run.sh --suite`; see bench/README.md.
#
#   bench/suite.sh [--dir DIR] [--captures LIST] [--no-baselines]
#
# LIST is comma-separated, from: bench-1000 (bench/gen_capture.py, 1 GB, 20,000
# connections), many-1m (1,000,000 short connections, 6.7 M packets), synflood-1m
# (1,000,000 SYNs nobody answers), gz-1000 (bench-1000 gzip-compressed), bench-4000
# (4 GB, 6 M packets, 20,000 connections). Default: bench-1000,many-1m,synflood-1m,gz-1000.
set -uo pipefail

DIR=/tmp/rstscope-bench
CAPTURES=bench-1000,many-1m,synflood-1m,gz-1000
BASELINES=1
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --captures) CAPTURES="$2"; shift 2 ;;
        --no-baselines) BASELINES=0; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
RSTSCOPE="${RSTSCOPE:-$REPO/target/release/rstscope}"
GEN="$REPO/target/release/examples/gen_connections"
INFLATE="$REPO/target/release/examples/inflate"
log() { printf '[suite] %s\n' "$*" >&2; }

need=()
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v tcptrace >/dev/null 2>&1 || need+=(tcptrace)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    log "installing: ${need[*]}"
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${need[@]}" >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2; } \
        || { log "apt-get install failed"; exit 1; }
fi
[ -x "$RSTSCOPE" ] || { log "build rstscope first: cargo build --release"; exit 1; }
if [ ! -x "$GEN" ] || [ ! -x "$INFLATE" ]; then
    log "building the generator and the inflater: cargo build --release --examples"
    (cd "$REPO" && cargo build --release --example gen_connections --example inflate >&2) || exit 1
fi
mkdir -p "$DIR"

# make_capture NAME -> prints its path, generating it when missing.
make_capture() {
    local f="$DIR/$1.pcap"
    case "$1" in
        bench-1000|bench-4000)
            local mb="${1#bench-}"
            [ -s "$f" ] || python3 "$HERE/gen_capture.py" --size-mb "$mb" --seed 1 --connections 20000 -o "$f" >&2 ;;
        many-1m) [ -s "$f" ] || "$GEN" --connections 1000000 -o "$f" >&2 ;;
        synflood-1m) [ -s "$f" ] || "$GEN" --kind syn-flood --connections 1000000 -o "$f" >&2 ;;
        gz-1000)
            local plain; plain="$(make_capture bench-1000)"
            f="$DIR/bench-1000.pcap.gz"
            [ -s "$f" ] || gzip -6 -c "$plain" > "$f" ;;
        *) log "unknown capture $1"; return 1 ;;
    esac
    echo "$f"
}

RESULTS="$DIR/suite-$(date +%Y%m%d-%H%M%S).tsv"
printf 'capture\ttool\tseconds\trss_kb\trc\n' > "$RESULTS"
timed() {  # timed CAPTURE TOOL CMD...
    local cap="$1" tool="$2" tf rc sec rss; shift 2
    tf="$(mktemp)"
    /usr/bin/time -f '%e %M' -o "$tf" "$@" > /dev/null 2> "$tf.err"
    rc=$?
    read -r sec rss < <(tail -n 1 "$tf")
    [ "$rc" = 0 ] || { log "$tool on $cap exited $rc:"; tail -n 3 "$tf.err" >&2; }
    printf '%s\t%s\t%s\t%s\t%s\n' "$cap" "$tool" "$sec" "$rss" "$rc" >> "$RESULTS"
    log "$cap $tool: ${sec} s, ${rss} KB"
    rm -f "$tf" "$tf.err"
}

IFS=, read -r -a list <<< "$CAPTURES"
for cap in "${list[@]}"; do
    f="$(make_capture "$cap")" || exit 1
    log "$cap: $f ($(stat -c %s "$f") bytes); warming the page cache"
    cat "$f" > /dev/null
    if [ "${f%.gz}" != "$f" ]; then
        timed "$cap" floor sh -c "gzip -dc '$f' | tcpdump -r - -w /dev/null"
        # The inflater rstscope uses, alone: a .gz capture cannot be read faster.
        timed "$cap" inflate-only "$INFLATE" "$f"
    else
        timed "$cap" floor tcpdump -r "$f" -w /dev/null
    fi
    timed "$cap" rstscope-json "$RSTSCOPE" analyze "$f" --format json
    timed "$cap" rstscope-jsonl "$RSTSCOPE" analyze "$f" --format jsonl
    timed "$cap" rstscope-text "$RSTSCOPE" analyze "$f"
    if [ "$BASELINES" = 1 ]; then
        timed "$cap" tshark tshark -n -q -r "$f" -z conv,tcp
        if [ "${f%.gz}" = "$f" ]; then
            timed "$cap" tcptrace tcptrace -n -l "$f"
        fi
    fi
done

python3 - "$RESULTS" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
caps = []
for r in rows:
    if r["capture"] not in caps:
        caps.append(r["capture"])
print()
print("%-12s %-15s %9s %11s %9s %12s" % ("capture", "tool", "seconds", "peak MiB", "x floor", "vs rstscope"))
print("-" * 73)
for cap in caps:
    mine = [r for r in rows if r["capture"] == cap]
    floor = next((float(r["seconds"]) for r in mine if r["tool"] == "floor"), None)
    rst = next((float(r["seconds"]) for r in mine if r["tool"] == "rstscope-json"), None)
    for r in mine:
        s = float(r["seconds"]); mib = int(r["rss_kb"]) / 1024
        x = "%.2f" % (s / floor) if floor else "-"
        vs = "%.1fx slower" % (s / rst) if rst and r["tool"] in ("tshark", "tcptrace") and s >= rst else ("-" if not r["tool"].startswith(("tshark", "tcptrace")) else "%.2fx" % (s / rst))
        bad = "" if r["rc"] == "0" else "  (exit %s)" % r["rc"]
        print("%-12s %-15s %9.2f %11.1f %9s %12s%s" % (cap, r["tool"], s, mib, x, vs, bad))
    print()
print("floor: tcpdump -r F -w /dev/null (for .gz: gzip -dc F | tcpdump -r - -w /dev/null);")
print("x floor = seconds / the floor's seconds; vs rstscope = seconds / rstscope-json's seconds")
print("raw figures: %s" % sys.argv[1])
EOF
