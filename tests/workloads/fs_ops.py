"""File operations with known sizes and offsets, for sonde-fsslower's tests.

Runs the steps given as arguments, in order, on one current file, each as
exactly one syscall (os.* functions map one to one onto them):

  create PATH      open(O_CREAT|O_WRONLY|O_TRUNC)
  open PATH        open(O_RDONLY); a failure is reported, not fatal
  write N          write N bytes
  pwrite N OFF     pwrite64 N bytes at OFF
  writev N M       writev two buffers of N and M bytes
  read N           read up to N bytes
  pread N OFF      pread64 up to N bytes at OFF
  fsync | fdatasync | close
  slowread FIFO MS creates the named pipe FIFO, opens it read-write (which
                   does not block) and reads from it while a second thread
                   writes 7 bytes MS milliseconds after the read blocked:
                   one read that takes at least MS ms, on a file of the
                   FIFO's directory.

With --wait it prints {"pid": PID} and waits for a line on stdin first, so
a tracer can attach, filtered on the PID, before anything happens. Each
step prints one JSON line with what the syscall returned.
"""
import json
import os
import sys
import threading
import time


def emit(**kw):
    print(json.dumps(kw), flush=True)


def slow_read(path, ms):
    if not os.path.exists(path):
        os.mkfifo(path)
    fd = os.open(path, os.O_RDWR)
    reader = threading.get_native_id()

    def feed():
        # The MS milliseconds count from when the reader sleeps in the
        # pipe, so the read syscall surely lasts that long.
        wchan = f"/proc/self/task/{reader}/wchan"
        deadline = time.monotonic() + 30
        while "pipe_read" not in open(wchan).read() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(ms / 1000)
        os.write(fd, b"z" * 7)

    writer = threading.Thread(target=feed)
    writer.start()
    start = time.monotonic_ns()
    data = os.read(fd, 64)
    elapsed = time.monotonic_ns() - start
    writer.join()
    os.close(fd)
    return len(data), elapsed


def main(argv):
    if argv and argv[0] == "--wait":
        argv = argv[1:]
        emit(pid=os.getpid())
        sys.stdin.readline()
    fd = None
    i = 0
    while i < len(argv):
        step = argv[i]
        if step == "create":
            fd = os.open(argv[i + 1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            emit(step=step, fd=fd)
            i += 2
        elif step == "open":
            try:
                fd = os.open(argv[i + 1], os.O_RDONLY)
                emit(step=step, fd=fd)
            except OSError as e:
                emit(step=step, errno=e.errno)
            i += 2
        elif step == "write":
            emit(step=step, ret=os.write(fd, b"w" * int(argv[i + 1])))
            i += 2
        elif step == "pwrite":
            emit(step=step, ret=os.pwrite(fd, b"p" * int(argv[i + 1]), int(argv[i + 2])))
            i += 3
        elif step == "writev":
            bufs = [b"a" * int(argv[i + 1]), b"b" * int(argv[i + 2])]
            emit(step=step, ret=os.writev(fd, bufs))
            i += 3
        elif step == "read":
            emit(step=step, ret=len(os.read(fd, int(argv[i + 1]))))
            i += 2
        elif step == "pread":
            emit(step=step, ret=len(os.pread(fd, int(argv[i + 1]), int(argv[i + 2]))))
            i += 3
        elif step == "fsync":
            os.fsync(fd)
            emit(step=step)
            i += 1
        elif step == "fdatasync":
            os.fdatasync(fd)
            emit(step=step)
            i += 1
        elif step == "close":
            os.close(fd)
            fd = None
            emit(step=step)
            i += 1
        elif step == "slowread":
            n, elapsed = slow_read(argv[i + 1], int(argv[i + 2]))
            emit(step=step, ret=n, elapsed_ns=elapsed)
            i += 3
        else:
            sys.exit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
