#!/usr/bin/env bash
# Runs `vigil bench` on a model under a memory budget the way a small edge device would see it:
# inside a memory cgroup (v1) limited to budget + 64 MiB, after dropping the model file's page
# cache, then prints the cgroup's peak usage and whether the OOM killer fired.
#
#   bench/streamed-cgroup.sh MODEL BUDGET [extra vigil bench args, e.g. -p 0 -n 8 -r 1 -t 2]
#   bench/streamed-cgroup.sh /data/synth-7b-q4_0.gguf 1G -p 512 -n 8 -r 1
#
# Needs root and cgroup v1's memory controller at /sys/fs/cgroup/memory.
set -euo pipefail
model=${1:?usage: $0 MODEL BUDGET [vigil bench args]}
budget=${2:?usage: $0 MODEL BUDGET [vigil bench args]}
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
vigil=${VIGIL:-$here/build/release/vigil}
root=/sys/fs/cgroup/memory
[ -d "$root" ] || { echo "error: $root missing (cgroup v1 memory controller needed)" >&2; exit 1; }

to_bytes() {
  python3 -c 'import re,sys
m=re.fullmatch(r"([0-9.]+)\s*([kKmMgGtT]?)(i?[bB])?", sys.argv[1])
if not m: sys.exit("error: bad size " + sys.argv[1])
print(int(float(m.group(1)) * 1024 ** " KMGT".index((m.group(2) or " ").upper())))' "$1"
}
budget_bytes=$(to_bytes "$budget")
limit=$((budget_bytes + 64 * 1024 * 1024))
cg=$root/vigil-bench-$$
mkdir "$cg"
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
echo "$limit" > "$cg/memory.limit_in_bytes"
echo 0 > "$cg/memory.swappiness" 2>/dev/null || true

python3 -c 'import os,sys
fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$model"
echo "cgroup $cg: limit $limit bytes (budget $budget_bytes + 64 MiB); page cache of $model dropped"

set +e
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" \
  "$vigil" bench -m "$model" --mem-budget "$budget" "$@"
rc=$?
set -e
echo "exit code: $rc"
echo "memory.max_usage_in_bytes: $(cat "$cg/memory.max_usage_in_bytes") (limit $limit)"
echo "memory.failcnt: $(cat "$cg/memory.failcnt")"
grep -E "^(oom_kill|under_oom)" "$cg/memory.oom_control" || true
exit $rc
