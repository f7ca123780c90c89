#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Side by side in one run: this build of the plugin against another one (an
# earlier commit), pull mode and push mode behind a queue (64 KiB reads), on
# bench/run.sh's data. Medians of ROUNDS whole-process runs of gst-launch-1.0,
# and their ratios to the floor (the same pipeline without mjpegsplit).
#
#   git worktree add /tmp/old REV && (cd /tmp/old && cargo build --release --lib)
#   bench/compare.sh /tmp/old/target/release [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?give the directory of the other libgstmjpegsplit.so}
ROUNDS=${2:-7}
NEW=$PWD/target/release
DATA=$PWD/target/bench-data
[ -f "$DATA/480p.nocl.mjpg" ] || { echo "run bench/run.sh once first (it makes the data)" >&2; exit 1; }
cargo build --release --lib --quiet
GST_REGISTRY=/tmp/mjpegsplit-cmp-old.bin GST_PLUGIN_PATH=$OLD gst-inspect-1.0 mjpegsplit >/dev/null
GST_REGISTRY=/tmp/mjpegsplit-cmp-new.bin GST_PLUGIN_PATH=$NEW gst-inspect-1.0 mjpegsplit >/dev/null
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| data | mode | floor | other build | this build |"
echo "|---|---|---|---|---|"
for f in 1080p.raw 1080p.cl 1080p.nocl 480p.raw 480p.cl 480p.nocl; do
    p=$DATA/$f.mjpg
    for mode in pull push; do
        if [ $mode = pull ]; then
            src="filesrc location=$p"; floor="filesrc location=$p blocksize=65536"
        else
            src="filesrc location=$p blocksize=65536 ! queue"; floor=$src
        fi
        F=(); O=(); N=()
        for _ in $(seq "$ROUNDS"); do
            # shellcheck disable=SC2086
            F+=("$(ms gst-launch-1.0 -q $floor ! fakesink)")
            # shellcheck disable=SC2086
            O+=("$(GST_REGISTRY=/tmp/mjpegsplit-cmp-old.bin GST_PLUGIN_PATH=$OLD ms gst-launch-1.0 -q $src ! mjpegsplit ! fakesink)")
            # shellcheck disable=SC2086
            N+=("$(GST_REGISTRY=/tmp/mjpegsplit-cmp-new.bin GST_PLUGIN_PATH=$NEW ms gst-launch-1.0 -q $src ! mjpegsplit ! fakesink)")
        done
        fm=$(printf '%s\n' "${F[@]}" | median)
        om=$(printf '%s\n' "${O[@]}" | median)
        nm=$(printf '%s\n' "${N[@]}" | median)
        printf '| %s | %s | %s ms | %s ms (%.2fx) | %s ms (%.2fx) |\n' "$f" "$mode" "$fm" "$om" \
            "$(echo "$om / $fm" | bc -l)" "$nm" "$(echo "$nm / $fm" | bc -l)"
    done
done
