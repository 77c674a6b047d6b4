#!/usr/bin/env bash
# The desktop app measured as a user drives it: under Xvfb, with xdotool, on one capture.
#
#   bench/app.sh FILE [--shots DIR]
#
# Prints: the app's loading time (RSTSCOPE_PERF) beside the command line's on the same file,
# the app's peak RSS (VmHWM) after loading, the ui() work per frame while the pointer hovers
# over the overview and the table, how long the rows took to sort after a click on the
# Duration header and to filter after each key typed (RSTSCOPE_PERF's "rows filtered and
# sorted" lines, each followed by the overview's regrouping of those rows when it had to:
# together, how long until the screen shows the answer), and screenshots (loaded, sorted,
# filtered) to look at.
# The clicks assume the default 1280x820 window at the top left of a 1400x900 screen.
set -uo pipefail

FILE="${1:?usage: bench/app.sh FILE [--shots DIR]}"
SHOTS=/tmp/rstscope-app-shots
[ "${2:-}" = --shots ] && SHOTS="${3:?--shots DIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RSTSCOPE="${RSTSCOPE:-$HERE/../target/release/rstscope}"
log() { printf '[app] %s\n' "$*" >&2; }

for tool in Xvfb xdotool import; do
    command -v "$tool" >/dev/null 2>&1 && continue
    log "installing xvfb xdotool imagemagick"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q xvfb xdotool imagemagick >&2 || exit 1
    break
done
[ -x "$RSTSCOPE" ] || { log "build first: cargo build --release"; exit 1; }
mkdir -p "$SHOTS"
export DISPLAY="${DISPLAY_FOR_BENCH:-:99}"
if ! xdotool getdisplaygeometry >/dev/null 2>&1; then
    Xvfb "$DISPLAY" -screen 0 1400x900x24 >/dev/null 2>&1 &
    XVFB=$!
    sleep 1
fi
ERR="$(mktemp)"
cat "$FILE" > /dev/null
cli=$( { /usr/bin/time -f '%e %M' "$RSTSCOPE" analyze "$FILE" --format json > /dev/null; } 2>&1 | tail -n 1)
log "command line: $cli (seconds, peak KB)"
RSTSCOPE_PERF=1 "$RSTSCOPE" "$FILE" 2> "$ERR" &
APP=$!
cleanup() { kill "$APP" 2>/dev/null; [ -n "${XVFB:-}" ] && kill "$XVFB" 2>/dev/null; rm -f "$ERR"; }
trap cleanup EXIT
for _ in $(seq 1 600); do
    grep -q "loaded in" "$ERR" && break
    kill -0 "$APP" 2>/dev/null || { log "the app ended:"; cat "$ERR" >&2; exit 1; }
    sleep 0.5
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$APP/status")
import -window root "$SHOTS/loaded.png"
WID=$(xdotool search --pid "$APP" | head -n 1)
xdotool windowfocus "$WID" 2>/dev/null
# Hover: across the overview, then down the table (about 240 frames).
for i in $(seq 1 120); do xdotool mousemove $((50 + i * 4)) $((100 + (i % 10) * 9)); sleep 0.02; done
for i in $(seq 1 120); do xdotool mousemove $((100 + i * 3)) $((280 + (i % 25) * 20)); sleep 0.02; done
sleep 0.5
xdotool mousemove 440 252 click 1      # the Duration header
sleep 2
import -window root "$SHOTS/sorted.png"
xdotool mousemove 200 76 click 1       # the filter box
sleep 0.3
xdotool type --delay 200 "cause:refused"
sleep 2
import -window root "$SHOTS/filtered.png"
# Enough idle frames to flush the last report.
for i in $(seq 1 120); do xdotool mousemove $((300 + i)) 500; sleep 0.02; done
sleep 0.5

read -r cli_s cli_kb <<< "$cli"
load_s=$(grep -o 'loaded in [0-9.]*' "$ERR" | awk '{print $3}')
echo "app on $FILE"
echo "  loading: $load_s s; command line $cli_s s: $(awk -v a="$load_s" -v b="$cli_s" 'BEGIN{printf "%.2f", a/b}')x"
echo "  peak RSS after loading: $((hwm / 1024)) MiB (command line $((cli_kb / 1024)) MiB)"
grep "after loading" "$ERR" | sed 's/^rstscope perf: /  /'
grep -E "rows filtered and sorted|overview grouped" "$ERR" | sed 's/^rstscope perf: /  /'
echo "  screenshots: $SHOTS/{loaded,sorted,filtered}.png"
