#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Run ./dev test against other GStreamer versions, each in a Debian chroot:
#
#   scripts/gst-versions.sh 1.26|1.28|all [ARGS...]    (also: ./dev test --gst ...)
#   scripts/gst-versions.sh 1.26|1.28 --run 'COMMAND'   any command, in the copy
#
#   1.26  Debian 13 trixie (GStreamer 1.26.x)
#   1.28  Debian sid       (GStreamer 1.28.x)
#
# A chroot is made once with debootstrap (--variant=minbase, from Debian's
# package registry) under $MJPEGSPLIT_CHROOTS (default
# /var/cache/mjpegsplit-chroots) and reused; the packages are the ones
# `./dev deps` installs, installed by ./dev itself inside. The host's Rust
# toolchain (rustup and cargo homes) is bind-mounted, the work tree's files
# (tracked and untracked, not ignored: what `git status` shows, uncommitted
# changes included) are copied into /build/mjpegsplit in the chroot, whose
# target/ is kept between runs, and `./dev test ARGS` runs there. Mounts live
# in a private mount namespace (unshare), so nothing is left mounted when the
# script ends, however it ends. Needs root, debootstrap and unshare.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
chroots="${MJPEGSPLIT_CHROOTS:-/var/cache/mjpegsplit-chroots}"
mirror="${MJPEGSPLIT_MIRROR:-http://deb.debian.org/debian}"

usage() {
    echo "usage: scripts/gst-versions.sh 1.26|1.28|all [./dev test arguments]" >&2
    exit 2
}

suite_of() {
    case "$1" in
    1.26) echo trixie ;;
    1.28) echo sid ;;
    *) usage ;;
    esac
}

[ $# -ge 1 ] || usage
case "$1" in
all) versions=(1.26 1.28) ;;
*) versions=("$1") ;;
esac
shift
if [ "$(id -u)" != 0 ]; then
    echo "scripts/gst-versions.sh needs root (debootstrap, chroot, mounts): run it with sudo" >&2
    exit 1
fi
for tool in debootstrap unshare; do
    if ! command -v "$tool" >/dev/null; then
        if [ "$tool" = debootstrap ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        else
            echo "$tool not found (util-linux)" >&2
            exit 1
        fi
    fi
done
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
[ -x "$cargo_home/bin/cargo" ] || {
    echo "no Rust toolchain at $cargo_home (install it with rustup on the host)" >&2
    exit 1
}

# In a private mount namespace: the chroot's /proc, /sys, /dev, the toolchain.
in_chroot() {
    local root="$1"
    shift
    unshare --mount --propagation private -- bash -euo pipefail -c '
        root="$1" rustup_home="$2" cargo_home="$3"
        shift 3
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys"
        mount --rbind /dev "$root/dev"
        mkdir -p "$root/opt/rustup" "$root/opt/cargo"
        mount --bind "$rustup_home" "$root/opt/rustup"
        mount --bind "$cargo_home" "$root/opt/cargo"
        cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
        exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
            CI="${CI:-}" RUSTUP_HOME=/opt/rustup CARGO_HOME=/opt/cargo \
            RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-}" \
            PATH=/opt/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            "$@"
    ' in_chroot "$root" "$rustup_home" "$cargo_home" "$@"
}

# Make (once) the chroot for a suite.
make_chroot() {
    local suite="$1" root="$chroots/$1"
    [ -e "$root/.mjpegsplit-ready" ] && return 0
    echo "== making the $suite chroot in $root (once)" >&2
    rm -rf "$root"
    mkdir -p "$chroots"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$chroots/$suite.debootstrap.log" 2>&1 || {
        tail -n 20 "$chroots/$suite.debootstrap.log" >&2
        exit 1
    }
    echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
    # sid's Release file may be past its Valid-Until in a registry copy.
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99mjpegsplit"
    echo 'APT::Install-Recommends "false";' >>"$root/etc/apt/apt.conf.d/99mjpegsplit"
    touch "$root/.mjpegsplit-ready"
}

# Copy the work tree's files into the chroot, keeping its target/.
copy_tree() {
    local dest="$1/build/mjpegsplit"
    mkdir -p "$dest"
    find "$dest" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
    (cd "$here" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$dest"
}

status=0
for v in "${versions[@]}"; do
    suite="$(suite_of "$v")"
    root="$chroots/$suite"
    make_chroot "$suite"
    copy_tree "$root"
    gst="$(in_chroot "$root" sh -c 'dpkg-query -W -f="\${Version}" libgstreamer1.0-0 2>/dev/null || true')"
    if [ "${1:-}" = --run ]; then
        in_chroot "$root" sh -c "cd /build/mjpegsplit && ./dev deps && ${2:?--run needs a command}" || status=$?
        continue
    fi
    echo "== ./dev test on Debian $suite (GStreamer ${gst:-not yet installed}) in $root" >&2
    if in_chroot "$root" sh -c 'cd /build/mjpegsplit && ./dev test "$@"' dev "$@"; then
        echo "== GStreamer $v ($suite): passed" >&2
    else
        echo "== GStreamer $v ($suite): FAILED" >&2
        status=1
    fi
done
exit $status
