"""sonde-offcpu against a workload that sleeps a known time in a known
function (tests/workloads/stacks.c: main -> workload_outer ->
workload_middle -> workload_sleep, N nanosleeps of MS ms)."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from harness import Tool, maps_held, run, wait_for, workload_path

CHAIN = "main;workload_outer;workload_middle;workload_sleep"


class Sleeper:
    """Waits for "go", sleeps n x ms, says "done", stays until closed so
    its symbols can still be read. With mode, another of stacks.c's modes
    that wait for "go" (e.g. ["depths", "500"])."""

    def __init__(self, n=10, ms=100, binary="stacks", mode=None):
        mode = mode or ["sleep", str(n), str(ms)]
        self.proc = subprocess.Popen([str(workload_path(binary)), *mode],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "ready\n"
        self.pid = self.proc.pid

    def run(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "done\n"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture
def sleeper():
    made = []

    def make(*args):
        made.append(Sleeper(*args))
        return made[-1]
    yield make
    for s in made:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def folded(tool):
    rows = []
    for line in tool.lines():
        stack, _, value = line.rpartition(" ")
        assert stack and value.isdigit(), f"not a folded line: {line!r}"
        assert all(stack.split(";")), f"empty frame in {line!r}"
        rows.append((stack, int(value)))
    return rows


def trace(s, *args):
    """Runs the tool around one run of the sleeper; returns the tool."""
    tool = Tool("offcpu", "-p", s.pid, *args)
    s.run()
    assert tool.stop() == 0, tool.stderr
    return tool


def sleep_us(rows):
    return sum(v for stack, v in rows if CHAIN in stack and "_[k]" in stack)


def slept_us(tool):
    """The sleeper's blocked time, and what to show when it is off: every
    row and the tool's own report (-v: losses, map-full counts)."""
    return sleep_us(folded(tool)), tool.stdout + tool.stderr


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_blocked_time_of_a_known_function(sleeper, method):
    s = sleeper(10, 100)
    tool = trace(s, "-o", "folded", "--attach", method)
    rows = folded(tool)
    assert f"using {method}" in tool.stderr
    assert all(stack.startswith("stacks;") for stack, _ in rows), tool.stdout
    # 10 x 100 ms: the truth is 1 s, timer slack and a busy machine add a
    # bit. A classic tracepoint's event can be dropped by perf's recursion
    # guard before the BPF program runs (seen here about once in a few
    # hundred switches on the loaded test machine): one sleep of ten may go
    # missing that way.
    total = sleep_us(rows)
    low = 850_000 if method == "tracepoint" else 950_000
    assert low <= total <= 1_500_000, tool.stdout + tool.stderr
    # Kernel frames follow the user frames, inside the sleep.
    stack = max(rows, key=lambda r: r[1])[0].split(";")
    first_k = next(i for i, f in enumerate(stack) if f.endswith("_[k]"))
    assert all(f.endswith("_[k]") for f in stack[first_k:])
    assert not any(f.startswith("bpf_") for f in stack), stack
    s.close()


@pytest.mark.parametrize("listed", [1, 2])
def test_pid_filter_keeps_only_the_listed_processes(sleeper, listed):
    """-p with one PID compares with it in the kernel (a constant); with
    several, looks them up (a map): either way only those processes'
    blocks are counted, all of their sleeps."""
    sleepers = [sleeper(4, 50) for _ in range(3)]
    wanted = {s.pid for s in sleepers[:listed]}
    tool = Tool("offcpu", "-o", "json", "-p", ",".join(str(p) for p in sorted(wanted)))
    for s in sleepers:
        s.run()
    assert tool.stop() == 0, tool.stderr
    rows = [json.loads(line) for line in tool.lines()]
    assert {r["pid"] for r in rows} == wanted, tool.stdout + tool.stderr
    for pid in wanted:
        slept = sum(r["total_ns"] for r in rows if r["pid"] == pid and any(
            f["function"] == "workload_sleep" for f in r["frames"]))
        assert 190_000_000 <= slept <= 400_000_000, (pid, tool.stdout + tool.stderr)
    for s in sleepers:
        s.close()


def test_min_and_max_block_filters(sleeper):
    s = sleeper(5, 100)
    rows = folded(trace(s, "-o", "folded", "-m", 200_000))
    assert sleep_us(rows) == 0, rows
    s.close()
    s = sleeper(5, 100)
    rows = folded(trace(s, "-o", "folded", "-M", 50_000))
    assert sleep_us(rows) == 0, rows
    s.close()
    s = sleeper(5, 100)
    us, shown = slept_us(trace(s, "-o", "folded", "-m", 50_000, "-M", 200_000))
    assert 450_000 <= us <= 800_000, shown
    s.close()


def test_state_filter(sleeper):
    # nanosleep sleeps interruptibly (S), never in D.
    s = sleeper(3, 100)
    us, shown = slept_us(trace(s, "-o", "folded", "--state", "D"))
    assert us == 0, shown
    s.close()
    for state in ("S", "1"):
        s = sleeper(3, 100)
        us, shown = slept_us(trace(s, "-o", "folded", "--state", state))
        assert us >= 280_000, shown
        s.close()


def test_thread_filters(sleeper):
    s = sleeper(3, 100)
    us, shown = slept_us(trace(s, "-o", "folded", "--kernel-threads-only"))
    assert us == 0, shown
    s.close()
    s = sleeper(3, 100)
    us, shown = slept_us(trace(s, "-o", "folded", "--user-threads-only"))
    assert us >= 280_000, shown
    s.close()


def test_table_and_json(sleeper):
    # -m: a preemption on the same path (same functions) would add a block.
    s = sleeper(4, 100)
    tool = trace(s, "--stack-storage-size", 4096, "-m", 50_000)
    lines = tool.lines()
    assert lines[0].split() == ["TOTAL(us)", "COUNT", "PCT", "PID", "TID", "COMM", "STACK"]
    top = lines[1].split(None, 6)
    assert top[1] == "4" and top[3] == str(s.pid) and top[5] == "stacks"
    assert "workload_sleep <- workload_middle <- workload_outer <- main" in top[6]
    s.close()

    s = sleeper(4, 100)
    events = trace(s, "-o", "json", "-m", 50_000).events()
    mine = [e for e in events if any(f["function"] == "workload_sleep" for f in e["frames"])]
    assert mine and all(e["pid"] == s.pid and e["tid"] == s.pid for e in mine)
    assert sum(e["count"] for e in mine) == 4
    assert 380_000_000 <= sum(e["total_ns"] for e in mine) <= 700_000_000
    frames = mine[0]["frames"]
    assert frames[0]["kernel"] and not frames[-1]["kernel"]
    s.close()


def test_waker_stacks(sleeper):
    s = sleeper(3, 100)
    rows = folded(trace(s, "-o", "folded", "--waker"))
    # The sleeps (not a preemption, which nobody wakes) are woken by their
    # timer: the waker side holds the wakeup.
    # A preemption inside the syscall (a short block) has no waker either.
    woken = [stack for stack, us in rows
             if CHAIN in stack and "nanosleep" in stack and us >= 50_000]
    assert woken and all(";--;" in stack for stack in woken), rows
    assert any("try_to_wake_up_[k]" in stack.split(";--;")[1] for stack in woken), woken
    s.close()


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_blocked_code_without_frame_pointers(sleeper, method):
    """The default (--unwind auto) copies the user stack of a thread that
    leaves the CPU in code without frame pointers and walks it with DWARF:
    the whole chain of a -fomit-frame-pointer build, with its time; frame
    pointers alone lose the callers of the leaf."""
    s = sleeper(5, 100, "stacks_nofp")
    tool = trace(s, "-v", "-o", "folded", "--attach", method)
    rows = folded(tool)
    assert re.search(r"pid \d+: DWARF unwinding in .*stacks_nofp", tool.stderr), tool.stderr
    total = sum(v for stack, v in rows if CHAIN in stack and "_[k]" in stack)
    low = 400_000 if method == "tracepoint" else 480_000
    assert low <= total <= 800_000, tool.stdout
    s.close()

    s = sleeper(5, 100, "stacks_nofp")
    rows = folded(trace(s, "-o", "folded", "--unwind", "fp"))
    assert sum(v for stack, v in rows if CHAIN in stack) == 0, rows
    assert sum(v for stack, v in rows if ";workload_sleep;" in stack) >= 480_000, rows
    s.close()


def test_dwarf_for_every_block(sleeper):
    """--unwind dwarf copies every user stack, frame pointers or not; -m
    still filters in the kernel."""
    s = sleeper(4, 100)
    rows = folded(trace(s, "-o", "folded", "--unwind", "dwarf", "-m", 50_000))
    assert 380_000 <= sleep_us(rows) <= 700_000, rows
    s.close()


@pytest.mark.parametrize("unwind", ["auto", "fp"])
def test_go_frameless_leaf_keeps_its_caller(unwind):
    """A stripped Go program's idle threads block in runtime.futex, which
    has no frame: a frame-pointer walk goes from it straight to
    runtime.notesleep; the return address at the stack pointer, kept
    because the pcsp table says futex has no frame, restores
    runtime.futexsleep between them."""
    if not workload_path("gospin_stripped").exists():
        pytest.skip("Go is not installed: no Go workload was built")
    p = subprocess.Popen([str(workload_path("gospin_stripped")), "sleep"])
    try:
        tool = Tool("offcpu", "-p", p.pid, "-U", "-o", "folded", "--unwind", unwind, "-d", 2)
        assert tool.wait_exit(timeout=60) == 0, tool.stderr
    finally:
        p.kill()
        p.wait()
    rows = folded(tool)
    futex = [(stack, us) for stack, us in rows if stack.endswith(";runtime.futex")]
    assert futex, rows
    # An idle thread parks through notesleep -> futexsleep -> futex.
    parked = [stack for stack, _ in futex if "runtime.notesleep;" in stack]
    assert parked, rows
    assert all("runtime.notesleep;runtime.futexsleep;runtime.futex" in stack for stack in parked), parked


def test_copies_end_where_the_threads_stack_does():
    """Copies of a thread's stack stop where its stack ends, as learned
    from walks of its earlier copies: well under the 8 KiB copied when it
    is not known (a thread's stack always has 8 KiB above its frames).
    Yet a block kilobytes further down the same stack still unwinds
    whole, back to the thread's start, and loses no time."""
    rounds = 500
    # A second thread blocks in turn near the top of its stack and 16
    # frames (~4 KiB, more with ASan) further down.
    s = Sleeper(binary="stacks_nofp", mode=["depths", str(rounds)])
    try:
        tool = trace(s, "-v", "-o", "folded")
    finally:
        s.proc.kill()
        s.proc.wait()
    rows = folded(tool)
    head = ("__clone3;start_thread;depths_thread;workload_outer;workload_middle;"
            "workload_depths;")
    # The sleeps' blocks (their kernel half goes through do_nanosleep): a
    # thread preempted on its way down the recursion (a timer interrupt,
    # on the loaded test machine) blocks with fewer frames, rightly.
    deep = [(stack, v) for stack, v in rows if "workload_deep" in stack and "nanosleep" in stack]
    shallow = [(stack, v) for stack, v in rows
               if "workload_shallow" in stack and "nanosleep" in stack]
    assert deep and shallow, tool.stdout
    assert all(head + "workload_deep;" * 16 in stack and stack.count("workload_deep") == 16
               for stack, _ in deep), deep
    assert all(head + "workload_shallow;" in stack for stack, _ in shallow), shallow
    # Each block is a 1 ms sleep.
    assert sum(v for _, v in deep) >= rounds * 1000, tool.stdout
    assert sum(v for _, v in shallow) >= rounds * 1000, tool.stdout
    copied = re.search(r"(\d+) user stacks copied for DWARF unwinding, (\d+) bytes each on "
                       r"average \(at most 8192\)", tool.stderr)
    assert copied, tool.stderr
    assert int(copied[1]) >= 2 * rounds, tool.stderr
    assert int(copied[2]) < 6144, tool.stderr
    assert "ended short" not in tool.stderr, tool.stderr


def test_usage_errors():
    for args in (["-m", "x"], ["-m", "10", "-M", "5"], ["--state", "Q"], ["-U", "-K"],
                 ["-o", "pprof", "-i", "1"], ["--stack-storage-size", "2000000"],
                 ["--unwind", "lbr"]):
        r = run("offcpu", *args, "1")
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and not r.stdout, (args, r.stderr)


def test_many_stacks_in_a_small_stack_map():
    """128 distinct call chains (stacks paths) in a stack map of 1024
    buckets: about 8 pairs of them hash to one bucket. The second of each
    pair goes to the overflow map instead of being lost (a few would be
    lost only where three share a bucket)."""
    p = subprocess.Popen([str(workload_path("stacks")), "paths"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        tool = Tool("offcpu", "-p", p.pid, "-U", "-o", "folded", "--stack-storage-size", 1024)
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline() == "done\n"
        assert tool.stop() == 0, tool.stderr
    finally:
        p.kill()
        p.wait()
    rows = folded(tool)
    paths = {tuple(f for f in stack.split(";") if f.startswith("workload_path_"))
             for stack, _ in rows if ";workload_paths;" in stack}
    lost = sum(1 for stack, _ in rows if "[lost stack]" in stack)
    assert len(paths) >= 126 and lost <= 2, tool.stdout + tool.stderr


def map_entries(pid, name):
    """The number of entries of the BPF map called name that process pid
    holds."""
    for map_id in maps_held(pid):
        info = json.loads(subprocess.check_output(["bpftool", "-j", "map", "show", "id", str(map_id)]))
        if info.get("name") == name:
            dump = subprocess.check_output(["bpftool", "-j", "map", "dump", "id", str(map_id)])
            return len(json.loads(dump))
    raise AssertionError(f"process {pid} holds no map {name}")


THREADS_THAT_EXIT = """
import sys, threading, time
def blocked_then_gone():
    time.sleep(0.005)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(4):
    threads = [threading.Thread(target=blocked_then_gone) for _ in range(50)]
    for t in threads: t.start()
    for t in threads: t.join()
print("done", flush=True)
sys.stdin.readline()
"""


def test_threads_that_exit_leave_no_entry_behind():
    """A thread's block in progress is kept in an entry written in place
    at every switch, and removed by the thread's last switch: 200 threads
    that each sleep and exit leave the map with the few that still live,
    and all of their sleeps counted."""
    p = subprocess.Popen(["python3", "-c", THREADS_THAT_EXIT], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        tool = Tool("offcpu", "-p", p.pid, "-o", "json", "-K")
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline() == "done\n"
        live = len(list(Path(f"/proc/{p.pid}/task").iterdir()))
        entries = map_entries(tool.proc.pid, "blocked")
        assert tool.stop() == 0, tool.stderr
    finally:
        p.kill()
        p.wait()
    assert entries <= live, (entries, live)
    rows = [json.loads(line) for line in tool.lines()]
    # Each thread's sleep is one block of ~5 ms, timed from the switch
    # (after the call), in nanosleep's kernel frames (-K: only those).
    slept = {r["tid"] for r in rows if r["total_ns"] >= 4_000_000 and any(
        "nanosleep" in (f["function"] or "") for f in r["frames"])}
    assert len(slept) >= 198, (len(slept), tool.stderr)
