"""Runs a loaded BPF program once by hand (BPF_PROG_TEST_RUN), for tests
that must drive a program in an order the kernel produces only by chance:
a raw tracepoint program gets the tracepoint's arguments as its context."""

import ctypes
import os
import struct

_SYS_BPF = 321  # x86-64
_BPF_PROG_TEST_RUN = 10
_BPF_PROG_GET_FD_BY_ID = 13
_BPF_F_TEST_RUN_ON_CPU = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    rc = _libc.syscall(_SYS_BPF, cmd, buf, len(buf))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc, buf.raw


def run_raw_tp(prog_id, args, cpu=0):
    """Runs the raw tracepoint program `prog_id` on `cpu` with the
    tracepoint arguments `args` (integers); returns its return value."""
    fd, _ = _bpf(_BPF_PROG_GET_FD_BY_ID, struct.pack("III", prog_id, 0, 0))
    try:
        ctx = (ctypes.c_uint64 * len(args))(*args)
        # union bpf_attr's test: prog_fd, retval, data_size_in, data_size_out,
        # data_in, data_out, repeat, duration, ctx_size_in, ctx_size_out,
        # ctx_in, ctx_out, flags, cpu.
        attr = struct.pack("IIIIQQIIIIQQII", fd, 0, 0, 0, 0, 0, 0, 0, ctypes.sizeof(ctx), 0,
                           ctypes.addressof(ctx), 0, _BPF_F_TEST_RUN_ON_CPU, cpu)
        _, out = _bpf(_BPF_PROG_TEST_RUN, attr)
        return struct.unpack_from("I", out, 4)[0]
    finally:
        os.close(fd)
