"""sonde-gclat against runtimes that collect a known number of times: a Go
program forcing N cycles under GODEBUG=gctrace=1 (built here, with DWARF
and stripped), a JVM calling System.gc() N times, CPython calling
gc.collect() N times. Counts, figures and fields are checked against what
the runtimes themselves report."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import PYTHON, ROOT, LineWorkload, Tool, go_build, run, wait_for

WORKLOADS = ROOT / "tests" / "workloads" / "gc"
JDK = Path("/usr/lib/jvm/java-17-openjdk-amd64/bin")
FIELDS = {"ts_ns", "pid", "comm", "runtime", "duration_ns", "pause_ns", "generation",
          "collected", "container"}
# "gc 3 @0.012s 1%: 0.010+0.25+0.003 ms clock, ..." (Go 1.19): the first
# and last clock figures are the two stop-the-world phases.
GCTRACE = re.compile(r"^gc (\d+) @\S+ \S+ ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock", re.M)


@pytest.fixture(scope="module")
def go_binaries(tmp_path_factory):
    """force_gc built by Debian's Go with DWARF and stripped (-s -w)."""
    d = tmp_path_factory.mktemp("go")
    src = WORKLOADS / "force_gc.go"
    return {"dwarf": go_build(src, d / "force_gc_dwarf"),
            "stripped": go_build(src, d / "force_gc_stripped", ["-ldflags=-s -w"])}


class Workload(LineWorkload):
    """A program that prints "ready", collects N times after a line on
    stdin, prints "done ..." and exits after another line."""

    def __init__(self, argv, env=None):
        super().__init__(argv, env)
        self.wait_line("ready")

    def collect(self):
        """Lets it collect; returns the rest of its "done" line."""
        self.say()
        return self.wait_line("done")


@pytest.fixture
def workloads(spawn):
    return lambda argv, env=None: spawn(Workload, argv, env)


def events_of(tool, pid, count):
    return tool.wait_events(lambda e: e["pid"] == pid, count=count)


@pytest.mark.parametrize("build", ["dwarf", "stripped"])
def test_go_cycles_match_gctrace(go_binaries, workloads, build):
    n = 5
    w = workloads([go_binaries[build], n], env=dict(os.environ, GODEBUG="gctrace=1"))
    tool = Tool("gclat", "-o", "json", "-p", w.pid)
    w.collect()
    # The runtime prints a cycle's trace line after it has woken the
    # goroutine waiting in runtime.GC(): "done" can come first, and an
    # exit right then would cut the last line short.
    w.wait_stderr(lambda text: len(GCTRACE.findall(text)) >= n, what=f"{n} gctrace lines")
    trace = w.finish()
    assert tool.stop() == 0
    cycles = GCTRACE.findall(trace)
    assert len(cycles) == n, trace
    events = [e for e in tool.events() if e["pid"] == w.pid]
    assert len(events) == n, tool.stdout
    for e in events:
        assert set(e) == FIELDS
        assert e["runtime"] == "go"
        assert e["comm"] == Path(go_binaries[build]).name[:15]
        assert e["generation"] is None and e["collected"] is None
        assert e["duration_ns"] >= e["pause_ns"] > 0
    # Loosely: the same order of magnitude as the runtime's own clock for
    # the two stop-the-world phases (uprobes add a few µs each).
    ours = sum(e["pause_ns"] for e in events) / 1e6
    theirs = sum(float(a) + float(c) for _, a, _, c in cycles)
    assert theirs / 10 - 0.05 <= ours <= theirs * 10 + 1.0, (ours, theirs)


def test_go_pause_events(go_binaries, workloads):
    """--pauses: each cycle's stop-the-world pauses (at least sweep
    termination and mark termination) come before it and add up to it."""
    n = 3
    w = workloads([go_binaries["dwarf"], n])
    tool = Tool("gclat", "--pauses", "-o", "json", "-p", w.pid)
    w.collect()
    events_of(tool, w.pid, n * 3)
    wait_for(lambda: len([e for e in tool.events() if e["event"] == "gc"]) == n, 30,
             f"{n} cycles:\n{tool.stdout}")
    assert tool.stop() == 0
    pauses = []
    for e in tool.events():
        assert set(e) == FIELDS | {"event"} and e["runtime"] == "go"
        if e["event"] == "pause":
            assert e["duration_ns"] == e["pause_ns"] > 0
            pauses.append(e)
            continue
        assert e["event"] == "gc" and len(pauses) >= 2
        assert sum(p["pause_ns"] for p in pauses) == e["pause_ns"]
        assert pauses[0]["ts_ns"] - pauses[0]["duration_ns"] >= e["ts_ns"] - e["duration_ns"]
        pauses = []
    assert not pauses


def test_go_binary_target_table_and_hostile_name(go_binaries, workloads, tmp_path):
    """--binary traces every process running the file; the table shows a
    hostile process name harmlessly."""
    n = 3
    hostile = tmp_path / 'g"\x1b[31m\\x'
    shutil.copy(go_binaries["stripped"], hostile)
    tool = Tool("gclat", "--binary", hostile)
    w = workloads([hostile, n])
    w.collect()
    w.finish()
    wait_for(lambda: len([l for l in tool.lines() if f" {w.pid} " in l]) == n, 30,
             f"{n} rows for {w.pid}:\n{tool.stdout}")
    assert tool.stop() == 0
    rows = [l for l in tool.lines() if f" {w.pid} " in l]
    assert tool.lines()[0].split() == ["TIME", "PID", "COMM", "RUNTIME", "DURATION(ms)",
                                       "PAUSE(ms)", "GEN", "COLLECTED"]
    assert "\x1b" not in tool.stdout
    for r in rows:
        assert 'g"\\x1b[31m\\x' in r
        assert r.split()[-5] == "go" and r.split()[-2:] == ["-", "-"]


def test_go_json_keeps_hostile_name(go_binaries, workloads, tmp_path):
    hostile = tmp_path / 'g"\x1b[31m\\x'
    shutil.copy(go_binaries["dwarf"], hostile)
    w = workloads([hostile, 2])
    tool = Tool("gclat", "-o", "json", "-p", w.pid)
    w.collect()
    events = events_of(tool, w.pid, 2)
    assert tool.stop() == 0
    assert all(e["comm"] == 'g"\x1b[31m\\x' for e in events)


def test_hist_per_runtime(go_binaries, workloads):
    n = 4
    go = workloads([go_binaries["dwarf"], n])
    py = workloads([PYTHON, WORKLOADS / "force_gc.py", n])
    tool = Tool("gclat", "--hist", "-p", f"{go.pid},{py.pid}")
    go.collect()
    py.collect()
    assert tool.stop() == 0
    out = tool.stdout
    assert f"runtime = go: {n} collections, duration" in out
    assert "runtime = go: stop-the-world pause per cycle" in out
    assert f"runtime = python: {n} collections, duration" in out
    assert "usecs" in out and "java" not in out
    counts = [int(c) for c in re.findall(r"^\s+\d+ -> \d+\s+: (\d+)", out, re.M)]
    assert sum(counts) == 3 * n     # go durations, go pauses, python durations


def test_hist_json(workloads):
    n = 3
    py = workloads([PYTHON, WORKLOADS / "force_gc.py", n])
    tool = Tool("gclat", "--hist", "-o", "json", "-p", py.pid)
    py.collect()
    assert tool.stop() == 0
    [h] = tool.events()
    assert h["runtime"] == "python" and h["count"] == n
    assert sum(b["count"] for b in h["duration_us"]) == n


def test_python_generation_and_collected(workloads):
    n = 3
    w = workloads([PYTHON, WORKLOADS / "force_gc.py", n])
    tool = Tool("gclat", "-o", "json", "-p", w.pid)
    collected = json.loads(w.collect())
    events = events_of(tool, w.pid, n)
    # The interpreter collects once more on its way out: not yet here.
    assert tool.stop() == 0
    assert len([e for e in tool.events() if e["pid"] == w.pid]) == n
    assert [e["collected"] for e in events] == collected
    for e in events:
        assert set(e) == FIELDS
        assert e["runtime"] == "python" and e["generation"] == 2
        assert e["pause_ns"] is None and e["duration_ns"] > 0
        assert e["comm"] == "python3"


def test_system_wide_finds_running_processes(workloads):
    """No target: the runtimes of the processes running at start."""
    n = 2
    w = workloads([PYTHON, WORKLOADS / "force_gc.py", n])
    tool = Tool("gclat", "-o", "json")
    collected = json.loads(w.collect())
    events = events_of(tool, w.pid, n)
    assert tool.stop() == 0
    assert [e["collected"] for e in events] == collected


def test_system_wide_follows_new_programs(go_binaries, workloads, tmp_path):
    """A Go binary no process ran at start is probed when it execs."""
    n = 3
    fresh = tmp_path / "fresh_go"
    shutil.copy(go_binaries["stripped"], fresh)
    tool = Tool("gclat", "-o", "json")
    w = workloads([fresh, n])
    wait_for(lambda: f"tracing go GC in /proc/{w.pid}/exe" in tool.stderr, 30,
             f"sonde-gclat to probe {w.pid}:\n{tool.stderr}")
    w.collect()
    events = events_of(tool, w.pid, n)
    assert tool.stop() == 0
    assert len([e for e in tool.events() if e["pid"] == w.pid]) == n
    assert all(e["runtime"] == "go" and e["comm"] == "fresh_go" for e in events)


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_exec_attach_methods(method, go_binaries, workloads, tmp_path):
    """Each way of seeing programs start works here."""
    fresh = tmp_path / "fresh_go"
    shutil.copy(go_binaries["dwarf"], fresh)
    tool = Tool("gclat", "--attach", method, "-o", "json")
    assert f"program starts: using {method} sched/sched_process_exec" in tool.stderr
    w = workloads([fresh, 1])
    wait_for(lambda: f"tracing go GC in /proc/{w.pid}/exe" in tool.stderr, 30,
             f"sonde-gclat to probe {w.pid}:\n{tool.stderr}")
    w.collect()
    events_of(tool, w.pid, 1)
    assert tool.stop() == 0


@pytest.fixture(scope="module")
def java_class(tmp_path_factory):
    if not (JDK / "javac").exists():
        pytest.skip(f"no JDK 17 at {JDK}")
    d = tmp_path_factory.mktemp("java")
    subprocess.run([JDK / "javac", "-d", d, WORKLOADS / "ForceGc.java"], check=True, timeout=300)
    return d


def test_java_system_gc(java_class, workloads):
    n = 3
    w = workloads([JDK / "java", "-XX:+UseG1GC", "-Xlog:gc", "-cp", java_class, "ForceGc", n])
    tool = Tool("gclat", "-o", "json", "-p", w.pid)
    w.collect()
    events = events_of(tool, w.pid, n)
    w.finish()
    assert tool.stop() == 0
    assert len([e for e in tool.events() if e["pid"] == w.pid]) == n
    for e in events:
        assert set(e) == FIELDS
        assert e["runtime"] == "java" and e["comm"] == "java"
        assert e["duration_ns"] > 0
        assert e["pause_ns"] is None and e["generation"] is None and e["collected"] is None


def test_system_wide_follows_new_jvm(java_class, workloads):
    """A JVM started later: its launcher's libjvm.so is probed at exec,
    before the launcher loads it."""
    n = 2
    tool = Tool("gclat", "-o", "json")
    w = workloads([JDK / "java", "-cp", java_class, "ForceGc", n])
    wait_for(lambda: "tracing java GC in" in tool.stderr, 30, f"a JVM probed:\n{tool.stderr}")
    w.collect()
    events = events_of(tool, w.pid, n)
    assert tool.stop() == 0
    assert all(e["runtime"] == "java" for e in events)


def test_not_a_runtime():
    bash = subprocess.Popen(["bash", "-c", "read x"], stdin=subprocess.PIPE)
    try:
        r = run("gclat", "-p", bash.pid)
    finally:
        bash.kill()
        bash.wait()
    assert r.returncode == 4
    assert r.stderr.strip() == (f"sonde-gclat: PID {bash.pid} (bash) runs no Go, Java or "
                                "Python runtime with GC probes")
    r = run("gclat", "--binary", "/bin/ls")
    assert r.returncode == 4 and "no Go binary" in r.stderr


def test_usage_errors():
    assert run("gclat", "-i", "1").returncode == 2
    assert run("gclat", "--binary", "/nonexistent").returncode == 2
    assert run("gclat", "--binary", "/bin/ls", "-p", "1").returncode == 2
    assert run("gclat", "--hist", "--pauses").returncode == 2
