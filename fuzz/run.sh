#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Coverage-guided fuzzing of the scanner and the multipart splitter (and of
# damaged streams built from real frames: fuzz_targets/damaged.rs) with
# libFuzzer, on stable Rust (no nightly, no cargo-fuzz: the sanitizer-coverage
# instrumentation cargo-fuzz adds is passed here as stable -C flags).
#
#   fuzz/run.sh build                build the targets
#   fuzz/run.sh run RUNS [JOBS]      run each target for RUNS executions (e.g. 10000000)
#   fuzz/run.sh time SECONDS         run each target for SECONDS
#
# Seed corpora come from the test fixtures (and every quirk stream), written to
# target/fuzz-corpus/<target>/; crashes land in target/fuzz-artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$ROOT/target/fuzz-build"
# An explicit --target keeps the instrumentation out of build scripts.
HOST=$(rustc -vV | sed -n 's/^host: //p')
BIN="$CARGO_TARGET_DIR/$HOST/release"

build() {
    cargo build --release --quiet --bins --target "$HOST"
}

seed() { # target
    local dir="$ROOT/target/fuzz-corpus/$1"
    mkdir -p "$dir" "$ROOT/target/fuzz-artifacts/$1"
    local prefix f
    for f in "$ROOT"/tests/fixtures/*; do
        [ -f "$f" ] || continue
        # 9 leading bytes: chunking seed and frame size limit.
        for prefix in 'seed0001x' 'seed0002\x00'; do
            { printf "$prefix"; cat "$f"; } > "$dir/$(basename "$f").$(printf %s "$prefix" | md5sum | cut -c1-6)"
        done
    done
    # Earlier findings (already in the fuzz input format).
    cp "$ROOT"/tests/fixtures/fuzz/* "$dir/"
}

run() { # target, libFuzzer args...
    local t=$1
    shift
    seed "$t"
    "$BIN/$t" "$ROOT/target/fuzz-corpus/$t" \
        -artifact_prefix="$ROOT/target/fuzz-artifacts/$t/" -max_len=300000 -print_final_stats=1 "$@"
}

TARGETS=(scanner splitter damaged)

# Run the targets in parallel; fail if any finds a crash.
both() {
    local pids=() status=0 t i
    for t in "${TARGETS[@]}"; do
        run "$t" "$@" > "$ROOT/target/fuzz-$t.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!TARGETS[@]}"; do
        t=${TARGETS[$i]}
        if ! wait "${pids[$i]}"; then
            status=1
            echo "[$t] FAILED: see target/fuzz-$t.log and target/fuzz-artifacts/$t/" >&2
        fi
        grep -E "^(Done|stat::)|ERROR|panicked" "$ROOT/target/fuzz-$t.log" | sed "s/^/[$t] /"
    done
    return $status
}

case "${1:-}" in
build) build ;;
run)
    build
    both -runs="${2:?RUNS}"
    ;;
time)
    build
    both -max_total_time="${2:?SECONDS}"
    ;;
*)
    echo "usage: fuzz/run.sh build | run RUNS | time SECONDS" >&2
    exit 2
    ;;
esac
