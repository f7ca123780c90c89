#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Serving benchmark (issue 21): mjpeghttpsink against VLC's HTTP output on the
# same 60 s recording (640x480, 15 fps), side by side in one run:
#   - server CPU per client at 100 and 500 clients, the fps each client got and
#     the frames of the recording a fast client missed (a gap in frame order);
#   - the delay of our frames (receive time - X-Timestamp), p50 and p99;
#   - a slow client (40 kB/s, then 200 kB/s; 16 KiB SO_RCVBUF) next to 3 fast
#     ones: how far behind it is (at the end, and at most over the window);
#   - the server's memory (VmRSS) at the end of each window.
#
#   bench/serve.sh [SECONDS]     (window per measurement, default 10, 3..20)
#
# Each measurement gets a fresh server: SECONDS with no client (the idle
# baseline), then the clients connect, 2 s of warm-up, then the SECONDS
# window. CPU %/client = (server CPU in the window - idle) / clients, in % of
# one core (1 % = 10 ms of CPU per client-second). Clients and servers share
# the machine's cores and the loopback: the load client's own CPU and the
# whole machine's busy time are printed too. Needs gst-launch-1.0 and cvlc
# (apt-get install vlc-bin vlc-plugin-base). Set CARGO_TARGET_DIR to build
# elsewhere than target/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS >= 3 && SECS <= 20)) ||
    { echo "SECONDS must be 3..20 (each server run must end within the 60 s recording)" >&2; exit 2; }
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
DATA=$TARGET/bench-data
REC=$DATA/serve-640x480-15fps.mjpg
command -v cvlc >/dev/null || { echo "cvlc is missing: apt-get install vlc-bin vlc-plugin-base" >&2; exit 1; }
# 500 clients: 500 sockets here and 500 in the server (inherited limit).
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- build (the plugin and the load client)
cargo build --release --quiet --lib
LOAD=$(cargo build --release --bench serve_load --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*serve_load[^"]*"' | cut -d'"' -f4 | tail -1)
[ -x "$LOAD" ] || { echo "cannot build the serve_load bench" >&2; exit 1; }
export GST_PLUGIN_PATH=$TARGET/release

# --- the recording, made once: raw concatenated JPEG, 900 distinct frames of ~34 kB
mkdir -p "$DATA"
if [ ! -s "$REC" ]; then
    echo "making $REC..." >&2
    gst-launch-1.0 -q videotestsrc num-buffers=900 pattern=smpte horizontal-speed=3 \
        ! video/x-raw,width=640,height=480,framerate=15/1 ! jpegenc ! filesink location="$REC.tmp"
    mv "$REC.tmp" "$REC"
fi

# --- a run directory that VLC (as nobody when we are root) can read
RUN=$(mktemp -d /tmp/serve-bench.XXXXXX)
chmod 755 "$RUN"
install -m 644 "$REC" "$RUN/rec.mjpg"
mkdir "$RUN/home"
AS_USER=()
if [ "$(id -u)" = 0 ]; then # VLC refuses to run as root
    chown nobody "$RUN/home"
    AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
SPID= LPID=
stop_server() {
    if [ -n "$SPID" ]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        SPID=
    fi
}
cleanup() {
    [ -n "$LPID" ] && kill "$LPID" 2>/dev/null
    stop_server
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sets SPID and PORT.
start_ours() {
    gst-launch-1.0 -m filesrc location="$RUN/rec.mjpg" ! mjpegsplit framerate=15/1 \
        ! mjpeghttpsink port=0 max-clients=600 >"$RUN/server.log" 2>&1 &
    SPID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(grep -o 'mjpeghttpsink-listening.*port=(uint)[0-9]*' "$RUN/server.log" | grep -o '[0-9]*$' || true)
        [ -n "$PORT" ] && return
        sleep 0.1
    done
    echo "mjpeghttpsink did not start:" >&2; cat "$RUN/server.log" >&2; exit 1
}
start_vlc() {
    PORT=$("$LOAD" --free-port)
    "${AS_USER[@]}" env HOME="$RUN/home" cvlc --demux=mjpeg --mjpeg-fps=15 "$RUN/rec.mjpg" \
        --sout "#standard{access=http{mime=multipart/x-mixed-replace;boundary=7b3cc56e5f51db803f790dad720ed50a},mux=mpjpeg,dst=127.0.0.1:$PORT/stream}" \
        >"$RUN/server.log" 2>&1 &
    SPID=$! # setpriv, env and cvlc exec: this is VLC's pid
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return
        sleep 0.1
    done
    echo "VLC did not start:" >&2; cat "$RUN/server.log" >&2; exit 1
}
# measure SERVER LABEL ARGS...: one RESULT line into $RUN/results
measure() {
    local server=$1 label=$2
    shift 2
    "start_$server"
    sleep 1
    echo "$label..." >&2
    "$LOAD" --port "$PORT" --pid "$SPID" --recording "$RUN/rec.mjpg" --fps 15 --seconds "$SECS" \
        --label "$label" "$@" >>"$RUN/results" &
    LPID=$!
    wait "$LPID" || echo "$label: serve_load failed" >&2
    LPID=
    grep "label=$label " "$RUN/results" >&2 || true
    kill -0 "$SPID" 2>/dev/null || { echo "$label: the server died:" >&2; tail "$RUN/server.log" >&2; }
    stop_server
}

# Interleaved, so that other load on the machine falls on both servers alike.
for n in 100 500; do
    measure ours "ours-$n" --clients "$n" --idle "$SECS"
    measure vlc "vlc-$n" --clients "$n" --idle "$SECS"
done
for rate in 40 200; do
    measure ours "ours-slow$rate" --clients 3 --slow "${rate}000" --rcvbuf 16384 --idle 0
    measure vlc "vlc-slow$rate" --clients 3 --slow "${rate}000" --rcvbuf 16384 --idle 0
done

# --- the tables
get() { grep "label=$1 " "$RUN/results" | grep -o " $2=[^ ]*" | cut -d= -f2; }
echo
echo "CPU: % of one core, over a ${SECS} s window (idle: the same server with no client, over ${SECS} s)."
echo
echo "| server | clients (connected) | CPU %/client | server CPU % (idle) | fps per client mean / min | frames missed (fast clients) | delay p50 / p99 | server RSS MB | load client CPU % | machine busy % (of 200) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for s in ours vlc; do
    for n in 100 500; do
        l=$s-$n
        name=$([ $s = ours ] && echo mjpeghttpsink || echo "VLC http/mpjpeg")
        delay="$(get "$l" delay_p50_ms) / $(get "$l" delay_p99_ms) ms"
        [ $s = vlc ] && delay="n/a (no X-Timestamp)"
        echo "| $name | $n ($(get "$l" connected)) | $(get "$l" per_client_cpu_pct) | $(get "$l" server_cpu_pct) ($(get "$l" idle_cpu_pct)) | $(get "$l" fps_mean) / $(get "$l" fps_min) | $(get "$l" missed) | $delay | $(( $(get "$l" server_rss_kb) / 1024 )) | $(get "$l" client_cpu_pct) | $(get "$l" machine_busy_pct) |"
    done
done
echo
echo "Slow client: SO_RCVBUF 16 KiB, next to 3 fast clients. Behind: at the end of the ${SECS} s window"
echo "(after ~2 s of warm-up), and at most in the window (a frame's arrival - the X-Timestamp of the one"
echo "before it). Reading one frame takes its size / the rate: that much delay no server avoids."
echo
echo "| server | rate | slow client frames (fps) | read kB/s | behind at the end, by X-Timestamp | at most | by frame index | fast clients fps mean / min (missed) |"
echo "|---|---|---|---|---|---|---|---|"
for rate in 40 200; do
    for s in ours vlc; do
        l=$s-slow$rate
        name=$([ $s = ours ] && echo mjpeghttpsink || echo "VLC http/mpjpeg")
        lag_ts="$(get "$l" slow_lag_ts_s) s"
        max="$(get "$l" slow_max_behind_s) s"
        [ $s = vlc ] && lag_ts="n/a" && max="n/a"
        echo "| $name | $rate kB/s | $(get "$l" slow_frames) ($(get "$l" slow_fps)) | $(get "$l" slow_kBps) | $lag_ts | $max | $(get "$l" slow_lag_index_s) s | $(get "$l" fps_mean) / $(get "$l" fps_min) ($(get "$l" missed)) |"
    done
done
echo
echo "Raw results:"
sed 's/^/    /' "$RUN/results"
