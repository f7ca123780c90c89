#!/usr/bin/python3
# SPDX-License-Identifier: MIT OR Apache-2.0
# Proves that a headless Chromium shows an mjpeghttpsink stream and that the
# picture moves:
#   chromium_view.py URL OUTDIR [--user U --password P]
# It opens URL (the sink's page, whose <img id="stream" src="stream"> shows
# /stream), waits up to 15 s for the image's naturalWidth > 0, takes two
# screenshots 1.5 s apart (OUTDIR/shot1.png, OUTDIR/shot2.png) and counts the
# pixels that differ inside the image's bounding box. It prints one JSON line
#   {"natural_width":..,"natural_height":..,"changed_pixels":..,"box":[x,y,w,h]}
# and exits 0 when the image has a size and some pixels changed, 1 otherwise
# (reason on stderr). Chromium (/usr/bin/chromium, Debian's package) is driven
# through the DevTools protocol on --remote-debugging-pipe (fd 3: commands
# in, fd 4: replies out, NUL-terminated JSON), so only the standard library
# and PIL are needed. With --user/--password every request carries an HTTP
# Basic Authorization header (Network.setExtraHTTPHeaders); credentials in
# the URL (http://U:P@host:port/) work as well. Chromium is always killed at
# the end; the whole run is limited to 40 s. Chromium paints a multipart part
# only once the next part's headers arrive: naturalWidth stays 0 until the
# second frame, and the picture is always one frame behind the server's.
import argparse, base64, fcntl, io, json, os, select, shutil, signal
import subprocess, sys, tempfile, time
from PIL import Image, ImageChops

CHROMIUM = "/usr/bin/chromium"
OVERALL_TIMEOUT = 40  # seconds, the whole run
FIRST_FRAME_TIMEOUT = 15  # seconds for naturalWidth > 0
SHOT_INTERVAL = 1.5  # seconds between the two screenshots
PROBE = """(() => {
  const i = document.getElementById('stream');
  if (!i) return null;
  const r = i.getBoundingClientRect();
  return {nw: i.naturalWidth, nh: i.naturalHeight, dpr: window.devicePixelRatio,
          box: [r.x, r.y, r.width, r.height]};
})()"""


class Failure(Exception):
    def __init__(self, message, chromium_log=True):
        super().__init__(message)
        self.chromium_log = chromium_log  # worth showing chromium's stderr


class DevTools:
    """The browser end of --remote-debugging-pipe."""

    def __init__(self, proc, wfd, rfd):
        self.proc, self.wfd, self.rfd = proc, wfd, rfd
        self.buf, self.next_id = b"", 0

    def _read_message(self):
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.rfd], [], [], 5)
            if not ready:
                if self.proc.poll() is not None:
                    raise Failure(f"chromium exited with status {self.proc.returncode}")
                continue
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise Failure("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.wfd, data):]
        while True:  # events (no "id") are not needed here: skip them
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise Failure(f"{method}: {reply['error']}")
                return reply.get("result", {})


def start_chromium(profile):
    # Chromium wants the pipe ends at fd 3 (reads) and fd 4 (writes): park
    # them above 10 so the dup2 calls in the child cannot clobber each other.
    cmd_r, cmd_w = os.pipe()
    rep_r, rep_w = os.pipe()
    child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
    child_w = fcntl.fcntl(rep_w, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(cmd_r)
    os.close(rep_w)

    def to_3_and_4():
        os.dup2(child_r, 3)
        os.dup2(child_w, 4)

    args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--no-default-browser-check", "--mute-audio",
            "--remote-debugging-pipe", f"--user-data-dir={profile}",
            "--window-size=640,480", "about:blank"]
    if not os.access(CHROMIUM, os.X_OK):
        raise Failure(f"no {CHROMIUM}: apt-get install -y --no-install-recommends chromium")
    with open(os.path.join(profile, "stderr.log"), "wb") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                pass_fds=(3, 4), preexec_fn=to_3_and_4,
                                start_new_session=True)
    os.close(child_r)
    os.close(child_w)
    return proc, DevTools(proc, cmd_w, rep_r)


def run(args, profile):
    proc, dt = start_chromium(profile)
    try:
        target = dt.call("Target.createTarget", url="about:blank")["targetId"]
        s = dt.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        dt.call("Page.enable", s)
        if args.user is not None:
            token = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
            dt.call("Network.enable", s)
            dt.call("Network.setExtraHTTPHeaders", s,
                    headers={"Authorization": f"Basic {token}"})
        nav = dt.call("Page.navigate", s, url=args.url)
        if nav.get("errorText"):
            hint = " (wrong or missing --user/--password?)" if "AUTH" in nav["errorText"] else ""
            raise Failure(f"navigation to {args.url} failed: {nav['errorText']}{hint}",
                          chromium_log=False)
        start, probe = time.monotonic(), None
        while time.monotonic() - start < FIRST_FRAME_TIMEOUT:
            probe = dt.call("Runtime.evaluate", s, expression=PROBE,
                            returnByValue=True)["result"].get("value")
            if probe and probe["nw"] > 0:
                break
            time.sleep(0.1)
        if not probe:
            raise Failure("the page has no element with id 'stream'", chromium_log=False)
        if probe["nw"] <= 0:
            return {"natural_width": 0, "natural_height": 0, "changed_pixels": None,
                    "box": probe["box"]}, f"no picture after {FIRST_FRAME_TIMEOUT} s"
        print(f"chromium_view: picture after {time.monotonic() - start:.2f} s", file=sys.stderr)
        shots = []
        for n in (1, 2):
            time.sleep(SHOT_INTERVAL if n == 2 else 0)
            data = base64.b64decode(dt.call("Page.captureScreenshot", s, format="png")["data"])
            with open(os.path.join(args.outdir, f"shot{n}.png"), "wb") as f:
                f.write(data)
            shots.append(Image.open(io.BytesIO(data)).convert("RGB"))
        # Box again after the screenshots, in case the layout moved meanwhile.
        probe = dt.call("Runtime.evaluate", s, expression=PROBE,
                        returnByValue=True)["result"]["value"]
        x, y, w, h = (round(v) for v in probe["box"])
        k = probe["dpr"] or 1
        crop = (round(x * k), round(y * k), round((x + w) * k), round((y + h) * k))
        diff = ImageChops.difference(shots[0].crop(crop), shots[1].crop(crop))
        changed = diff.convert("L").point(lambda v: 255 if v else 0).histogram()[255]
        result = {"natural_width": probe["nw"], "natural_height": probe["nh"],
                  "changed_pixels": changed, "box": [x, y, w, h]}
        if changed == 0:
            return result, "the picture did not change between the two screenshots"
        return result, None
    finally:
        signal.alarm(0)  # the timeout must not cut the clean-up short
        try:  # ask politely (no waiting for a reply), then kill the whole group
            os.write(dt.wfd, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            proc.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(dt.wfd)
        os.close(dt.rfd)


def main():
    p = argparse.ArgumentParser(
        description="Check that headless Chromium shows a moving mjpeghttpsink stream")
    p.add_argument("url")
    p.add_argument("outdir")
    p.add_argument("--user")
    p.add_argument("--password", default="")
    args = p.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    def on_alarm(*_):
        raise Failure(f"overall timeout of {OVERALL_TIMEOUT} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(OVERALL_TIMEOUT)
    profile = tempfile.mkdtemp(prefix="chromium_view.")
    try:
        result, problem = run(args, profile)
    except Failure as e:
        log = os.path.join(profile, "stderr.log")
        lines = open(log, errors="replace").readlines() if os.path.exists(log) else []
        tail = "".join(l for l in lines if "dbus" not in l.lower())[-1500:]
        print(f"chromium_view: FAIL: {e}", file=sys.stderr)
        if e.chromium_log and tail.strip():
            print(f"--- chromium stderr (tail) ---\n{tail}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(result))
    if problem:
        print(f"chromium_view: FAIL: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
