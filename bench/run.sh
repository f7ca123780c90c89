#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Throughput benchmark: mjpegsplit against the I/O floor, jpegparse and
# multipartdemux, whole-process time of gst-launch-1.0, interleaved rounds.
#
#   bench/run.sh [ROUNDS]        (default 5; data is made once in target/bench-data)
#
# Needs ffmpeg, gst-launch-1.0 and /usr/bin/time. Prints a Markdown table:
# frames/s, MB/s, the median ratio to the floor (filesrc blocksize=65536 !
# fakesink on the same file; push-mode rows against the same push pipeline
# without mjpegsplit) and peak RSS; then the scanner micro-benchmark. A run
# during which the hypervisor ran something else on our vCPUs (steal time)
# is run again, at most twice; how many were is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
DATA=target/bench-data
mkdir -p "$DATA"

cargo build --release --quiet
export GST_PLUGIN_PATH=$PWD/target/release

# --- data: 1080p (~500 MB) and 640x480, raw and multipart with/without Content-Length
make_set() { # name size frames quality
    local name=$1 size=$2 frames=$3 q=$4
    if [ ! -s "$DATA/$name.raw.mjpg" ]; then
        echo "generating $name ($frames frames of $size)..." >&2
        ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=30,noise=alls=8:allf=t" \
            -frames:v "$frames" -c:v mjpeg -q:v "$q" -f mjpeg "$DATA/$name.raw.mjpg"
    fi
    if [ ! -s "$DATA/$name.cl.mjpg" ] || [ ! -s "$DATA/$name.nocl.mjpg" ]; then
        python3 - "$DATA/$name.raw.mjpg" "$DATA/$name.cl.mjpg" "$DATA/$name.nocl.mjpg" <<'PY'
import sys
src, cl, nocl = sys.argv[1:]
data = open(src, 'rb').read()
# Frames of ffmpeg's raw output: each starts with FF D8 FF right after an FF D9.
starts = [0]
i = data.find(b'\xff\xd9\xff\xd8\xff')
while i >= 0:
    starts.append(i + 2)
    i = data.find(b'\xff\xd9\xff\xd8\xff', i + 2)
starts.append(len(data))
with open(cl, 'wb') as a, open(nocl, 'wb') as b:
    for s, e in zip(starts, starts[1:]):
        f = data[s:e]
        a.write(b'--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n' % len(f) + f + b'\r\n')
        b.write(b'--myboundary\r\nContent-Type: image/jpeg\r\n\r\n' + f + b'\r\n')
print(len(starts) - 1, file=open(src + '.frames', 'w'))
PY
    fi
}
make_set 1080p 1920x1080 2000 4
make_set 480p 640x480 4000 4

# --- runs: interleaved rounds, whole-process wall time (perf_counter) and peak RSS
python3 - "$DATA" "$ROUNDS" <<'PY'
import collections, os, statistics, subprocess, sys, tempfile, time
data, rounds = sys.argv[1], int(sys.argv[2])
PIPE = {
    "floor": "filesrc location=@ blocksize=65536 ! fakesink",
    "mjpegsplit": "filesrc location=@ ! mjpegsplit ! fakesink",
    "jpegparse": "filesrc location=@ ! jpegparse ! fakesink",
    "multipartdemux": "filesrc location=@ ! multipartdemux ! fakesink",
    "floor-push-64k": "filesrc location=@ blocksize=65536 ! queue ! fakesink",
    "mjpegsplit-push-64k": "filesrc location=@ blocksize=65536 ! queue ! mjpegsplit ! fakesink",
    "floor-push-4k": "filesrc location=@ blocksize=4096 ! queue ! fakesink",
    "mjpegsplit-push-4k": "filesrc location=@ blocksize=4096 ! queue ! mjpegsplit ! fakesink",
}
t = collections.defaultdict(list)
rss = collections.defaultdict(list)
tmp = tempfile.mktemp()
def steal():
    # Time the hypervisor ran something else on our vCPUs (jiffies of 10 ms).
    return int(open("/proc/stat").readline().split()[8])
redone = 0
for s in ["1080p", "480p"]:
    for k in ["raw", "cl", "nocl"]:
        f = f"{data}/{s}.{k}.mjpg"
        names = [n for n in PIPE if k != "raw" or n != "multipartdemux"]
        subprocess.run(["cat", f], stdout=subprocess.DEVNULL)
        for r in range(rounds):
            for n in names:
                cmd = ["/usr/bin/time", "-f", "%M", "-o", tmp, "gst-launch-1.0", "-q"] + PIPE[n].replace("@", f).split()
                # A run during which the hypervisor took a vCPU is run again
                # (at most twice): it measured the host, not the pipeline.
                for attempt in range(3):
                    s0 = steal()
                    t0 = time.perf_counter()
                    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    took = time.perf_counter() - t0
                    if steal() == s0 or attempt == 2:
                        break
                    redone += 1
                t[(s, k, n)].append(took)
                if p.returncode:
                    print(f"failed: {n} {f}", file=sys.stderr)
                rss[(s, k, n)].append(int(open(tmp).read().split()[-1]))
os.unlink(tmp)
runs = sum(len(v) for v in t.values())
print(f"{runs} runs; {redone} more were run again because the hypervisor took a vCPU during them "
      "(steal time in /proc/stat)\n")
print("| data | element | frames/s | MB/s | ratio to floor (median) | peak RSS |")
print("|---|---|---|---|---|---|")
for s in ["1080p", "480p"]:
    frames = int(open(f"{data}/{s}.raw.mjpg.frames").read())
    for k, label in [("raw", "raw"), ("cl", "multipart + CL"), ("nocl", "multipart, no CL")]:
        size = os.path.getsize(f"{data}/{s}.{k}.mjpg") / 1e6
        for n in PIPE:
            if (s, k, n) not in t:
                continue
            ref = "floor" if "push" not in n else n.replace("mjpegsplit", "floor")
            m = statistics.median(t[(s, k, n)])
            ratios = [a / b for a, b in zip(t[(s, k, n)], t[(s, k, ref)])]
            name = n if ref == "floor" or n == ref else f"{n} (vs {ref})"
            print(f"| {s} {label} ({size:.0f} MB) | {name} | {frames / m:,.0f} | {size / m:,.0f} | "
                  f"{statistics.median(ratios):.2f}x | {max(rss[(s, k, n)]) / 1024:.1f} MB |")
PY


echo
cargo bench --quiet --bench scanner -- "$DATA/1080p.raw.mjpg" "$DATA/1080p.cl.mjpg"
