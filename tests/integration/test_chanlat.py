"""sonde-chanlat against a Go program that blocks on channels for a known
time (tests/workloads/chan/chan_block.go, built here with DWARF and
stripped): N sends each blocked about D by a receiver sleeping D first, and
M selects each waiting about D for their case. Counts, call sites
(file:line of the workload's "// LINE:" markers), channel addresses (the
workload prints them) and blocked times are checked against the truth and
against Go's own block profile, which the workload writes; and a receive ended by close (chanrecv2), non-blocking
selects (selectnbsend, selectnbrecv). Then the
targets (--binary, system-wide following new programs through each attach
method of sched_process_exec), --hist, --sched, -i, a target that is not
Go, a hostile source file name, and a current esbuild release from npm."""
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import npm_binary
from harness import ROOT, LineWorkload, Tool, go_build, marker_line, run, wait_for

SOURCE = ROOT / "tests" / "workloads" / "chan" / "chan_block.go"
FIELDS = {"pid", "op", "site", "chan", "count", "blocked_count", "total_blocked_ns",
          "max_blocked_ns"}
N, M, D_MS = 8, 4, 40
GROW = 256  # chan_block.go's
D_NS = D_MS * 1_000_000


def line(marker):
    return marker_line(SOURCE, marker)


@pytest.fixture(scope="module")
def go_binaries(tmp_path_factory):
    """chan_block built by Debian's Go with DWARF and stripped (-s -w)."""
    d = tmp_path_factory.mktemp("go")
    return {"dwarf": go_build(SOURCE, d / "chan_block_dwarf"),
            "stripped": go_build(SOURCE, d / "chan_block_stripped", ["-ldflags=-s -w"])}


class Workload(LineWorkload):
    """chan_block: prints its channels and "ready", runs after a line on
    stdin, writes its block profile, prints "done", exits when stdin
    closes."""

    def __init__(self, binary, profile, n=N, m=M, d_ms=D_MS):
        super().__init__([binary, n, m, d_ms, profile])
        self.profile = profile
        self.send_chan = self.wait_line("send-chan")
        self.select_chan = self.wait_line("select-chan")
        self.close_chan = self.wait_line("close-chan")
        self.nb_chan = self.wait_line("nb-chan")
        self.wait_line("ready")

    def run(self):
        self.say()
        self.wait_line("done")


@pytest.fixture
def workloads(tmp_path, spawn):
    """workloads(binary, ...): a Workload writing its own block profile."""
    profiles = (tmp_path / f"block-{i}.txt" for i in itertools.count())
    return lambda binary, **kw: spawn(Workload, binary, next(profiles), **kw)


def block_profile(path):
    """{(function, line): (count, seconds)} of Go's block profile (debug=1
    text), keyed by the first main.* frame of each record."""
    text = Path(path).read_text()
    hz = float(re.search(r"^cycles/second=(\d+)", text, re.M).group(1))
    out = {}
    for record in text.split("\n\n"):
        head = re.search(r"^(\d+) (\d+) @", record, re.M)
        frame = re.search(r"^#\s+0x[0-9a-f]+\s+(main\.\S+?)\+0x[0-9a-f]+\s+\S+:(\d+)$", record, re.M)
        if head and frame:
            key = (frame.group(1), int(frame.group(2)))
            count, secs = out.get(key, (0, 0.0))
            out[key] = (count + int(head.group(2)), secs + int(head.group(1)) / hz)
    return out


def rows_of(tool, pid):
    return [e for e in tool.events() if e["pid"] == pid]


def one(rows, op, site):
    found = [r for r in rows if r["op"] == op and r["site"] == site]
    assert len(found) == 1, (op, site, rows)
    return found[0]


def check_blocking(rows, w, file="chan_block.go"):
    send = one(rows, "send", f"main.sender ({file}:{line('send')})")
    recv = one(rows, "recv", f"main.receiver ({file}:{line('recv')})")
    sel = one(rows, "select", f"main.selecter ({file}:{line('select')})")
    recv2 = one(rows, "recv", f"main.waitClose ({file}:{line('recv2')})")
    nbsend = one(rows, "select", f"main.nonblocking ({file}:{line('nbsend')})")
    nbrecv = one(rows, "select", f"main.nonblocking ({file}:{line('nbrecv')})")
    assert send["chan"] == recv["chan"] == w.send_chan
    assert sel["chan"] == w.select_chan
    assert recv2["chan"] == w.close_chan
    assert nbsend["chan"] == nbrecv["chan"] == w.nb_chan
    assert send["count"] == send["blocked_count"] == N
    assert recv["count"] == N
    assert sel["count"] == sel["blocked_count"] == M
    assert recv2["count"] == recv2["blocked_count"] == 1
    assert nbsend["count"] == nbrecv["count"] == M
    assert nbsend["blocked_count"] == nbrecv["blocked_count"] == 0
    # Once each, although some ran their prologue twice (stack growth).
    grow = one(rows, "select", f"main.deep ({file}:{line('nbgrow')})")
    assert grow["count"] == GROW and grow["blocked_count"] == 0
    for r, n in ((send, N), (sel, M), (recv2, 1)):
        # Each op waits for a sleep of D: no less (timers do not fire
        # early), and on a loaded machine not wildly more.
        assert n * D_NS * 0.95 <= r["total_blocked_ns"] <= n * D_NS * 4, r
        assert D_NS * 0.95 <= r["max_blocked_ns"] <= r["total_blocked_ns"], r
    return send, sel


@pytest.mark.parametrize("build", ["dwarf", "stripped"])
def test_sites_counts_and_times_match_block_profile(go_binaries, workloads, build):
    w = workloads(go_binaries[build])
    tool = Tool("chanlat", "-o", "json", "-p", w.pid)
    w.run()
    assert tool.stop() == 0, tool.stderr
    rows = rows_of(tool, w.pid)
    assert rows and all(set(r) == FIELDS for r in rows), tool.stdout
    assert all(r["op"] in ("send", "recv", "select") for r in rows)
    send, sel = check_blocking(rows, w)
    # Go's own account of the same waits: from just before the operation
    # parks to the waker's release of it (the sudog's releasetime, taken
    # right before goready), in CPU ticks converted by its estimate of
    # their rate. Ours runs from gopark to ready: within a few percent.
    profile = block_profile(w.profile)
    for ours, key in ((send, ("main.sender", line("send"))),
                      (sel, ("main.selecter", line("select")))):
        count, secs = profile[key]
        assert count == ours["blocked_count"], (key, profile)
        theirs = secs * 1e9
        assert abs(ours["total_blocked_ns"] - theirs) <= 0.05 * theirs + count * 5e5, (ours, theirs)
    w.finish()


def test_table_hist_and_sched(go_binaries, workloads):
    w = workloads(go_binaries["stripped"])
    tool = Tool("chanlat", "--hist", "--sched", "-p", w.pid)
    w.run()
    assert tool.stop() == 0, tool.stderr
    out = tool.stdout
    header = next(l for l in out.splitlines() if l.lstrip().startswith("PID"))
    assert header.split() == ["PID", "OP", "COUNT", "BLOCKED", "TOTAL(ms)", "MAX(ms)", "CHAN",
                              "SITE", "RUN", "RUNLAT(ms)", "RUNMAX(ms)"]
    send_site = f"main.sender (chan_block.go:{line('send')})"
    row = next(l for l in out.splitlines() if send_site in l)
    cells = row.split()
    assert cells[:4] == [str(w.pid), "send", str(N), str(N)]
    assert cells[6] == w.send_chan
    # The run-queue latency columns: every blocked send was run again.
    assert cells[-3] == str(N)
    # The histogram of the D-long waits: 40 ms falls in 32768 -> 65535 us.
    assert "usecs blocked" in out and "32768 -> 65535" in out, out
    assert "usecs ready->running" in out
    w.finish()


def test_json_hist_and_sched_fields(go_binaries, workloads):
    w = workloads(go_binaries["dwarf"])
    tool = Tool("chanlat", "--hist", "--sched", "-o", "json", "-p", w.pid)
    w.run()
    assert tool.stop() == 0, tool.stderr
    rows = rows_of(tool, w.pid)
    extra = {"sched_count", "total_sched_ns", "max_sched_ns", "blocked_us", "sched_us"}
    assert all(set(r) == FIELDS | extra for r in rows)
    send, _ = check_blocking(rows, w)
    assert sum(b["count"] for b in send["blocked_us"]) == N
    assert send["sched_count"] == N and send["max_sched_ns"] <= send["total_sched_ns"]
    w.finish()


def test_interval_summaries_add_up(go_binaries, workloads):
    w = workloads(go_binaries["stripped"])
    tool = Tool("chanlat", "-o", "json", "-i", "200ms", "-p", w.pid)
    w.run()
    assert tool.stop() == 0, tool.stderr
    sends = [r for r in rows_of(tool, w.pid) if r["op"] == "send" and r["chan"] == w.send_chan
             and r["site"].startswith("main.sender ")]
    # N sends of D each span several intervals, each reporting its own.
    assert len(sends) >= 2, tool.stdout
    assert sum(r["count"] for r in sends) == N
    assert sum(r["blocked_count"] for r in sends) == N
    w.finish()


def test_binary_target_covers_processes_started_later(go_binaries, workloads):
    tool = Tool("chanlat", "-o", "json", "--binary", go_binaries["stripped"])
    a = workloads(go_binaries["stripped"])
    b = workloads(go_binaries["stripped"])
    a.run()
    b.run()
    assert tool.stop() == 0, tool.stderr
    for w in (a, b):
        check_blocking(rows_of(tool, w.pid), w)
        w.finish()


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_system_wide_follows_new_programs(go_binaries, workloads, method):
    tool = Tool("chanlat", "-o", "json", "--attach", method)
    w = workloads(go_binaries["dwarf"])
    # The exec is reported, the new program probed: then it may run.
    wait_for(lambda: f"tracing channel operations in /proc/{w.pid}/" in tool.stderr
             or f"in {go_binaries['dwarf']}" in tool.stderr, 30,
             f"chanlat probing {w.pid}:\n{tool.stderr}")
    w.run()
    assert tool.stop() == 0, tool.stderr
    check_blocking(rows_of(tool, w.pid), w)
    w.finish()


def test_not_go_is_exit_4(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        r = run("chanlat", "-p", sleeper.pid, "-d", "1")
        assert r.returncode == 4, r.stderr
        assert f"PID {sleeper.pid} (sleep) runs no Go program" in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    r = run("chanlat", "--binary", "/bin/sleep", "-d", "1")
    assert r.returncode == 4 and "/bin/sleep is no Go binary" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_hostile_source_file_name(tmp_path, workloads):
    """Sites carry the source file's name, which the target's author
    chose: escaped in JSON, neutralised in the table."""
    name = 'evil"\x1b[31m.go'
    src = tmp_path / name
    shutil.copy(SOURCE, src)
    binary = go_build(src, tmp_path / "hostile")
    for fmt in ("json", "table"):
        w = workloads(binary)
        tool = Tool("chanlat", "-o", fmt, "-p", w.pid)
        w.run()
        assert tool.stop() == 0, tool.stderr
        if fmt == "json":
            check_blocking(rows_of(tool, w.pid), w, file=name)
        else:
            assert "\x1b" not in tool.stdout
            assert f'main.sender (evil"\\x1b[31m.go:{line("send")})' in tool.stdout
        w.finish()


@pytest.fixture(scope="module")
def esbuild(tmp_path_factory):
    """The current esbuild from npm: stripped, built by a current Go."""
    return npm_binary(tmp_path_factory, "@esbuild/linux-x64", None, "bin/esbuild")


def test_esbuild_bundles_traced(esbuild, tmp_path):
    # A chain of modules: esbuild parses each on a goroutine of its own
    # and collects the results over a channel.
    src = tmp_path / "src"
    src.mkdir()
    for i in range(1, 30):
        (src / f"m{i}.js").write_text(f"import {{f{i + 1}}} from './m{i + 1}.js';\n"
                                      f"export function f{i}(x) {{ return f{i + 1}(x) + 1 }}\n")
    (src / "m30.js").write_text("export function f30(x) { return x }\n")
    (src / "main.js").write_text("import {f1} from './m1.js'; console.log(f1(1))\n")
    tool = Tool("chanlat", "-o", "json", "--binary", esbuild)
    pids = []
    for i in range(3):
        p = subprocess.Popen([str(esbuild), "--bundle", str(src / "main.js"),
                              f"--outfile={tmp_path / f'out{i}.js'}"],
                             stderr=subprocess.DEVNULL)
        pids.append(p.pid)
        assert p.wait(60) == 0
    assert tool.stop() == 0, tool.stderr
    rows = [r for r in tool.events() if r["pid"] in pids]
    assert all(set(r) == FIELDS for r in rows)
    # Every run did channel operations, named from the stripped binary's
    # pclntab: esbuild's own packages and files.
    for pid in pids:
        mine = [r for r in rows if r["pid"] == pid]
        assert sum(r["count"] for r in mine) > 0, (pid, tool.stdout)
        assert any(re.match(r"github\.com/evanw/esbuild/\S+ \(\S+\.go:\d+\)$", r["site"])
                   for r in mine), mine
