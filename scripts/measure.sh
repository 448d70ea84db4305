#!/usr/bin/env bash
# measure.sh LABEL ROWS COMMAND...: run COMMAND, print wall time, rows/s and the
# peak resident memory of the command and its children (Python's standard
# library only, so no GNU time is needed).
#
# The peak is the largest of: getrusage of the children (the kernel's high-water
# mark at exit), and samples every 20 ms of /proc/PID/status (VmHWM of each
# process of the command's tree, and the sum of their VmRSS). getrusage alone
# is not enough: `koppel run` resets its own high-water mark before each stage
# (to report per-stage peaks), which also resets what getrusage sees at exit.
# With MEASURE_JSON=FILE set, the figures are also appended to FILE as JSON.
set -euo pipefail
label=$1; rows=$2; shift 2
python3 - "$label" "$rows" "$@" <<'PY'
import os, resource, subprocess, sys, time
label, rows, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0

def tree(pid):
    """pid and its descendants (via /proc/PID/task/TID/children when present)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out

start = time.monotonic()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
sampled_kib = 0
while proc.poll() is None:
    pids = tree(proc.pid)
    hwm = max((status_kib(p, "VmHWM") for p in pids), default=0)
    rss = sum(status_kib(p, "VmRSS") for p in pids)
    sampled_kib = max(sampled_kib, hwm, rss)
    time.sleep(0.02)
wall = time.monotonic() - start
if proc.returncode != 0:
    sys.exit(f"{label}: command failed with exit status {proc.returncode}")
rusage_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
peak_mib = max(sampled_kib, rusage_kib) / 1024
print(f"{label}: {wall:.2f} s wall, {rows / wall / 1e6:.2f} million rows/s, peak RSS {peak_mib:.0f} MiB")
if os.environ.get("MEASURE_JSON"):
    import json
    with open(os.environ["MEASURE_JSON"], "a") as f:
        f.write(json.dumps({"label": label, "seconds": wall, "peak_mib": peak_mib,
                            "loadavg": os.getloadavg()}) + "\n")
PY
