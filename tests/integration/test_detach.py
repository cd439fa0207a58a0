"""A tool exits without waiting for the kernel's slow detaches
(lib/detach.c): its classic tracepoints go on being detached by a child,
sonde-detach, that holds nothing else of the tool's, and whose end frees
every program."""
import os
import re
import signal
import subprocess

from harness import bpf_programs, programs_held, tool_path, wait_for

ATTACHMENTS = ("anon_inode:bpf_link", "anon_inode:[perf_event]")


def run_until_attached(tool, *args):
    p = subprocess.Popen([str(tool_path(tool)), "-v", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    said = b""
    for line in iter(p.stderr.readline, b""):
        said += line
        if b"; tracing" in line:
            return p, programs_held(p.pid), said
    p.wait()
    raise AssertionError(f"sonde-{tool} did not attach:\n{said.decode()}")


def read_to_eof(stream):
    """What is left in a pipe whose writers must all be gone: a writer
    still holding it would make the read block."""
    os.set_blocking(stream.fileno(), False)
    data = b""
    while True:
        try:
            chunk = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            raise AssertionError("a process still holds the tool's pipe open") from None
        if not chunk:
            return data
        data += chunk


def files_of(pid):
    """readlink of each fd of a live process, or None once it has ended."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        return [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds]
    except (FileNotFoundError, ProcessLookupError):
        return None


def detacher_running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return "(sonde-detach)" in stat and stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_classic_tracepoints_detach_after_the_tool_exits():
    # Per-syscall tracepoints: perf-event links, each waiting out a grace
    # period when closed.
    p, prog_ids, said = run_until_attached("fsslower", "--attach", "tracepoint")
    assert prog_ids
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=30) == 0
    # The tool's stdout and stderr end with it, though its probes live on.
    read_to_eof(p.stdout)
    said += read_to_eof(p.stderr)
    m = re.search(rb"detaching in the background \(pid (\d+)\)", said)
    assert m, said.decode()
    child = int(m.group(1))
    files = files_of(child)
    if files is not None and detacher_running(child):
        # Caught before it finished: it holds attachments and nothing else,
        # in a session of its own (a Ctrl-C for the tool is not for it).
        assert all(f in ATTACHMENTS for f in files), files
        assert os.getsid(child) == child
    wait_for(lambda: not detacher_running(child), 60, "sonde-detach to end")
    wait_for(lambda: not (prog_ids & set(bpf_programs())), 10,
             "the tool's BPF programs to be freed")


def test_fast_links_detach_in_the_tool():
    # tp_btf links go at once: no child is started for them.
    p, prog_ids, said = run_until_attached("fsslower", "--attach", "tp_btf")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=30) == 0
    read_to_eof(p.stdout)
    said += read_to_eof(p.stderr)
    assert b"in the background" not in said, said.decode()
    wait_for(lambda: not (prog_ids & set(bpf_programs())), 10,
             "the tool's BPF programs to be freed")
