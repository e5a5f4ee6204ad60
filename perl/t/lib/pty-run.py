#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, as a person at a terminal would: waits for each
expected prompt, then types the answer. Prints everything the terminal showed and exits with
the command's exit code (124 on timeout).

    PTY_DIALOGUE='[["New password", "s3cret"], ...]' pty-run.py command args...
"""
import json, os, pty, select, sys, time

dialogue = json.loads(os.environ.get("PTY_DIALOGUE", "[]"))
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

shown = b""
deadline = time.time() + 30


def read_more():
    global shown
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not ready:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the command closed the terminal
        return False
    shown += data
    return bool(data)


seen = 0
for prompt, answer in dialogue:
    while prompt.encode() not in shown[seen:]:
        if not read_more():
            sys.stdout.write(shown.decode(errors="replace"))
            sys.stdout.write("\n[pty-run: no prompt %r]\n" % prompt)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit(124)
    seen = shown.index(prompt.encode(), seen) + len(prompt)
    os.write(fd, answer.encode() + b"\n")
while read_more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
