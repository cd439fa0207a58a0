"""The library's choice of attach method and --attach on the host's kernel,
proved with the test-only sonde-probe-paths (one probe: fentry > kprobe >
tracepoint, see tests/kernels/probe_paths.bpf.c). On the development
machines kprobes do not exist and fentry is refused, so it must choose the
tracepoint, deliver events through it, and refuse --attach kprobe and
--attach fentry with exit 4 in one line saying why. test_kernel_6_1.py runs
the same program where fentry and kprobes work."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from harness import BUILD, Tool, workload_path

PROGRAM = BUILD / "tests" / "kernels" / "sonde-probe-paths"
SLEEP_NS = 1234567
SLEEPS = 3
ORDER = ("fentry", "kprobe", "tracepoint")


def kernel_offers():
    """{method: bool} for this kernel. kprobes are judged from sysfs, not
    by the library; fentry can only be known by trying, which the library's
    feature table (-vv: all of it) reports."""
    r = subprocess.run([str(PROGRAM), "-vv", "-d", "100ms"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    table = dict(re.findall(r"^sonde-[\w-]+: kernel: (\w+) (yes|no)\b", r.stderr, re.M))
    kprobe_pmu = Path("/sys/bus/event_source/devices/kprobe/type").exists()
    assert (table["kprobe"] == "yes") == (kprobe_pmu or Path("/sys/kernel/tracing/kprobe_events").exists())
    return {"fentry": table["fentry"] == "yes", "kprobe": table["kprobe"] == "yes", "tracepoint": True}


@pytest.fixture(scope="module")
def offers():
    return kernel_offers()


def sleeps_seen(method_args, via):
    tool = Tool("probe-paths", "-o", "json", *method_args, path=PROGRAM)
    sleeper = subprocess.run([str(workload_path("nanosleeper")), str(SLEEP_NS), str(SLEEPS)],
                             capture_output=True, text=True, timeout=60, check=True)
    pid = json.loads(sleeper.stdout)["pid"]
    events = tool.wait_events(lambda e: e["pid"] == pid, count=SLEEPS)
    assert tool.stop() == 0
    for e in events:
        assert (e["via"], e["request_ns"], e["tid"], e["comm"]) == (via, SLEEP_NS, pid, "nanosleeper")
    assert f"clock_nanosleep calls: using {via} " in tool.stderr
    return tool


def test_best_available_method_is_chosen(offers):
    best = next(m for m in ORDER if offers[m])
    tool = sleeps_seen([], best)
    for m in ORDER[:ORDER.index(best)]:
        assert f"clock_nanosleep calls: not {m}: " in tool.stderr


@pytest.mark.parametrize("method", ORDER)
def test_forced_method_works_or_exits_4(offers, method):
    if offers[method]:
        sleeps_seen(["--attach", method], method)
        return
    r = subprocess.run([str(PROGRAM), "--attach", method, "-d", "1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 4, r.stderr
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"sonde-probe-paths: cannot attach clock_nanosleep calls with {method}: "), r.stderr


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp"])
def test_method_the_program_lacks_exits_4(method):
    r = subprocess.run([str(PROGRAM), "--attach", method, "-d", "1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 4, r.stderr
    assert r.stderr.strip() == f"sonde-probe-paths: this tool has no {method} probes (see -v for what it uses)"
