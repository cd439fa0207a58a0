"""The pprof writer's output as `go tool pprof` reads it: a tiny program
(tests/workloads/pprof_writer.c) writes a known profile through
sonde_pprof_*, and pprof's own -top and -raw reports must show its
functions, inline frames, lines, merged sample counts and sample types.
Needs no privileges: it loads no BPF."""

import os
import re
import shutil
import subprocess

import pytest

from harness import workload_path

GO = shutil.which("go")


@pytest.fixture
def profile(tmp_path):
    if GO is None:
        pytest.skip("go (golang-go) is not installed: no `go tool pprof`")
    out = tmp_path / "profile.pb.gz"
    subprocess.run([str(workload_path("pprof_writer")), str(out)], check=True, timeout=60)
    assert out.read_bytes()[:2] == b"\x1f\x8b", "not gzip"
    return out


def pprof(path, tmp_path, *args):
    # pprof wants a writable HOME and Go cache; keep both in the test's dir.
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"),
               PPROF_TMPDIR=str(tmp_path))
    r = subprocess.run([GO, "tool", "pprof", "-symbolize=none", *args, str(path)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_top_lines(profile, tmp_path):
    out = pprof(profile, tmp_path, "-top", "-lines")
    assert "Type: cpu" in out
    assert "Build ID: 0123456789abcdef" in out
    assert "Duration: 1s, Total samples = 170ms" in out
    rows = {m.group(2): m.group(1) for m in
            re.finditer(r"^\s*(\S+)\s.*%\s+(\S+ \S+:\d+(?: \(inline\))?|\S+)$", out, re.M)}
    assert rows.get("checksum_block /src/checksum.c:42 (inline)") == "140ms", out
    assert rows.get("copy_user_generic") == "30ms", out
    assert "checksum_file /src/checksum.c:57" in rows, out
    assert "main /src/main.c:12" in rows, out
    assert "read_input /src/io.c:88" in rows, out


def test_sample_count_type(profile, tmp_path):
    out = pprof(profile, tmp_path, "-top", "-sample_index=samples")
    assert "Type: samples" in out
    assert re.search(r"^\s*14\s+82\.35%.*checksum_block \(inline\)$", out, re.M), out
    assert re.search(r"^\s*3\s+17\.65%.*copy_user_generic$", out, re.M), out


def test_raw(profile, tmp_path):
    out = pprof(profile, tmp_path, "-raw")
    assert "PeriodType: cpu nanoseconds" in out
    assert "Period: 10000000" in out
    assert "samples/count cpu/nanoseconds" in out
    # Two samples, the hot one merged from two identical adds.
    samples = re.findall(r"^\s+(\d+)\s+(\d+): ([\d ]+)$", out, re.M)
    assert sorted((int(a), int(b), len(s.split())) for a, b, s in samples) == \
        [(3, 30000000, 3), (14, 140000000, 2)], out
    assert out.count("thread:[worker-1]") == 2
    # The inlined function shares its caller's location, callee line first.
    assert re.search(r"0x401100 M=1 checksum_block /src/checksum.c:42 s=0\n"
                     r"\s+checksum_file /src/checksum.c:57 s=0", out), out
    assert re.search(r"0xffffffff81234567 copy_user_generic :0", out), out
    assert re.search(r"0x400000/0x480000/0x0 /opt/sonde-test/app 0123456789abcdef "
                     r"\[FN\]\[FL\]\[LN\]\[IN\]", out), out
