#!/usr/bin/env bash
# rstscope benchmark harness: times rstscope against tshark and tcptrace on the
# same generated pcap (see bench/README.md).
#
#   bench/run.sh [--size-mb N] [--keep] [--seed N] [--repeat N] [--dir DIR] [--no-stats]
#   bench/run.sh --suite [suite options]   (1 GB, 1M connections, SYN flood, gzip: bench/suite.sh)
#
# Environment: RSTSCOPE=/path/to/rstscope overrides target/release/rstscope.
set -uo pipefail

SIZE=1000
KEEP=0
SEED=1
REPEAT=1
DIR=/tmp/rstscope-bench
STATS=1

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

if [ "${1:-}" = --suite ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/suite.sh" "$@"
fi
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb) SIZE="$2"; shift 2 ;;
        --size-mb=*) SIZE="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        --seed) SEED="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        --no-stats) STATS=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$SIZE" in (''|*[!0-9]*) echo "--size-mb must be a positive integer" >&2; exit 2 ;; esac
case "$REPEAT" in (''|*[!0-9]*|0) echo "--repeat must be a positive integer" >&2; exit 2 ;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
RSTSCOPE="${RSTSCOPE:-$REPO/target/release/rstscope}"
PY="${PYTHON:-python3}"

log() { printf '[bench] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- 1. tools
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v tcptrace >/dev/null 2>&1 || need+=(tcptrace)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    log "installing: ${need[*]}"
    # wireshark-common asks whether non-root users may capture: answer no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
        | $SUDO debconf-set-selections
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
        $SUDO apt-get update -q || true
    fi
    inst() {
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
            install -y -q tshark tcptrace time
    }
    if ! inst; then
        $SUDO apt-get update -q && inst || { log "apt-get install failed"; exit 1; }
    fi
fi
command -v "$PY" >/dev/null 2>&1 || { log "python3 is required for the generator"; exit 1; }

# ---------------------------------------------------------------- 2. capture
mkdir -p "$DIR"
if [ "$SEED" = 1 ]; then FILE="$DIR/bench-$SIZE.pcap"; else FILE="$DIR/bench-$SIZE-s$SEED.pcap"; fi
META="$FILE.meta.json"
WORK="$(mktemp -d "$DIR/run.XXXXXX")"
cleanup() {
    rm -rf "$WORK"
    if [ "$KEEP" = 0 ]; then rm -f "$FILE" "$META"; fi
}
trap cleanup EXIT

cached=0
if [ -f "$FILE" ] && [ -f "$META" ]; then
    if "$PY" - "$FILE" "$META" "$SIZE" "$SEED" "$HERE/gen_capture.py" <<'EOF'
import json, os, re, sys
f, meta, size, seed, gen = sys.argv[1:]
m = json.load(open(meta))
ver = int(re.search(r"^GENERATOR_VERSION = (\d+)", open(gen).read(), re.M).group(1))
ok = (float(m["size_mb_arg"]) == float(size) and int(m["seed"]) == int(seed)
      and m["bytes"] == os.path.getsize(f) and m.get("generator_version") == ver)
sys.exit(0 if ok else 1)
EOF
    then cached=1; fi
fi
if [ "$cached" = 1 ]; then
    log "using cached capture $FILE"
else
    log "generating $FILE (--size-mb $SIZE --seed $SEED)"
    "$PY" "$HERE/gen_capture.py" --size-mb "$SIZE" --seed "$SEED" -o "$FILE" \
        || { log "generator failed"; exit 1; }
fi
read -r BYTES PACKETS CONNS < <("$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["bytes"], m["packets"], m["connections"])' "$META")
log "capture: $BYTES bytes, $PACKETS packets, $CONNS connections (from $META)"

avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if [ "${avail_kb:-0}" -gt 0 ] && [ $((BYTES / 1024)) -gt $((avail_kb / 2)) ]; then
    log "WARNING: capture is larger than half of available memory; the page cache may not hold it"
fi

# ---------------------------------------------------------------- 3. timing
log "warming the page cache"
cat "$FILE" > /dev/null

RESULTS="$WORK/results.tsv"   # tool  rc  seconds  rss_kb
: > "$RESULTS"

# timed NAME STDOUT_FILE CMD...   -> appends one line per repetition to $RESULTS
timed() {
    local name="$1" out="$2"; shift 2
    local i tf="$WORK/$name.time" ef="$WORK/$name.stderr" rc
    for ((i = 1; i <= REPEAT; i++)); do
        local t0 t1 sec rss hires
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%e %M' -o "$tf" "$@" > "$out" 2> "$ef"
        rc=$?
        t1=$EPOCHREALTIME
        read -r sec rss < <(tail -n 1 "$tf")
        case "$sec" in (*[!0-9.]*|'') sec=nan; rss=0 ;; esac
        # %e has 10 ms resolution; below 1 s use bash's microsecond clock instead
        # (it includes the fork/exec of /usr/bin/time, about a millisecond).
        hires=$(awk -v a="${t0/,/.}" -v b="${t1/,/.}" 'BEGIN { printf "%.4f", b - a }')
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$sec" "$rss" "$hires" >> "$RESULTS"
        if [ "$rc" != 0 ]; then
            log "$name exited with status $rc; stderr tail:"
            tail -n 5 "$ef" | sed 's/^/    /' >&2
        fi
        log "$name run $i: ${sec}s, peak RSS ${rss} KB"
    done
}

HAVE_RST=0
if [ -x "$RSTSCOPE" ]; then
    HAVE_RST=1
    log "timing rstscope: $RSTSCOPE analyze FILE --format json"
    timed rstscope /dev/null "$RSTSCOPE" analyze "$FILE" --format json
else
    log "rstscope binary not found at $RSTSCOPE (build it with cargo build --release); timing the baselines only"
fi

log "timing tshark: tshark -n -q -r FILE -z conv,tcp"
timed tshark "$WORK/tshark.out" tshark -n -q -r "$FILE" -z conv,tcp

log "timing tcptrace: tcptrace -n -l FILE"
timed tcptrace /dev/null tcptrace -n -l "$FILE"

# ------------------------------------------------ 4. retained bytes per packet hook
# HOOK: if `rstscope analyze FILE --format json --stats` prints a line
#   retained_bytes_per_packet=N
# on stderr (or its JSON has a key "retained_bytes_per_packet" anywhere), it is
# shown below. This run is separate from, and not part of, the timed run.
RETAINED="n/a"
if [ "$HAVE_RST" = 1 ] && [ "$STATS" = 1 ]; then
    if "$RSTSCOPE" analyze "$FILE" --format json --stats > "$WORK/rst.json" 2> "$WORK/rst.stats"; then
        :
    else
        # --stats not supported (yet): look in the plain JSON instead
        "$RSTSCOPE" analyze "$FILE" --format json > "$WORK/rst.json" 2> "$WORK/rst.stats" || : > "$WORK/rst.json"
    fi
    v=$(grep -oE 'retained_bytes_per_packet=[0-9]+(\.[0-9]+)?' "$WORK/rst.stats" | tail -n 1 | cut -d= -f2)
    if [ -z "$v" ]; then
        v=$("$PY" - "$WORK/rst.json" <<'EOF' 2>/dev/null
import json, sys
def find(o):
    if isinstance(o, dict):
        for k, x in o.items():
            if k == "retained_bytes_per_packet" and isinstance(x, (int, float)):
                return x
            r = find(x)
            if r is not None:
                return r
    elif isinstance(o, list):
        for x in o:
            r = find(x)
            if r is not None:
                return r
    return None
r = find(json.load(open(sys.argv[1])))
if r is not None:
    print(r)
EOF
)
    fi
    [ -n "$v" ] && RETAINED="$v"
fi

# ---------------------------------------------------------------- 5. report
echo
echo "rstscope benchmark: $FILE"
echo "  size $BYTES bytes ($(awk "BEGIN{printf \"%.1f\", $BYTES/1e6}") MB), $PACKETS packets, $CONNS connections (generator sidecar)"
echo "  host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "  tshark: $(tshark --version 2>/dev/null | head -n 1)"
echo "  tcptrace: $(tcptrace -v 2>&1 | grep -m1 -o 'version [0-9.]*')"
[ "$REPEAT" -gt 1 ] && echo "  best of $REPEAT runs (peak RSS: maximum over runs)"
echo
"$PY" - "$RESULTS" "$BYTES" "$PACKETS" "$HAVE_RST" "$RETAINED" "$DIR/results-$SIZE.json" "$SIZE" "$SEED" <<'EOF'
import json, math, sys
res, nbytes, npk, have_rst, retained, out, size, seed = sys.argv[1:]
nbytes, npk = int(nbytes), int(npk)
rows = {}
for line in open(res):
    name, rc, sec, rss, hires = line.rstrip("\n").split("\t")
    r = rows.setdefault(name, {"rc": 0, "seconds": math.inf, "rss_kb": 0})
    r["rc"] = max(r["rc"], int(rc))
    try:
        s = float(sec)
    except ValueError:
        s = math.inf
    if s < 1.0:
        try:
            s = float(hires)
            r["hires_clock"] = True
        except ValueError:
            pass
    r["seconds"] = min(r["seconds"], s)
    r["rss_kb"] = max(r["rss_kb"], int(rss or 0))
tools = ["rstscope", "tshark", "tcptrace"]
hdr = ("tool", "seconds", "MB/s", "packets/s", "peak RSS MB", "rstscope speedup")
print("%-10s %9s %9s %12s %12s %17s" % hdr)
print("-" * 74)
rst = rows.get("rstscope")
for t in tools:
    r = rows.get(t)
    if r is None:
        print("%-10s %9s %9s %12s %12s %17s" % (t, "-", "-", "-", "-", "(not run)"))
        continue
    s = r["seconds"]
    ok = r["rc"] == 0 and s > 0 and math.isfinite(s)
    r["mb_per_s"] = nbytes / 1e6 / s if ok else None
    r["packets_per_s"] = npk / s if ok else None
    r["rss_mb"] = r["rss_kb"] / 1024
    ratio = "-"
    if t != "rstscope" and rst and rst["rc"] == 0 and ok and rst["seconds"] > 0:
        ratio = "%.2fx" % (s / rst["seconds"])
        r["rstscope_speedup"] = s / rst["seconds"]
    if ok:
        print("%-10s %9s %9.1f %12.0f %12.1f %17s" % (
            t, ("%.3f" if r.get("hires_clock") else "%.2f") % s, r["mb_per_s"], r["packets_per_s"], r["rss_mb"], ratio))
    else:
        print("%-10s %9s %9s %12s %12.1f %17s" % (
            t, "FAILED", "rc=%d" % r["rc"], "-", r["rss_mb"], "-"))
print()
print("bytes retained per packet (rstscope): %s" % retained)
if any(r.get("hires_clock") for r in rows.values()):
    print("(runs under 1 s are timed with bash's EPOCHREALTIME instead of /usr/bin/time %e)")
print("speedup = baseline seconds / rstscope seconds (same file, same page-cache state);"
      " MB = 10^6 bytes, RSS MB = MiB")
json.dump({"size_mb_arg": int(size), "seed": int(seed), "bytes": nbytes, "packets": npk,
           "retained_bytes_per_packet": (float(retained) if retained != "n/a" else None),
           "tools": {k: {kk: (None if isinstance(vv, float) and not math.isfinite(vv) else vv)
                         for kk, vv in v.items()} for k, v in rows.items()}},
          open(out, "w"), indent=2)
print("results: %s" % out)
EOF

# ---------------------------------------------------------------- 6. validation
# The tshark check is free (its conv,tcp table came from the timed run), so it is
# printed at every size; the extra tcptrace run only for small captures.
echo
n_tshark=$(grep -c '<->' "$WORK/tshark.out" || true)
if [ "$n_tshark" = "$CONNS" ]; then
    echo "validation: tshark conv,tcp found $n_tshark TCP conversations, generator wrote $CONNS: OK"
else
    echo "validation: tshark conv,tcp found $n_tshark TCP conversations, generator wrote $CONNS: MISMATCH"
    VALID_FAIL=1
fi
if [ "$SIZE" -le 100 ]; then
    # brief output: one line per connection, "  N: addr:port - addr:port (x2y) ..."
    n_tt=$(tcptrace -n "$FILE" 2>/dev/null | grep -cE '^ *[0-9]+: .* - .*\(' || true)
    if [ "$n_tt" = "$CONNS" ]; then
        echo "validation: tcptrace traced $n_tt TCP connections: OK"
    else
        echo "validation: tcptrace traced ${n_tt:-?} TCP connections, generator wrote $CONNS: MISMATCH"
        VALID_FAIL=1
    fi
fi
if [ "${VALID_FAIL:-0}" = 1 ]; then echo "validation FAILED: the generated capture is not what the generator claims" >&2; exit 3; fi
if [ "$KEEP" = 1 ]; then echo "kept $FILE (and $META)"; fi
exit 0
