#!/usr/bin/env bash
# Seeds fuzz/corpus/<target> from the sample captures, their gzip forms and, when it is beside
# the repository, ../shared/corpus (captures up to 256 KiB). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${RSTSCOPE_CORPUS:-../shared/corpus}
mkdir -p fuzz/corpus/{read_capture,decode,analyze,two_point,kernel_comment,filter}
captures=(sample-captures/*.pcap sample-captures/*.pcapng)
if [ -d "$shared" ]; then
  while IFS= read -r f; do captures+=("$f"); done < <(
    find "$shared" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' \) -size -256k | sort)
fi
n=0
for f in "${captures[@]}"; do
  name=$(printf '%s' "$f" | sha1sum | cut -c1-16)
  cp "$f" "fuzz/corpus/read_capture/$name"
  cp "$f" "fuzz/corpus/analyze/$name"
  n=$((n + 1))
done
# gzip forms of the samples, and pairs of two-point captures.
for f in sample-captures/*.pcap; do
  gzip -c "$f" > "fuzz/corpus/read_capture/$(basename "$f").gz"
done
for a in sample-captures/*-server.pcap; do
  b=${a%-server.pcap}.pcap
  [ -f "$b" ] || continue
  python3 - "$b" "$a" "fuzz/corpus/two_point/$(basename "$b")" <<'PY'
import struct, sys
a = open(sys.argv[1], 'rb').read()[:65535]
b = open(sys.argv[2], 'rb').read()
open(sys.argv[3], 'wb').write(struct.pack('<H', len(a)) + a + b)
PY
done
# Frames for the decoder: each sample's records, prefixed with its link type's index.
python3 - <<'PY'
import glob, hashlib, os, struct
TYPES = [0, 1, 9, 101, 12, 14, 50, 51, 104, 108, 113, 129, 228, 229, 239, 276]
out = 'fuzz/corpus/decode'
for path in sorted(glob.glob('sample-captures/*.pcap')):
    d = open(path, 'rb').read()
    if d[:4] != b'\xd4\xc3\xb2\xa1' and d[:4] != b'\x4d\x3c\xb2\xa1':
        continue
    lt = struct.unpack('<I', d[20:24])[0]
    if lt not in TYPES:
        continue
    i, k = 24, 0
    while i + 16 <= len(d) and k < 40:
        incl, orig = struct.unpack('<II', d[i + 8:i + 16])
        frame = d[i + 16:i + 16 + incl]
        rec = bytes([TYPES.index(lt)]) + struct.pack('>H', min(orig, 65535)) + frame
        open(os.path.join(out, hashlib.sha1(rec).hexdigest()[:16]), 'wb').write(rec)
        i += 16 + incl
        k += 1
PY
# The kernel's records as rstscope saves them, and filters from the documentation.
printf '%s\n%s\n%s\n' "rstscope: RSTs this machine's kernel sent (tcp:tcp_send_reset): wall_ns src dst state reason" \
  "1764000000123456789 10.0.0.2:80 10.0.0.1:40000 TCP_CLOSE NO_SOCKET" \
  "1764000000123456790 [fd00::1]:80 [::ffff:10.0.0.1]:40000 TCP_ESTABLISHED TCP_ABORT_ON_CLOSE" \
  > fuzz/corpus/kernel_comment/two
i=0
for f in 'host:10.0.0.1' 'ip:10.0.' 'port:443' 'client:10.0.0.1' 'server:[fd00::2]:80' \
  'cause:idle' 'end:reset -cause:refused' 'sender:server kind:middlebox' 'incident:mass-reset' \
  'id:42' 'stream:7 443' 'fd00::1 reset' '-idle'; do
  printf '%s' "$f" > "fuzz/corpus/filter/$i"; i=$((i + 1))
done
echo "seeded $n captures"
