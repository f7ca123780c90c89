#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Throughput benchmark: mjpegsplit against the I/O floor, jpegparse and
# multipartdemux, whole-process time of gst-launch-1.0, interleaved rounds.
#
#   bench/run.sh [ROUNDS]        (default 5; data is made once in target/bench-data)
#
# Needs ffmpeg, gst-launch-1.0 and /usr/bin/time. Prints a Markdown table:
# frames/s, MB/s, the median ratio to the floor (filesrc blocksize=65536 !
# fakesink on the same file) and peak RSS; then the scanner micro-benchmark.
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

# --- runs
declare -A PIPE
PIPE[floor]='filesrc location=@ blocksize=65536 ! fakesink'
PIPE[mjpegsplit]='filesrc location=@ ! mjpegsplit ! fakesink'
PIPE[mjpegsplit-push-4k]='filesrc location=@ blocksize=4096 ! queue ! mjpegsplit ! fakesink'
PIPE[mjpegsplit-push-64k]='filesrc location=@ blocksize=65536 ! queue ! mjpegsplit ! fakesink'
PIPE[jpegparse]='filesrc location=@ ! jpegparse ! fakesink'
PIPE[multipartdemux]='filesrc location=@ ! multipartdemux ! fakesink'

RESULTS=$(mktemp)
for set in 1080p 480p; do
    for kind in raw cl nocl; do
        f="$DATA/$set.$kind.mjpg"
        names="floor mjpegsplit mjpegsplit-push-4k mjpegsplit-push-64k jpegparse"
        [ "$kind" != raw ] && names="$names multipartdemux"
        cat "$f" > /dev/null # page cache
        for r in $(seq "$ROUNDS"); do
            for n in $names; do
                p=${PIPE[$n]//@/$f}
                # shellcheck disable=SC2086
                /usr/bin/time -f "%e %M" -o "$RESULTS.t" gst-launch-1.0 -q $p > /dev/null 2>&1 || echo "failed: $n $f" >&2
                echo "$set $kind $n $(cat "$RESULTS.t")" >> "$RESULTS"
            done
        done
    done
done

python3 - "$RESULTS" "$DATA" <<'PY'
import sys, statistics, os, collections
res, data = sys.argv[1:]
t = collections.defaultdict(list); rss = collections.defaultdict(list)
for line in open(res):
    s, k, n, sec, kb = line.split()
    t[(s, k, n)].append(float(sec)); rss[(s, k, n)].append(int(kb))
print("| data | element | frames/s | MB/s | ratio to floor (median) | peak RSS |")
print("|---|---|---|---|---|---|")
for s in ["1080p", "480p"]:
    frames = int(open(f"{data}/{s}.raw.mjpg.frames").read())
    for k, label in [("raw", "raw"), ("cl", "multipart + CL"), ("nocl", "multipart, no CL")]:
        size = os.path.getsize(f"{data}/{s}.{k}.mjpg") / 1e6
        floor = statistics.median(t[(s, k, "floor")])
        for n in ["floor", "mjpegsplit", "mjpegsplit-push-4k", "mjpegsplit-push-64k", "jpegparse", "multipartdemux"]:
            if (s, k, n) not in t:
                continue
            m = statistics.median(t[(s, k, n)])
            ratios = [a / b for a, b in zip(t[(s, k, n)], t[(s, k, "floor")])]
            print(f"| {s} {label} ({size:.0f} MB) | {n} | {frames / m:,.0f} | {size / m:,.0f} | "
                  f"{statistics.median(ratios):.2f}x | {max(rss[(s, k, n)]) / 1024:.1f} MB |")
PY
rm -f "$RESULTS" "$RESULTS.t"

echo
cargo bench --quiet --bench scanner -- "$DATA/1080p.raw.mjpg" "$DATA/1080p.cl.mjpg"
