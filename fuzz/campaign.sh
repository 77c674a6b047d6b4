#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS of fuzzing in all (restarting after a
# crash, which libFuzzer stops at, until the time is used), and logs to fuzz/logs/<target>.log.
#   bash fuzz/campaign.sh SECONDS TARGET...
# Run from the repository root after `bash fuzz/seed.sh` and `cargo +nightly fuzz build`; it
# runs the built binaries themselves, so editing the code meanwhile starts no build.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=$1; shift
mkdir -p fuzz/logs
for t in "$@"; do
  log=fuzz/logs/$t.log
  : > "$log"
  end=$(( $(date +%s) + seconds ))
  while left=$(( end - $(date +%s) )); [ "$left" -gt 5 ]; do
    mkdir -p "fuzz/artifacts/$t"
    "fuzz/target/x86_64-unknown-linux-gnu/release/$t" -artifact_prefix="fuzz/artifacts/$t/" \
      -max_total_time="$left" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=20 \
      -dict=fuzz/capture.dict -max_len=262144 -print_final_stats=1 "fuzz/corpus/$t" >>"$log" 2>&1
    echo "== exit $? at $(date +%s)" >>"$log"
  done
done
