#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Where the time goes, per thread and per stage: `perf record -e cpu-clock`
# of mjpegsplit pulled and pushed (64 KiB reads through a queue) and of the
# two floors (the same pipelines without mjpegsplit), on one file.
#
#   bench/stages.sh [FILE] [RUNS]   (default: the 1080p Content-Length file
#                                    bench/run.sh makes, 3 runs each)
#
# Needs linux-perf (software event cpu-clock, 20 kHz: a sample is 50 µs).
# Prints milliseconds per run; stages under 0.5 ms are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:-target/bench-data/1080p.cl.mjpg}
RUNS=${2:-3}
[ -s "$FILE" ] || { echo "no $FILE: run bench/run.sh once to make it" >&2; exit 1; }
cargo build --release --quiet
export GST_PLUGIN_PATH=$PWD/target/release
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cat "$FILE" > /dev/null
declare -A PIPE=(
    [pull]="filesrc location=$FILE ! mjpegsplit ! fakesink"
    [floor]="filesrc location=$FILE blocksize=65536 ! fakesink"
    [push-64k]="filesrc location=$FILE blocksize=65536 ! queue ! mjpegsplit ! fakesink"
    [floor-push-64k]="filesrc location=$FILE blocksize=65536 ! queue ! fakesink"
)
for name in pull floor push-64k floor-push-64k; do
    for r in $(seq "$RUNS"); do
        # shellcheck disable=SC2086
        perf record -q -F 20000 -e cpu-clock -o "$OUT/$name.$r.data" -- \
            gst-launch-1.0 -q ${PIPE[$name]} > /dev/null 2>&1
        perf script -i "$OUT/$name.$r.data" -F comm,ip,sym,dso 2>/dev/null > "$OUT/$name.$r.txt"
    done
done
python3 - "$OUT" "$RUNS" "$FILE" <<'PY'
import collections, glob, re, sys
out, runs, file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
MS = 0.05  # one sample at 20 kHz
def role(comm):
    if comm.startswith("mjpegsplit-read"): return "reading thread"
    if comm.startswith("mjpegsplit"): return "streaming thread"
    if comm.startswith("filesrc"): return "filesrc thread"
    if comm.startswith("queue"): return "queue thread (mjpegsplit's chain, when there)"
    if comm.startswith("gst-launch"): return "main thread (start-up, shutdown)"
    return "other threads"
def stage(sym, dso):
    if "[kernel" in dso:
        if re.search(r"copy_to_iter|copy_page_to_iter|filemap|rep_movs|vfs_read|ksys_read|touch_atime|folio", sym):
            return "kernel: read, the copy out of the page cache"
        if re.search(r"fault|clear_page|alloc_pages|pte|unmap|zap|free_unref|vma|mmap|tlb", sym):
            return "kernel: page faults, mapping, freeing"
        if re.search(r"futex|schedule|switch|wake|spin_unlock|idle|enqueue|dequeue|select_task|ttwu|hrtimer|irq", sym):
            return "kernel: waking, sleeping, switching"
        return "kernel: other"
    if "mjpegsplit" in dso:
        if "::jpeg::" in sym or "memchr" in sym: return "scan: JPEG walk"
        if "::multipart::" in sym: return "scan: multipart headers, Content-Length check"
        if re.search(r"readahead|mpmc|mpsc|futex", sym): return "handover between threads"
        if "::mjpegsplit::" in sym: return "element: timestamps, buffers, queue"
        return "element: other Rust"
    if "libc" in dso:
        if re.search(r"memmove|memcpy", sym): return "copies (frames over two reads, adapter)"
        if re.search(r"malloc|free|_int_|realloc|calloc", sym): return "allocation"
        if re.search(r"mutex|futex|cond|lll", sym): return "handover between threads"
        return "libc: other"
    if re.search(r"libgst|libglib|libgobject", dso): return "GStreamer, GLib (buffers, pushing, fakesink)"
    return "other"
print(f"{file}: CPU time per run, mean of {runs} (perf cpu-clock, 20 kHz)\n")
for name in ["pull", "floor", "push-64k", "floor-push-64k"]:
    acc = collections.Counter()
    for path in glob.glob(f"{out}/{name}.*.txt"):
        for line in open(path, errors="replace"):
            m = re.match(r"\s*(.+?)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m:
                acc[(role(m.group(1)), stage(m.group(2), m.group(3)))] += 1
    roles = collections.Counter()
    for (r, _), n in acc.items():
        roles[r] += n
    print(f"{name}: {sum(roles.values()) * MS / runs:.1f} ms of CPU")
    for r, total in roles.most_common():
        print(f"  {r}: {total * MS / runs:.1f} ms")
        for (r2, s), n in sorted(acc.items(), key=lambda x: -x[1]):
            if r2 == r and n * MS / runs >= 0.5:
                print(f"      {s}: {n * MS / runs:.1f} ms")
    print()
PY
