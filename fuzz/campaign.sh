#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS of fuzzing in all (restarting after a
# crash, which libFuzzer stops at, until the time is used), and logs to fuzz/logs/<target>.log.
#   bash fuzz/campaign.sh SECONDS TARGET...
# Run from the repository root after `bash fuzz/seed.sh` and `cargo +nightly fuzz build`; it
# runs the built binaries themselves, so editing the code meanwhile starts no build.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=$1; shift
host=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p fuzz/logs
for t in "$@"; do
  log=fuzz/logs/$t.log
  : > "$log"
  end=$(( $(date +%s) + seconds ))
  while left=$(( end - $(date +%s) )); [ "$left" -gt 5 ]; do
    mkdir -p "fuzz/artifacts/$t"
    started=$(date +%s)
    "fuzz/target/$host/release/$t" -artifact_prefix="fuzz/artifacts/$t/" \
      -max_total_time="$left" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=20 \
      -dict=fuzz/capture.dict -max_len=262144 -print_final_stats=1 "fuzz/corpus/$t" >>"$log" 2>&1
    status=$?
    echo "== exit $status at $(date +%s)" >>"$log"
    # A binary that is missing or crashes at once would otherwise be restarted in a loop.
    if [ "$status" -ge 126 ] || [ $(( $(date +%s) - started )) -lt 2 ]; then
      echo "== giving up on $t" >>"$log"
      break
    fi
  done
done
