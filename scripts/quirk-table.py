#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Write one multipart stream per camera/server quirk (from the test fixtures),
run mjpegsplit and multipartdemux on each, and print a Markdown table of the
frames each outputs and whether they are exactly the JPEGs that were sent.

    cargo build && python3 scripts/quirk-table.py
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = tempfile.mkdtemp(prefix="mjpegsplit-quirks-")
F = os.path.join(ROOT, 'tests/fixtures/')
frames = [open(F+n,'rb').read() for n in ['gray.jpg','rgb.jpg','exif-thumb.jpg','restart-jpegtran.jpg']]
def stream(prefix, write):
    v = prefix
    for k,f in enumerate(frames): v += write(k,f)
    return v
Q = {}
Q['01-standard-CL'] = stream(b'', lambda k,f: b'--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
Q['02-lowercase-nospace'] = stream(b'', lambda k,f: b'--b\r\ncontent-type:image/jpeg\r\ncontent-length:%d\r\n\r\n'%len(f)+f+b'\r\n')
Q['03-padded-values'] = stream(b'', lambda k,f: b'--b\r\nCONTENT-TYPE:    image/jpeg\r\nCONTENT-LENGTH:     %d   \r\n\r\n'%len(f)+f+b'\r\n')
Q['04-LF-tabs'] = stream(b'', lambda k,f: b'--b\nContent-Type:\timage/jpeg\nContent-Length:\t%d\n\n'%len(f)+f+b'\n')
Q['05-motion-%9ld'] = stream(b'', lambda k,f: b'--BoundaryString\r\nContent-type: image/jpeg\r\nContent-Length: %9d\r\n\r\n'%len(f)+f+b'\r\n')
Q['06-boundary-no-dashes'] = stream(b'HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=myboundary\r\n\r\n', lambda k,f: b'myboundary\r\nContent-Type: image/jpeg\r\n\r\n'+f+b'\r\n')
Q['07-first-part-no-boundary'] = stream(b'', lambda k,f: b'Content-Type: image/jpeg\r\n\r\n'+f+b'\r\n--frame\r\n')
Q['08-header-boundary-differs-quoted'] = stream(b'HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary="--other"\r\n\r\n', lambda k,f: b'--real\r\nContent-Type: image/jpeg\r\n\r\n'+f+b'\r\n')
Q['09-duplicated-boundaries-foscam'] = stream(b'', lambda k,f: b'--ipcamera\r\n--ipcamera\r\nContent-Type:image/jpeg\r\nContent-Length:%d\r\n\r\n'%len(f)+f)
Q['10-kasa-boundary--'] = stream(b'', lambda k,f: b'--data-boundary--\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
Q['11-empty-parts'] = stream(b'', lambda k,f: b'--b\r\nContent-Type: image/jpeg\r\nContent-Length: 0\r\n\r\n\r\n--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
Q['12-no-content-type'] = stream(b'', lambda k,f: b'--b\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
junk = b'<xml>\xff\xd8\xff\xe0 fake</xml>'
Q['13-non-jpeg-parts'] = stream(b'', lambda k,f: b'--b\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n'%len(junk)+junk+b'\r\n--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
Q['14-closing-boundary'] = stream(b'', lambda k,f: b'--end\r\nContent-Type: image/jpeg\r\n\r\n'+f+b'\r\n') + b'--end--\r\n'
Q['15-last-part-unclosed-noCL'] = stream(b'', lambda k,f: b'--end\r\nContent-Type: image/jpeg\r\n\r\n'+f)
Q['16-curl-i-http-headers'] = stream(b'HTTP/1.1 200 OK\r\nServer: cam\r\nContent-Type: multipart/x-mixed-replace; boundary=--BoundaryString\r\n\r\n', lambda k,f: b'--BoundaryString\r\nContent-type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
Q['17-CL-too-short'] = stream(b'', lambda k,f: b'--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%(len(f)-300)+f+b'\r\n')
Q['18-CL-too-long'] = stream(b'', lambda k,f: b'--b\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%(len(f)+500)+f+b'\r\n')
Q['19-axis'] = stream(b'', lambda k,f: b'--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n'%len(f)+f+b'\r\n')
Q['20-mjpg-streamer'] = stream(b'', lambda k,f: b'--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\nX-Timestamp: %d.%06d\r\n\r\n'%(len(f),1700000000+k,k*1000)+f+b'\r\n')
Q['21-ustreamer-noCL'] = stream(b'--boundarydonotcross\r\n', lambda k,f: b'Content-Type: image/jpeg\r\nX-UStreamer-Online: true\r\nX-UStreamer-Width: 96\r\n\r\n'+f+b'\r\n--boundarydonotcross\r\n')
Q['22-esp32'] = stream(b'', lambda k,f: b'\r\n--123456789000000000000987654321\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\nX-Timestamp: %d.000100\r\n\r\n'%(len(f),k)+f)
Q['23-ffmpeg-mpjpeg'] = open(F+'ffmpeg-mpjpeg.mjpg','rb').read()
Q['24-gst-multipartmux'] = open(F+'gst-multipartmux.mjpg','rb').read()
for k,v in Q.items(): open(os.path.join(OUT, k + ".mjpg"), "wb").write(v)
def bodies(d):
    out=[]; rest=d
    while True:
        m = re.search(rb'(?i)content-length:\s*(\d+)\r\n', rest)
        if not m: break
        b = rest.index(b'\r\n\r\n', m.start())+4
        n=int(m.group(1)); out.append(rest[b:b+n]); rest=rest[b+n:]
    return out
env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, 'target/debug'))
def run(elem, path):
    d = os.path.join(OUT, 'out'); shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    try:
        p = subprocess.run(['gst-launch-1.0','-q','filesrc','location='+path,'!',elem,'!','multifilesink','location='+d+'/%03d.jpg'], env=env, capture_output=True, timeout=30)
        err = 'ERROR' if b'ERROR' in p.stdout+p.stderr or p.returncode != 0 else ''
    except subprocess.TimeoutExpired:
        # Seen with multipartdemux on some broken streams: an error, then no exit.
        err = 'hung (killed after 30 s)'
    got = [open(f,'rb').read() for f in sorted(glob.glob(d+'/*.jpg'))]
    return got, err
print('| fixture | expected | mjpegsplit frames | bytes exact | multipartdemux |')
print('|---|---|---|---|---|')
for path in sorted(glob.glob(os.path.join(OUT, '*.mjpg'))):
    name = os.path.basename(path)[:-5]
    data = open(path,'rb').read()
    exp = bodies(data) if name.startswith(('23','24')) else frames
    got, err = run('mjpegsplit', path)
    exact = got == exp
    g2, e2 = run('multipartdemux', path)
    md = '%d frames%s%s' % (len(g2), ', exact' if g2 == exp else (', not exact' if g2 else ''), ', ' + e2 if e2 else '')
    print('| %s | %d | %d%s | %s | %s |' % (name, len(exp), len(got), ' (%s!)' % err if err else '', 'yes' if exact else 'NO', md))
shutil.rmtree(OUT, ignore_errors=True)
