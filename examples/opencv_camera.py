#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""How do I read an MJPEG IP camera in OpenCV? Through GStreamer and mjpeghttpsrc:

    GST_PLUGIN_PATH=target/release /usr/bin/python3 examples/opencv_camera.py http://camera/video.cgi

Debian's and Ubuntu's python3-opencv are built with the GStreamer backend.
Every frame comes with the time it arrived (CAP_PROP_POS_MSEC). When the camera
drops, restarts or stalls, mjpeghttpsrc reconnects and read() goes on returning
frames (it waits while the camera is away; add `stall-timeout=...` to change how
long a silent camera is waited for before reconnecting).
"""
import argparse
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import cv2


def shown(url):
    """The URL as it may be printed: without its credentials (http://user:password@camera/)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1", url)


def diagnose(url, user, password):
    """Why nothing could be read: the plugin, or what the camera answers."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@", url)
    if m:
        # urllib takes the credentials apart from the URL.
        creds = urllib.parse.unquote(m.group(2))
        user, _, password = creds.partition(":")
        url = shown(url)
    inspect = shutil.which("gst-inspect-1.0")
    if inspect and subprocess.run([inspect, "mjpeghttpsrc"], capture_output=True).returncode != 0:
        return ("the mjpegsplit plugin is not found: run ./dev install, or set GST_PLUGIN_PATH "
                "to the directory of libgstmjpegsplit.so (target/release)")
    request = urllib.request.Request(url)
    if user:
        handler = urllib.request.HTTPBasicAuthHandler(urllib.request.HTTPPasswordMgrWithDefaultRealm())
        handler.passwd.add_password(None, url, user, password or "")
        opener = urllib.request.build_opener(handler, urllib.request.HTTPDigestAuthHandler(handler.passwd))
    else:
        opener = urllib.request.build_opener()
    try:
        with opener.open(request, timeout=5) as r:
            ctype = r.headers.get("Content-Type", "")
            if "html" in ctype:
                return (f"{shown(url)} is a web page ({ctype}), not the camera's MJPEG stream: look for "
                        "video.cgi, mjpg/video.mjpg, ?action=stream in the camera's manual")
            return f"{shown(url)} answers {r.status} with {ctype or 'no Content-Type'}, but no frame came"
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            return (f"the camera wants credentials (HTTP {e.code}): give --user and --password, "
                    "or put them in the URL: http://user:password@camera/...")
        return f"the camera answered HTTP {e.code} {e.reason}: check the URL"
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"no answer from {shown(url)} ({reason}): is the camera on, and the URL right?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="MJPEG stream URL, e.g. http://camera/axis-cgi/mjpg/video.cgi "
                    "(credentials as http://user:password@camera/...)")
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: until the stream ends)")
    ap.add_argument("--show", action="store_true", help="display the frames in a window")
    ap.add_argument("--user", help="user name, if the camera asks for one (Basic or Digest)")
    ap.add_argument("--password", help="password, with --user")
    ap.add_argument("--retries", type=int, default=10,
                    help="failed connection attempts in a row before giving up (-1: never; default 10)")
    args = ap.parse_args()

    auth = ""
    if args.user:
        auth = f' user-id="{args.user}" user-pw="{args.password or ""}"'
    pipeline = (
        f'mjpeghttpsrc location="{args.url}"{auth} max-retries={args.retries} ! jpegdec ! '
        "videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=2 sync=false"
    )
    cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
    if not cap.isOpened():
        sys.exit("cannot read the camera: " + diagnose(args.url, args.user, args.password))
    n = 0
    shape = None
    while args.frames == 0 or n < args.frames:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        shape = frame.shape
        print(f"frame {n}: {frame.shape[1]}x{frame.shape[0]} at {cap.get(cv2.CAP_PROP_POS_MSEC):.0f} ms", flush=True)
        if args.show:
            cv2.imshow("camera", frame)
            if cv2.waitKey(1) == 27:
                break
    cap.release()
    if shape is None:
        sys.exit("no frame read: " + diagnose(args.url, args.user, args.password))
    print(f"read {n} frames of {shape[1]}x{shape[0]}")


if __name__ == "__main__":
    main()
