"""Least privilege: once attached, a tool holds only the capabilities it
still needs; files of a target are read as the target sees them, and a
target cannot send sonde to a file of the host through a link."""
import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import Tool, tool_path, workload_path, wait_for
from test_contract import TARGETS, TOOLS

CAP = {"dac_read_search": 2, "sys_ptrace": 19, "sys_admin": 21, "sys_nice": 23, "sys_resource": 24,
       "perfmon": 38, "bpf": 39, "checkpoint_restore": 40}
# What each tool keeps after attaching (lib/caps.c: SONDE_KEEP_*); a
# capability the process was not given is not kept either.
# sys_nice: the symbolizer's idle threads get the normal policy back
# when the report waits for them (lib/sym/thread.c).
PROC_READ = {"sys_ptrace", "dac_read_search", "checkpoint_restore", "sys_nice"}
KEEPS = {
    "profile": PROC_READ, "offcpu": PROC_READ, "tcpretrans": PROC_READ,
}
# System-wide, the Go/JVM/Python tools attach to programs started later.
for runtime_tool in ("gclat", "chanlat", "goroutines"):
    KEEPS[runtime_tool] = PROC_READ | {"perfmon", "sys_admin", "sys_resource"}
ANY_KEEP = set().union(*KEEPS.values())


def status_caps(pid):
    text = Path(f"/proc/{pid}/status").read_text()
    caps = {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", text, re.M)}
    caps["NoNewPrivs"] = int(re.search(r"^NoNewPrivs:\s+(\d)", text, re.M).group(1))
    return caps


def mask(names):
    return sum(1 << CAP[n] for n in names)


@pytest.mark.parametrize("tool", TOOLS)
def test_capabilities_dropped_once_attached(tool):
    t = Tool(tool)
    try:
        caps = status_caps(t.proc.pid)
    finally:
        assert t.stop() == 0, t.stderr
    allowed = mask({"bpf"} | KEEPS.get(tool, ANY_KEEP))
    assert caps["CapEff"] & ~allowed == 0, f"{tool} kept {caps['CapEff'] & ~allowed:#x}"
    assert caps["CapEff"] & (1 << CAP["bpf"])
    # Nothing dropped can come back: not permitted, not inheritable, and
    # no exec could grant anything.
    assert caps["CapPrm"] == caps["CapEff"] and caps["CapInh"] == 0
    assert caps["NoNewPrivs"] == 1
    if tool not in KEEPS:
        assert caps["CapEff"] == 1 << CAP["bpf"], f"{tool}: {caps['CapEff']:#x}"


def test_deleted_binary_read_through_map_files_without_sys_admin(tmp_path):
    """The mapped file of a process whose binary was deleted comes from
    /proc/PID/map_files, which CAP_CHECKPOINT_RESTORE opens once
    CAP_SYS_ADMIN is gone."""
    copy = tmp_path / "stacks-deleted"
    shutil.copy(workload_path("stacks"), copy)
    p = subprocess.Popen([str(copy), "cpu"])
    try:
        wait_for(lambda: str(copy) in Path(f"/proc/{p.pid}/maps").read_text(), 30, "the mapping")
        copy.unlink()
        tool = Tool("profile", "-F", 199, "-p", p.pid, "-d", 2, "-o", "folded")
        assert tool.wait_exit(timeout=60) == 0, tool.stderr
    finally:
        p.kill()
        p.wait()
    assert "workload_outer;workload_middle;workload_spin" in tool.stdout, tool.stdout


class OpenWatch:
    """Whether anyone opened a file since: inotify's IN_OPEN."""
    IN_OPEN = 0x20

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, str(path).encode(), self.IN_OPEN) >= 0

    def opened(self):
        try:
            return len(os.read(self.fd, 4096)) > 0
        except BlockingIOError:
            return False

    def close(self):
        os.close(self.fd)


def build_id(path):
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def make_chroot(root, program):
    """A root holding program and the libraries it loads; every file's
    debug-file name (by build-id, under /usr/lib/debug) is a link out."""
    files = [program]
    for line in subprocess.run(["ldd", program], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            files.append(m.group(1))
    ids = []
    for f in files:
        dest = root / f.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
        if build_id(f):
            ids.append(build_id(f))
    assert ids, f"no build-id in {files}"
    return ids


def test_links_in_the_target_root_do_not_lead_to_host_files(tmp_path):
    """A chrooted target whose debug files are links to a host file, one
    by its absolute host path, one climbing out with "..": resolved
    under /proc/PID/root, neither reaches the host file."""
    secret = tmp_path / "host-secret.debug"
    secret.write_bytes(b"\x7fELF host file that sonde must not open\n")
    root = tmp_path / "root"
    ids = make_chroot(root, "/usr/bin/yes")
    for i, bid in enumerate(ids):
        link = root / "usr/lib/debug/.build-id" / bid[:2] / (bid[2:] + ".debug")
        link.parent.mkdir(parents=True, exist_ok=True)
        target = str(secret) if i % 2 == 0 else "../" * 24 + str(secret).lstrip("/")
        link.symlink_to(target)
    watch = OpenWatch(secret)
    p = subprocess.Popen(["chroot", str(root), "/usr/bin/yes"], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.readlink(f"/proc/{p.pid}/root") == str(root), 30, "the chroot")
        tool = Tool("profile", "-F", 199, "-p", p.pid, "-d", 2, "-o", "folded")
        assert tool.wait_exit(timeout=60) == 0, tool.stderr
    finally:
        p.kill()
        p.wait()
    # Sampled, so its mappings (and their debug files) were looked up.
    assert any(line.startswith("yes;") for line in tool.lines()), tool.stdout
    assert not watch.opened(), "sonde opened the host file through a link in the target's root"
    # The watch itself works.
    secret.read_bytes()
    assert watch.opened()
    watch.close()


@pytest.mark.parametrize("tool", TOOLS)
def test_never_executes_anything(tool, tmp_path):
    """Reading a target's files, a tool runs none of them (nor anything
    else): the only execve in its process tree is its own."""
    target = subprocess.Popen(TARGETS.get(tool, ["sleep", "60"]))
    trace = tmp_path / "strace"
    # LeakSanitizer cannot run under ptrace (the other tests check leaks).
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    try:
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", str(trace),
                            str(tool_path(tool)), "-p", str(target.pid), "-d", "2"],
                           capture_output=True, text=True, timeout=120, env=env)
    finally:
        target.kill()
        target.wait()
    assert r.returncode == 0, r.stderr
    execs = [l for l in trace.read_text().splitlines() if "execve" in l]
    assert len(execs) == 1 and str(tool_path(tool)) in execs[0], execs
