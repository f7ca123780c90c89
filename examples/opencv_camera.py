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
import sys

import cv2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="MJPEG stream URL, e.g. http://camera/axis-cgi/mjpg/video.cgi")
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: until the stream ends)")
    ap.add_argument("--show", action="store_true", help="display the frames in a window")
    args = ap.parse_args()

    pipeline = (
        f'mjpeghttpsrc location="{args.url}" ! jpegdec ! '
        "videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=2 sync=false"
    )
    cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
    if not cap.isOpened():
        sys.exit("cannot open the stream (is GST_PLUGIN_PATH set to the mjpegsplit plugin?)")
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
        sys.exit("no frame read")
    print(f"read {n} frames of {shape[1]}x{shape[0]}")


if __name__ == "__main__":
    main()
