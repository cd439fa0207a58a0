"""sonde-profile against workloads with known call chains
(tests/workloads/stacks.c): main -> workload_outer -> workload_middle ->
a leaf that spins in user space or reads /dev/zero in the kernel."""
import os
import re
import subprocess

import pytest

from harness import Tool, run, tool_path, wait_for, workload_path

CHAIN = "main;workload_outer;workload_middle"


@pytest.fixture
def spinner():
    procs = []

    def start(mode, binary="stacks", comm=None):
        env = dict(os.environ, STACKS_COMM=comm) if comm else None
        p = subprocess.Popen([str(workload_path(binary)), *([mode] if mode else [])], env=env)
        procs.append(p)
        return p
    yield start
    for p in procs:
        p.kill()
        p.wait()


def folded(tool):
    """[(frames, count)] of folded output; every line must parse."""
    rows = []
    for line in tool.lines():
        stack, _, count = line.rpartition(" ")
        assert stack and count.isdigit(), f"not a folded line: {line!r}"
        frames = stack.split(";")
        assert all(frames), f"empty frame in {line!r}"
        rows.append((frames, int(count)))
    return rows


def profile(*args, seconds=3):
    tool = Tool("profile", "-F", 199, "-d", seconds, *args)
    assert tool.wait_exit(timeout=60) == 0, tool.stderr
    return tool


def share(rows, predicate):
    total = sum(c for _, c in rows)
    assert total > 0, "no samples"
    return sum(c for f, c in rows if predicate(f)) / total


def test_user_call_chain_in_order(spinner):
    p = spinner("cpu")
    tool = profile("-p", p.pid, "-o", "folded", "--stack-storage-size", 65536)
    rows = folded(tool)
    assert all(f[0] == "stacks" for f, _ in rows), tool.stdout
    # Root first: the chain ends in the leaf, in call order.
    assert share(rows, lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8, tool.stdout
    assert "sampling at 199 Hz" in tool.stderr


def test_kernel_frames_of_a_syscall_heavy_workload(spinner):
    p = spinner("syscall")
    tool = profile("-p", p.pid, "-o", "folded")
    rows = folded(tool)
    in_kernel = [(f, c) for f, c in rows if f[-1].endswith("_[k]")]
    assert in_kernel, tool.stdout
    # Kernel frames come after (inside) the user frames that called them.
    for f, _ in in_kernel:
        first_k = next(i for i, x in enumerate(f) if x.endswith("_[k]"))
        assert all(x.endswith("_[k]") for x in f[first_k:]), f
    # Mostly the read() of the chain; an interrupt may also land in code
    # without frame pointers (the sanitizers' runtime in ASan builds).
    assert share(in_kernel, lambda f: CHAIN in ";".join(f)) > 0.8, tool.stdout
    assert share(rows, lambda f: f[-1].endswith("_[k]")) > 0.5, tool.stdout


def test_user_only_and_kernel_only(spinner):
    p = spinner("syscall")
    rows = folded(profile("-p", p.pid, "-o", "folded", "-U", seconds=2))
    assert rows and not any(x.endswith("_[k]") for f, _ in rows for x in f)
    rows = folded(profile("-p", p.pid, "-o", "folded", "-K", seconds=2))
    assert rows and all(x.endswith("_[k]") for f, _ in rows for x in f[1:])
    assert any(len(f) > 1 for f, _ in rows)


def test_table_and_json(spinner):
    p = spinner("cpu")
    tool = profile("-p", p.pid, seconds=2)
    lines = tool.lines()
    assert lines[0].split() == ["SAMPLES", "PCT", "PID", "COMM", "STACK"]
    top = lines[1].split(None, 4)
    assert top[2] == str(p.pid) and top[3] == "stacks"
    assert top[4].startswith("workload_spin <- workload_middle <- workload_outer <- main")

    tool = profile("-p", p.pid, "-o", "json", seconds=2)
    events = tool.events()
    assert events and all(e["pid"] == p.pid and e["comm"] == "stacks" for e in events)
    assert {"ts_ns", "pid", "comm", "container", "count", "frames"} <= set(events[0])
    spins = sum(e["count"] for e in events if e["frames"][0]["function"] == "workload_spin")
    assert spins / sum(e["count"] for e in events) > 0.8
    leaf = next(e for e in events if e["frames"][0]["function"] == "workload_spin")["frames"]
    # Leaf first, with modules, offsets and source lines from DWARF.
    assert [f["function"] for f in leaf[:4]] == ["workload_spin", "workload_middle",
                                                 "workload_outer", "main"]
    assert leaf[0]["module"] == "stacks" and leaf[0]["file"].endswith("stacks.c")
    assert leaf[0]["line"] > 0 and not leaf[0]["kernel"]


def test_without_frame_pointers_the_leaf_remains(spinner):
    """Frame-pointer-less code walked by frame pointers (--unwind fp): the
    leaf is still named; whatever the walk could not follow is shown,
    never silently dropped."""
    p = spinner("cpu", "stacks_nofp")
    rows = folded(profile("-p", p.pid, "-o", "folded", "-U", "--unwind", "fp"))
    assert share(rows, lambda f: f[-1] == "workload_spin") > 0.8, rows
    assert share(rows, lambda f: CHAIN in ";".join(f)) < 0.2, rows


def dwarf_modules(stderr):
    """The modules -v says are unwound with DWARF, for each process."""
    return [m.split(", ") for m in
            re.findall(r"pid \d+: DWARF unwinding in (.*) \(no frame pointers\)", stderr)]


def test_auto_unwinding_by_frame_pointer_probe(spinner):
    """The default, --unwind auto: code whose prologues set up no frame
    pointer (a -fomit-frame-pointer build, Debian's libc) is unwound with
    DWARF, the whole chain appears; a build with frame pointers stays with
    the walk in the kernel."""
    p = spinner("cpu", "stacks_nofp")
    tool = profile("-v", "-p", p.pid, "-o", "folded", "-U")
    rows = folded(tool)
    assert share(rows, lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8, rows
    assert any("stacks_nofp" in mods and "libc.so.6" in mods
               for mods in dwarf_modules(tool.stderr)), tool.stderr
    p = spinner("cpu")
    tool = profile("-v", "-p", p.pid, "-o", "folded", "-U")
    assert share(folded(tool), lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8
    mods = dwarf_modules(tool.stderr)
    assert mods and all("stacks" not in m and "libc.so.6" in m for m in mods), tool.stderr


def test_dwarf_unwinding_without_frame_pointers(spinner):
    """--unwind dwarf walks what frame pointers cannot: a build without
    them, and glibc's read() wrapper (which keeps none)."""
    p = spinner("cpu", "stacks_nofp")
    rows = folded(profile("-p", p.pid, "-o", "folded", "-U", "--unwind", "dwarf"))
    assert share(rows, lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8, rows
    p = spinner("syscall")
    rows = folded(profile("-p", p.pid, "-o", "folded", "--unwind", "dwarf"))
    in_kernel = [(f, c) for f, c in rows if f[-1].endswith("_[k]")]
    assert share(in_kernel, lambda f: CHAIN + ";workload_syscalls;" in ";".join(f)) > 0.8, rows


def test_intervals_and_system_wide_without_idle(spinner):
    spinner("cpu")
    tool = Tool("profile", "-o", "json", "-i", "1", "-d", "2.5")
    assert tool.wait_exit(timeout=60) == 0, tool.stderr
    events = tool.events()
    assert len({e["ts_ns"] for e in events}) >= 2
    assert not [e for e in events if e["pid"] == 0]
    assert any(e["comm"] == "stacks" for e in events)


def test_copied_stacks_reported_in_their_interval(spinner):
    """Copied stacks wake the tool only once the ring buffer fills up; at
    2 Hz that takes longer than the run, so each interval's report must
    read what is pending itself."""
    p = spinner("cpu", "stacks_nofp")
    tool = Tool("profile", "-F", 2, "-p", p.pid, "-o", "json", "-i", "1", "-d", "3.5")
    assert tool.wait_exit(timeout=60) == 0, tool.stderr
    events = [e for e in tool.events() if e["pid"] == p.pid]
    assert len({e["ts_ns"] for e in events}) >= 2, events
    assert all(any(f["function"] == "workload_outer" for f in e["frames"]) for e in events), events


def test_usage_errors():
    for args in (["-U", "-K"], ["-F", "0"], ["-F", "x"], ["--cpu", "-1"], ["-o", "pprof", "-i", "1"],
                 ["--stack-storage-size", "10"], ["--unwind", "lbr"]):
        r = run("profile", *args, "1")
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and not r.stdout, (args, r.stderr)
    r = run("profile", "--cpu", "4000", "1")
    assert r.returncode == 2 and "not online" in r.stderr, r.stderr


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in ticks


def test_target_that_exits_keeps_its_symbols(spinner):
    """-p ends with its target; the stacks are symbolized after it has gone."""
    p = spinner("cpu")
    tool = Tool("profile", "-F", 199, "-p", p.pid, "-o", "folded")
    start = cpu_seconds(p.pid)
    wait_for(lambda: cpu_seconds(p.pid) - start >= 1.0, 60, "the target to burn 1 s of CPU")
    p.kill()
    p.wait()
    assert tool.wait_exit(timeout=60) == 0, tool.stderr
    assert "exited" in tool.stderr
    rows = folded(tool)
    assert share(rows, lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8, tool.stdout


def test_hostile_command_name(spinner):
    """A name with a separator, an escape sequence and a newline cannot
    break a folded line, a table row or JSON."""
    name = "ev;l\x1b[2J\nx"
    p = spinner("cpu", comm=name)
    rows = folded(profile("-p", p.pid, "-o", "folded", seconds=2))
    assert rows and all(f[0] == "ev:l\\x1b[2J\\x0ax" for f, _ in rows), rows
    lines = profile("-p", p.pid, seconds=2).lines()
    assert "\x1b" not in "".join(lines) and len(lines[1].split()) > 4
    events = profile("-p", p.pid, "-o", "json", seconds=2).events()
    assert events and all(e["comm"] == name for e in events)


def test_short_lived_process_system_wide(spinner):
    """A process that exits before the profile ends is still symbolized:
    its mappings are read when it is first sampled. Meanwhile a spinner
    without frame pointers fills the ring buffer with copied stacks that
    wake nobody: the news of the new process must wake the tool anyway."""
    bg = spinner("cpu", "stacks_nofp")
    tool = Tool("profile", "-F", 199, "-o", "folded")
    # Its stacks are copied once it is classified; 0.3 s of its CPU is
    # ~60 copies, short of the quarter of the ring that wakes the tool.
    wait_for(lambda: re.search(rf"pid {bg.pid}: DWARF unwinding", tool.stderr), 30,
             f"the no-frame-pointer spinner classified: {tool.stderr}")
    start = cpu_seconds(bg.pid)
    wait_for(lambda: cpu_seconds(bg.pid) - start >= 0.3, 30, "copies of its stacks")
    # Ended once it has used 0.1 s of CPU (about 20 samples), not after
    # some wall time, which a busy machine can spend without running it.
    p = subprocess.Popen([str(workload_path("stacks")), "cpu"])
    try:
        wait_for(lambda: cpu_seconds(p.pid) >= 0.1, 60, "0.1 s of the spinner's CPU")
    finally:
        p.kill()
        p.wait()
    assert tool.stop() == 0, tool.stderr
    rows = [(f, c) for f, c in folded(tool) if f[0] == "stacks"]
    assert share(rows, lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8, \
        f"{rows}\n{tool.stderr}"


def test_closed_pipe_ends_quietly(spinner):
    spinner("cpu")
    proc = subprocess.Popen([str(tool_path("profile")), "-F", "199", "-o", "folded", "-d", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"error" not in err.lower() and b"broken pipe" not in err.lower(), err


@pytest.mark.parametrize("unwind", ["auto", "fp"])
def test_stripped_go_binary_named_from_its_pclntab(spinner, unwind):
    """A Go binary built with -ldflags='-s -w' has no .symtab and no DWARF;
    its functions are still named, in call order, from Go's own table.
    Its leaf, main.spin, has no frame: its caller main.middle is found
    through the pcsp table and the return address at the stack pointer."""
    if not workload_path("gospin_stripped").exists():
        pytest.skip("Go is not installed: no Go workload was built")
    p = spinner("", binary="gospin_stripped")
    tool = profile("-v", "-p", p.pid, "-o", "folded", "--unwind", unwind)
    assert "Go leaf frames from the pclntab in gospin_stripped" in tool.stderr, tool.stderr
    rows = folded(tool)
    chain = "main.main;main.outer;main.middle;main.spin"
    assert share(rows, lambda f: chain in ";".join(f)) > 0.8, tool.stdout
    assert share(rows, lambda f: any(x.startswith("[unknown]") for x in f)) < 0.1, tool.stdout


def test_exec_of_the_target_resolves_the_new_program():
    """Both programs are non-PIE: the new one's code lies at the very
    addresses the first one's did, so only re-reading the mappings at the
    exec names it right. (The spinner fixture is not used: it kills.)"""
    p = subprocess.Popen([str(workload_path("exec_after")), "3000",
                          str(workload_path("stacks_nopie")), "cpu"])
    try:
        tool = Tool("profile", "-F", 199, "-p", p.pid, "-o", "folded")
        wait_for(lambda: os.readlink(f"/proc/{p.pid}/exe").endswith("/stacks_nopie"), 30,
                 "the exec")
        start = cpu_seconds(p.pid)
        wait_for(lambda: cpu_seconds(p.pid) - start >= 1.0, 30, "a second of CPU after the exec")
        assert tool.stop() == 0, tool.stderr
    finally:
        p.kill()
        p.wait()
    rows = folded(tool)
    assert any(f[0] == "exec_after" for f, _ in rows), "not sampled before the exec:\n" + tool.stdout
    after = [(f, c) for f, c in rows if f[0] == "stacks_nopie"]
    assert after, tool.stdout
    assert share(after, lambda f: CHAIN + ";workload_spin" in ";".join(f)) > 0.8, tool.stdout
