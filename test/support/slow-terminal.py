#!/usr/bin/env python3
"""A slow but live terminal, as an SSH link is: runs ARGV in a pty and reads its
output CHUNK bytes at a time, sleeping DELAY_S after each read.

  slow-terminal.py OUT CHUNK DELAY_S GO_AFTER DONE_MARK -- ARGV...

Every byte read is appended to the file OUT. Once the output holds GO_AFTER, one
Enter is typed (the program starts its flood then); once it holds DONE_MARK the
reader stops and exits 0 (closing the pty hangs the client up). Exits 3 after
TIMEOUT_S (default 120) without DONE_MARK.
"""
import os, pty, select, sys, time, fcntl, struct, termios

out_path, chunk, delay, go_after, done_mark = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].encode(), sys.argv[5].encode()
argv = sys.argv[sys.argv.index('--') + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
seen = b''
went = False
deadline = time.monotonic() + float(os.environ.get('TIMEOUT_S', '120'))
with open(out_path, 'wb') as out:
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0, deadline - time.monotonic()))[0]:
            break
        try:
            data = os.read(fd, chunk)
        except OSError:
            break
        if not data:
            break
        out.write(data)
        # Only the end matters for the marks; keep enough to span a chunk boundary.
        seen = (seen + data)[-(len(done_mark) + len(go_after) + chunk):]
        if not went and go_after in seen:
            went = True
            os.write(fd, b'\r')
        if done_mark in seen:
            out.flush()
            sys.exit(0)
        time.sleep(delay)
sys.exit(3)
