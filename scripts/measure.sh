#!/usr/bin/env bash
# measure.sh LABEL ROWS COMMAND...: run COMMAND, print wall time, rows/s and the
# peak resident memory of the command (from getrusage of the child, via Python's
# standard library, so no GNU time is needed).
set -euo pipefail
label=$1; rows=$2; shift 2
python3 - "$label" "$rows" "$@" <<'PY'
import resource, subprocess, sys, time
label, rows, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
start = time.monotonic()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
wall = time.monotonic() - start
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label}: {wall:.2f} s wall, {rows / wall / 1e6:.2f} million rows/s, peak RSS {peak_mib:.0f} MiB")
PY
