#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Install the mjpegsplit plugin where GStreamer finds it without GST_PLUGIN_PATH,
# or remove it.
#
#   scripts/install.sh [--system] [--uninstall] [LIBRARY]
#
# By default the user plugin directory, ${XDG_DATA_HOME:-~/.local/share}/gstreamer-1.0/plugins
# (GStreamer scans it for that user, root included); --system: the system plugin
# directory of the installed GStreamer (pkg-config's pluginsdir), which needs root.
# LIBRARY defaults to target/release/libgstmjpegsplit.so (./dev install builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
system=0
uninstall=0
lib=target/release/libgstmjpegsplit.so
for arg in "$@"; do
    case "$arg" in
    --system) system=1 ;;
    --uninstall) uninstall=1 ;;
    -h | --help)
        sed -n '3,12p' "$0"
        exit 0
        ;;
    *) lib=$arg ;;
    esac
done
if [ "$system" = 1 ]; then
    dir=$(pkg-config --variable=pluginsdir gstreamer-1.0)
else
    dir="${XDG_DATA_HOME:-$HOME/.local/share}/gstreamer-1.0/plugins"
fi
target="$dir/libgstmjpegsplit.so"
if [ "$uninstall" = 1 ]; then
    if [ -e "$target" ]; then
        rm -f "$target"
        echo "removed $target"
    else
        echo "not installed in $dir"
    fi
    exit 0
fi
[ -f "$lib" ] || { echo "no plugin library at $lib (build it: cargo build --release)" >&2; exit 1; }
mkdir -p "$dir"
install -m 0644 "$lib" "$target"
echo "installed $target"
# Check that GStreamer finds it, with no GST_PLUGIN_PATH.
if env -u GST_PLUGIN_PATH gst-inspect-1.0 mjpegsplit > /dev/null 2>&1; then
    echo "gst-inspect-1.0 mjpegsplit: found"
else
    echo "warning: gst-inspect-1.0 does not find mjpegsplit" >&2
    exit 1
fi
