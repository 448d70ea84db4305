#!/usr/bin/env python3
"""Print each stage's wall time and peak memory from a run directory's manifests."""
import json, pathlib, sys

run = pathlib.Path(sys.argv[1])
total = 0.0
print(f"{'stage':<10} {'seconds':>9} {'peak MiB':>9}  rows")
for stage in ["ingest", "link", "effect", "aggregate", "protect", "export"]:
    path = run / stage / "manifest.json"
    if not path.exists():
        print(f"{stage:<10} (not run)")
        continue
    m = json.loads(path.read_text())
    total += m["duration_seconds"]
    rows = " ".join(f"{k}={v}" for k, v in m["rows"].items())
    print(f"{stage:<10} {m['duration_seconds']:>9.1f} {m['peak_rss_mib']:>9}  {rows}")
print(f"{'total':<10} {total:>9.1f}")
