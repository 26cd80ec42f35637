#!/usr/bin/env python3
"""Medians of the RESULT lines of benches/load/run.sh, with every figure as a ratio to nginx
from the same run. Usage: summarize.py results.txt"""
import statistics
import sys
from collections import defaultdict


def parse(line):
    fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    out = {k: fields[k] for k in ("scenario", "target")}
    for k in ("rps", "cpu_per_100k", "rss_mib"):
        out[k] = float(fields[k])
    # sat_errors=..._non2xx=..._p50=... (wrk) and lat_rate=..._p50=... (oha) packed by run.sh.
    for prefix in ("sat", "lat"):
        packed = next((f"{k}={v}" for k, v in fields.items() if k.startswith(prefix + "_")), "")
        for part in packed[len(prefix) + 1:].split("_"):
            if "=" in part:
                k, v = part.split("=", 1)
                out[f"{prefix}_{k}"] = float(v)
    return out


rows = defaultdict(list)
for path in sys.argv[1:]:
    for line in open(path):
        if line.startswith("RESULT"):
            r = parse(line)
            rows[(r["scenario"], r["target"])].append(r)


def med(key, scenario, target):
    vals = [r[key] for r in rows.get((scenario, target), []) if key in r]
    return statistics.median(vals) if vals else None


scenarios = list(dict.fromkeys(s for s, _ in rows))
print("| scenario | target | req/s | ×nginx | CPU-s/100k | ×nginx | fixed rate/s | p50 µs | p99 µs | p99.9 µs | p99 − nginx p99 µs | peak RSS MiB | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for s in scenarios:
    for t in [t for (sc, t) in rows if sc == s]:
        rps, cpu = med("rps", s, t), med("cpu_per_100k", s, t)
        n_rps, n_cpu, n_p99 = med("rps", s, "nginx"), med("cpu_per_100k", s, "nginx"), med("lat_p99", s, "nginx")
        rate, p50, p99, p999 = (med(k, s, t) for k in ("lat_rate", "lat_p50", "lat_p99", "lat_p999"))
        errs = sum(r.get("sat_errors", 0) + r.get("lat_errors", 0) for r in rows[(s, t)])
        ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"
        num = lambda v: f"{v:,.0f}" if v is not None else "-"
        delta = f"{p99 - n_p99:+,.0f}" if p99 is not None and n_p99 is not None else "-"
        print(f"| {s} | {t} | {rps:,.0f} | {ratio(rps, n_rps)} | {cpu:.2f} | {ratio(cpu, n_cpu)} | {num(rate)} | "
              f"{num(p50)} | {num(p99)} | {num(p999)} | {delta} | {med('rss_mib', s, t):.0f} | {errs:.0f} |")
