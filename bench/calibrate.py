#!/usr/bin/env python3
"""calibrate.py: how often is each confidence level right, on captures the rules
were not tuned on?

    bench/calibrate.py BINARY DIR [DIR...]

BINARY is an rstscope executable; each DIR is a replicate round written by
`sample-captures/make-captures --replicate` (a directory holding manifest.json),
or a directory of such rounds (round-*/manifest.json). For every manifest entry
with an expected_cause, `BINARY analyze --format json FILE` is run and each
connection the entry is about is scored: the connection matching its tuple
(client_ip, client_port), or, without a tuple, every connection to its
server_port. A verdict is right when diagnosis.cause == expected_cause,
diagnosis.sender == rst_by and diagnosis.sender_kind == sender_kind. An entry
whose rst_by is null (a capture with no RST at all, such as a firewall that
drops) has no sender to compare: as in the project's own gate
(tests/samples.rs), only its cause is judged, unless --strict-sender is given.

Printed: the confusion matrix (expected cause x diagnosed cause), accuracy per
confidence level, every wrong verdict (file, expected, got, confidence, the
alternatives' causes), and the incident check, counted separately: an entry with
"incident": "mass-reset" must have each of its connections in a mass-reset
incident, one with "incident": null must have none of them in any incident.

Standard library only. Exit status 0 (it measures; it does not gate).
"""

import argparse
import ipaddress
import json
import os
import subprocess
import sys
from collections import defaultdict

LEVELS = ["high", "medium", "low"]


def manifests(paths):
    """(round directory, manifest path) for each argument."""
    out = []
    for p in paths:
        if os.path.isfile(os.path.join(p, "manifest.json")):
            out.append((p, os.path.join(p, "manifest.json")))
            continue
        subs = sorted((d for d in os.listdir(p)
                       if os.path.isfile(os.path.join(p, d, "manifest.json"))),
                      key=lambda d: (len(d), d))
        if not subs:
            sys.exit("%s: no manifest.json (nor round-*/manifest.json)" % p)
        out += [(os.path.join(p, d), os.path.join(p, d, "manifest.json")) for d in subs]
    return out


def analyze(binary, path, cache={}):
    if path not in cache:
        r = subprocess.run([binary, "analyze", "--format", "json", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600)
        if r.returncode != 0 and not r.stdout.strip():
            raise RuntimeError("%s: rstscope exited %d: %s"
                               % (path, r.returncode, r.stderr.strip()[:300]))
        cache[path] = json.loads(r.stdout)
    return cache[path]


def same_ip(a, b):
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def concerned(entry, analysis):
    t = entry.get("tuple") or {}
    port = entry.get("server_port", t.get("server_port"))
    conns = analysis.get("connections", [])
    if t.get("client_ip") is not None:
        return [c for c in conns if same_ip(c["client"]["ip"], t["client_ip"])
                and c["client"]["port"] == t["client_port"]]
    return [c for c in conns if c["server"]["port"] == port]


def pct(r, n):
    return "%.0f%%" % (100.0 * r / n) if n else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--strict-sender", action="store_true",
                    help="judge entries with rst_by null against a null sender too")
    a = ap.parse_args()

    matrix = defaultdict(lambda: defaultdict(int))
    by_level = defaultdict(lambda: [0, 0])
    wrong, missing, lenient = [], [], 0
    inc = {"mass-reset": [0, 0], "none": [0, 0]}
    inc_wrong, inc_extra = [], []
    rounds = manifests(a.dirs)
    entries_scored = 0
    for rdir, mpath in rounds:
        for e in json.load(open(mpath)):
            expected = e.get("expected_cause")
            if expected is None:
                continue
            path = os.path.join(rdir, e["file"])
            rel = os.path.relpath(path)
            try:
                an = analyze(a.binary, path)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as ex:
                missing.append("%s: %s" % (rel, ex))
                continue
            conns = concerned(e, an)
            if not conns:
                missing.append("%s: no connection matches the entry (%s)"
                               % (rel, e.get("tuple") or "port %s" % e.get("server_port")))
                continue
            entries_scored += 1
            incidents = an.get("incidents", [])
            for c in conns:
                d = c.get("diagnosis")
                want = "%s by the %s (%s)" % (expected, e.get("rst_by"), e.get("sender_kind"))
                where = "%s #%d (client port %d)" % (rel, c["id"], c["client"]["port"])
                if d is None:
                    matrix[expected]["(none)"] += 1
                    by_level["none"][1] += 1
                    wrong.append((where, want, "no diagnosis", "none", []))
                    continue
                matrix[expected][d["cause"]] += 1
                if e.get("rst_by") is None and not a.strict_sender:
                    lenient += 1
                    right = d["cause"] == expected
                else:
                    right = (d["cause"] == expected and d.get("sender") == e.get("rst_by")
                             and d.get("sender_kind") == e.get("sender_kind"))
                lvl = d.get("confidence") or "none"
                by_level[lvl][1] += 1
                if right:
                    by_level[lvl][0] += 1
                else:
                    alts = [x.get("cause") for x in d.get("alternatives") or []]
                    wrong.append((where, want, "%s by the %s (%s)" % (
                        d["cause"], d.get("sender"), d.get("sender_kind")), lvl, alts))
                # incidents
                idx = d.get("incident")
                member = [i for i, x in enumerate(incidents) if c["id"] in x.get("connections", [])]
                if "incident" in e:
                    if e["incident"] == "mass-reset":
                        ok = (idx is not None and idx < len(incidents)
                              and incidents[idx].get("kind") == "mass-reset"
                              and c["id"] in incidents[idx].get("connections", []))
                        inc["mass-reset"][1] += 1
                        inc["mass-reset"][0] += ok
                        if not ok:
                            inc_wrong.append("%s: expected in a mass-reset incident, got %s"
                                             % (where, "incident %s" % idx if idx is not None
                                                else "none"))
                    elif e["incident"] is None:
                        ok = idx is None and not member
                        inc["none"][1] += 1
                        inc["none"][0] += ok
                        if not ok:
                            k = incidents[(member or [idx])[0]].get("kind")
                            inc_wrong.append("%s: expected no incident, got a %s incident"
                                             % (where, k))
                elif idx is not None or member:
                    k = incidents[(member or [idx])[0]].get("kind")
                    inc_extra.append("%s: in a %s incident (the entry records none either way)"
                                     % (where, k))

    total = sum(n for _, n in by_level.values())
    print("rstscope calibration: %s" % a.binary)
    print("%d round(s): %s" % (len(rounds), ", ".join(os.path.relpath(r) for r, _ in rounds)))
    print("%d manifest entries scored, %d verdicts (connections)" % (entries_scored, total))
    if lenient:
        print("(%d verdict(s) on entries with no RST, rst_by null: judged on the cause only; "
              "--strict-sender to judge the sender too)" % lenient)
    print()
    causes = sorted(set(matrix) | {c for row in matrix.values() for c in row})
    width = max([len(c) for c in causes] + [8])
    print("confusion matrix (rows: expected, columns: diagnosed)")
    print("%*s |%s" % (width, "", "".join(" %4d" % (i + 1) for i in range(len(causes)))))
    for i, row in enumerate(causes):
        cells = "".join("    ." if not matrix[row].get(col) else " %4d" % matrix[row][col]
                        for col in causes)
        print("%*s |%s   (%d)" % (width, row, cells, i + 1))
    print()
    print("accuracy per confidence level")
    for lvl in LEVELS + sorted(k for k in by_level if k not in LEVELS):
        r, n = by_level.get(lvl, [0, 0])
        if n or lvl in LEVELS:
            print("  %s: %d of %d right (%s)" % (lvl, r, n, pct(r, n)))
    r_all = sum(r for r, _ in by_level.values())
    print("  all: %d of %d right (%s)" % (r_all, total, pct(r_all, total)))
    print()
    print("wrong verdicts: %d" % len(wrong))
    for where, want, got, lvl, alts in wrong:
        print("  %s\n      expected %s\n      got      %s, confidence %s, alternatives %s"
              % (where, want, got, lvl, ", ".join(alts) if alts else "(none)"))
    print()
    print("incidents (counted separately)")
    r, n = inc["mass-reset"]
    print("  incident mass-reset: %d of %d connections in a mass-reset incident (%s)"
          % (r, n, pct(r, n)))
    r, n = inc["none"]
    print("  incident null:       %d of %d connections in no incident (%s)" % (r, n, pct(r, n)))
    for w in inc_wrong:
        print("  WRONG " + w)
    for w in inc_extra:
        print("  note: " + w)
    if missing:
        print()
        print("not scored: %d" % len(missing))
        for m in missing:
            print("  " + m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
