"""-o pprof of the stack tools, read back by `go tool pprof`: the known
call chains of tests/workloads/stacks.c with source lines, the sample
types and the period; on-CPU from sonde-profile, blocked time from
sonde-offcpu."""
import os
import re
import shutil
import subprocess

import pytest

from harness import tool_path, workload_path

GO = shutil.which("go")
pytestmark = pytest.mark.skipif(GO is None, reason="go (for go tool pprof) is not installed")


def pprof(path, tmp_path, *args):
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"),
               PPROF_TMPDIR=str(tmp_path))
    r = subprocess.run([GO, "tool", "pprof", "-symbolize=none", *args, str(path)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def record(tool, out, *args):
    with open(out, "wb") as f:
        r = subprocess.run([str(tool_path(tool)), "-o", "pprof", *map(str, args)],
                           stdout=f, stderr=subprocess.PIPE, text=False, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert out.read_bytes()[:2] == b"\x1f\x8b", "not gzip"


def build_id(path):
    m = re.search(r"Build ID: ([0-9a-f]+)", subprocess.run(
        ["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout)
    assert m, f"{path} has no build-id"
    return m.group(1)


def test_profile_pprof(tmp_path):
    spinner = subprocess.Popen([str(workload_path("stacks")), "cpu"])
    try:
        out = tmp_path / "cpu.pb.gz"
        record("profile", out, "-F", 199, "-d", 3, "-p", spinner.pid)
    finally:
        spinner.kill()
        spinner.wait()
    raw = pprof(out, tmp_path, "-raw")
    assert "samples/count cpu/nanoseconds" in raw, raw
    assert re.search(r"^Period: 5025125$", raw, re.M), raw   # 1e9 / 199 Hz
    # Each mapping names its file's build-id: a `go tool pprof` of another
    # machine finds the same binaries by it.
    assert re.search(r"^\d+: \S+ stacks " + build_id(workload_path("stacks")) + r"\b", raw, re.M), raw
    top = pprof(out, tmp_path, "-top", "-lines")
    # The leaf, with its source line, carries most samples.
    assert re.search(r"workload_spin .*stacks\.c:\d+", top), top
    tree = pprof(out, tmp_path, "-traces")
    assert re.search(r"workload_spin.*\n.*workload_middle.*\n.*workload_outer.*\n.*main", tree), tree
    assert "pid:" in tree and "comm:" in tree


def test_offcpu_pprof(tmp_path):
    sleeper = subprocess.Popen([str(workload_path("stacks")), "sleep", "5", "100"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert sleeper.stdout.readline() == "ready\n"
    out = tmp_path / "offcpu.pb.gz"
    tool = subprocess.Popen([str(tool_path("offcpu")), "-v", "-o", "pprof", "-p", str(sleeper.pid)],
                            stdout=open(out, "wb"), stderr=subprocess.PIPE, text=True)
    try:
        for line in tool.stderr:
            if "; tracing" in line:
                break
        sleeper.stdin.write("go\n")
        sleeper.stdin.flush()
        assert sleeper.stdout.readline() == "done\n"
    finally:
        tool.send_signal(2)
        assert tool.wait(60) == 0
        sleeper.kill()
        sleeper.wait()
    raw = pprof(out, tmp_path, "-raw")
    assert "off_cpu/nanoseconds blocks/count" in raw, raw
    top = pprof(out, tmp_path, "-top", "-sample_index=off_cpu", "-unit=ms")
    # About 5 x 100 ms blocked under workload_sleep.
    m = re.search(r"^\s*\S+\s+\S+\s+\S+\s+([\d.]+)ms\s+\S+\s+workload_sleep$", top, re.M)
    assert m and 400 <= float(m.group(1)) <= 1000, top


def test_pprof_refused_on_a_terminal_and_with_interval():
    r = subprocess.run([str(tool_path("profile")), "-o", "pprof", "-i", "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "-i" in r.stderr
