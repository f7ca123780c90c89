# SPDX-License-Identifier: MIT OR Apache-2.0
# One camerabin still capture (videotestsrc through wrappercamerabinsrc):
#   camerabin_capture.py OUTPUT.jpg SIZE
# prints "done" or "failed", then the factories of every element camerabin
# made (tests/encoders.rs runs it with and without the plugin).
import sys, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
cam = Gst.ElementFactory.make("camerabin")
src = Gst.ElementFactory.make("wrappercamerabinsrc")
src.set_property("video-source", Gst.ElementFactory.make("videotestsrc"))
cam.set_property("camera-source", src)
cam.set_property("mode", 1)
cam.set_property("location", sys.argv[1])
size = sys.argv[2]
cam.set_property("image-capture-caps", Gst.Caps.from_string(f"video/x-raw,width={size},height={size}"))
cam.set_property("viewfinder-sink", Gst.ElementFactory.make("fakesink"))
cam.set_state(Gst.State.PLAYING)
bus = cam.get_bus()
cam.get_state(10 * Gst.SECOND)
cam.emit("start-capture")
ok = False
while True:
    msg = bus.timed_pop(20 * Gst.SECOND)
    if msg is None:
        print("timeout"); break
    if msg.type == Gst.MessageType.ERROR:
        print("error:", msg.parse_error()[0].message); break
    if msg.type == Gst.MessageType.ELEMENT and msg.get_structure().get_name() == "image-done":
        ok = True; break
names = set()
def walk(b):
    it = b.iterate_recurse()
    while True:
        res, e = it.next()
        if res != Gst.IteratorResult.OK:
            break
        f = e.get_factory()
        if f:
            names.add(f.get_name())
cam.set_state(Gst.State.NULL)
walk(cam)
print("done" if ok else "failed", " ".join(sorted(names)))
