#!/usr/bin/env python3
"""A terminal that goes away (an SSH drop, a closed window): runs ARGV in a pty,
reads its output until MARK appears, then closes the pty master and prints the
program's end as JSON: {"exit": N} or {"signal": N}, plus "core": true if it dumped core.

  hangup-terminal.py MARK -- ARGV...
"""
import json, os, pty, select, sys, time, fcntl, struct, termios

mark = sys.argv[1].encode()
argv = sys.argv[sys.argv.index('--') + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
seen = b''
deadline = time.monotonic() + 20
while mark not in seen and time.monotonic() < deadline:
    if select.select([fd], [], [], 0.5)[0]:
        try:
            seen += os.read(fd, 65536)
        except OSError:
            break
os.close(fd)
_, status = os.waitpid(pid, 0)
result = {'exit': os.WEXITSTATUS(status)} if os.WIFEXITED(status) else {'signal': os.WTERMSIG(status)}
result['core'] = os.WCOREDUMP(status)
result['sawMark'] = mark in seen
print(json.dumps(result))
