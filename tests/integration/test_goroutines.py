"""sonde-goroutines against a Go program with goroutines of known origin
(tests/workloads/goroutines/leaker.go, built here by Debian's Go with DWARF
and stripped): goroutines started before the tool attached, N leaked from
one go statement, M short-lived from another. Counts and sites must be
exact, and agree with the runtime's own runtime.NumGoroutine(). Then the
leak report, the targets (-p, --binary, system-wide with programs started
later), refusals, and esbuild's stripped binaries from npm, built by other
Go releases (the current one, 1.23, 1.17; 1.15 is refused)."""
import os
import shutil
import socket
import subprocess
import urllib.request

import pytest

from conftest import npm_binary
from harness import LineWorkload, Tool, go_build, marker_line, run, wait_for

SOURCE = os.path.join(os.path.dirname(__file__), "..", "workloads", "goroutines", "leaker.go")
FIELDS = {"pid", "comm", "live", "created", "exited", "sites"}
SITE_FIELDS = {"site", "start", "live", "created", "oldest_age_ns"}
BEFORE = 3


def site_line(marker):
    return marker_line(SOURCE, marker)


@pytest.fixture(scope="module")
def leaker(tmp_path_factory):
    """leaker.go built with DWARF, stripped (-s -w), and as a PIE with
    DWARF (loaded elsewhere than linked: runtime.allgs is found through
    the load bias)."""
    d = tmp_path_factory.mktemp("go")
    return {name: go_build(SOURCE, d / f"leaker_{name}", flags)
            for name, flags in (("dwarf", []), ("stripped", ["-ldflags=-s -w"]),
                                ("pie", ["-buildmode=pie"]))}


class Leaker(LineWorkload):
    """The workload: prints "ready" once its BEFORE goroutines run, then
    obeys commands on stdin, answering each with a line."""

    def __init__(self, binary):
        super().__init__([binary, BEFORE])
        assert self.proc.stdout.readline().strip() == "ready"

    def command(self, text):
        self.say(text)
        return self.proc.stdout.readline().strip()


@pytest.fixture
def start_leaker(spawn):
    return lambda binary: spawn(Leaker, binary)


def summaries(tool, pid):
    return [e for e in tool.events() if e["pid"] == pid and "sites" in e]


def site(summary, function, line, start):
    found = [s for s in summary["sites"]
             if s["site"] == f"{function} (leaker.go:{line})" and s["start"] == start]
    assert len(found) <= 1, summary
    return found[0] if found else None


def user_live(summary):
    """Live goroutines the runtime counts in NumGoroutine: not its own
    (a start function in runtime), except the main goroutine."""
    return sum(s["live"] for s in summary["sites"]
               if not s["start"].startswith("runtime.") or s["start"] == "runtime.main")


@pytest.mark.parametrize("build", ["dwarf", "stripped", "pie"])
def test_exact_counts_and_sites(leaker, start_leaker, build):
    # More than one batch of the map reading (4096).
    leaked, short = 5000, 200
    w = start_leaker(leaker[build])
    tool = Tool("goroutines", "-o", "json", "-p", w.pid)
    assert w.command(f"leak {leaked}") == "done"
    assert w.command(f"short {short}") == "done"
    runtime_count = int(w.command("count").split()[1])
    assert tool.stop() == 0
    [final] = summaries(tool, w.pid)
    assert set(final) == FIELDS and final["comm"] == leaker[build].name[:15]
    for s in final["sites"]:
        assert set(s) == SITE_FIELDS
    leak = site(final, "main.leakSome", site_line("leak_site"), "main.parked")
    assert leak and leak["live"] == leaked and leak["created"] == leaked, final
    assert leak["oldest_age_ns"] > 0
    gone = site(final, "main.shortLived", site_line("short_site"), "main.finish")
    assert gone and gone["live"] == 0 and gone["created"] == short, final
    assert gone["oldest_age_ns"] is None
    assert final["created"] >= leaked + short and final["exited"] >= short
    # Those before attach, read from runtime.allgs: located by the
    # symbols, or without them by decoding runtime.allgadd.
    assert ("its symbols" if build != "stripped" else "the code of runtime.allgadd") in \
        tool.stderr
    before = site(final, "main.startBefore", site_line("before_site"), "main.waitBefore")
    assert before and before["live"] == BEFORE and before["created"] == 0, final
    assert user_live(final) == runtime_count, (runtime_count, final)
    assert final["live"] == sum(s["live"] for s in final["sites"])


def test_table(leaker, start_leaker):
    w = start_leaker(leaker["dwarf"])
    tool = Tool("goroutines", "--leak-age", "1ms", "-p", w.pid)
    assert w.command("leak 7") == "done"
    assert tool.stop() == 0
    lines = tool.lines()
    # The leak report: one header, the leaked site, no runtime goroutine.
    assert lines.count("possible leaks:") == 1
    leaks = lines[lines.index("possible leaks:") + 1:]
    assert leaks[0].split() == ["PID", "COMM", "LEAK", "COUNT", "OLDEST(s)", "SITE", "START"]
    assert [l for l in leaks[1:] if "main.leakSome" in l][0].split()[2:4] == ["age", "7"]
    assert not [l for l in leaks[1:] if l.split()[-1].startswith("runtime.")]
    lines = lines[:lines.index("possible leaks:")]
    assert lines[0].split() == ["PID", "COMM", "LIVE", "CREATED", "EXITED", "CREATED/s",
                                "EXITED/s", "OLDEST(s)", "SITE", "START"]
    header_site = lines[0].index("SITE")
    rows = [l for l in lines[1:] if l.split()[0] == str(w.pid)]
    assert rows[0].split()[8] == "(all)"
    leak_row = [r for r in rows if f"main.leakSome (leaker.go:{site_line('leak_site')})" in r]
    assert len(leak_row) == 1 and leak_row[0].split()[2:5] == ["7", "7", "0"]
    assert leak_row[0].index("main.leakSome") == header_site
    assert leak_row[0].split()[-1] == "main.parked"


def test_leak_age_and_growth(leaker, start_leaker):
    """--leak-age flags the site holding goroutines past the age; a site
    whose live count grows at 3 summaries in a row (one goroutine leaked
    every 20 ms, summaries every 300 ms) is flagged as growing."""
    w = start_leaker(leaker["stripped"])
    tool = Tool("goroutines", "-o", "json", "-i", "300ms", "--leak-age", "200ms", "-p", w.pid)
    line = site_line("leak_site")
    assert w.command("drip 200 20") == "done"
    growing = wait_for(lambda: [e for e in tool.events() if e.get("leak") == "growing"], 30,
                       f"a growing site:\n{tool.stdout}")
    aged = wait_for(lambda: [e for e in tool.events() if e.get("leak") == "age"
                             and e["start"] == "main.parked"], 30,
                    f"goroutines past the age:\n{tool.stdout}")
    aged = [e for e in tool.events() if e.get("leak") == "age"]
    assert tool.stop() == 0
    leak_site = f"main.leakSome (leaker.go:{line})"
    # Only the dripping site grows.
    for e in growing:
        assert e["pid"] == w.pid and e["site"] == leak_site and e["start"] == "main.parked"
        assert e["count"] >= 3 and e["oldest_age_ns"] > 0
    # Past the age: the leaked ones, and those parked since before attach
    # (their age counts from attach); never the runtime's own goroutines.
    # (The drip loop itself is one too: its start function is the wrapper
    # the compiler makes for a go statement with arguments.)
    expected = {leak_site: "main.parked",
                f"main.startBefore (leaker.go:{site_line('before_site')})": "main.waitBefore",
                f"main.main (leaker.go:{site_line('drip_site')})": "main.main."}
    for e in aged:
        assert e["start"].startswith(expected[e["site"]]), e
        assert e["count"] >= 1 and e["oldest_age_ns"] > 200_000_000


def test_binary_target_now_and_later(leaker, start_leaker):
    early = start_leaker(leaker["dwarf"])
    tool = Tool("goroutines", "-o", "json", "-i", "200ms", "--binary", leaker["dwarf"])
    late = start_leaker(leaker["dwarf"])
    assert early.command("leak 4") == "done"
    assert late.command("leak 6") == "done"
    wait_for(lambda: [e for e in summaries(tool, late.pid)
                      if site(e, "main.leakSome", site_line("leak_site"), "main.parked")], 30,
             f"the later process:\n{tool.stdout}")
    assert tool.stop() == 0
    e = summaries(tool, early.pid)[-1]
    late_final = summaries(tool, late.pid)[-1]
    assert site(e, "main.leakSome", site_line("leak_site"), "main.parked")["live"] == 4
    assert site(late_final, "main.leakSome", site_line("leak_site"), "main.parked")["live"] == 6
    # Started after the probes: its goroutines were all seen created.
    before = site(late_final, "main.startBefore", site_line("before_site"), "main.waitBefore")
    assert before["live"] == BEFORE and before["created"] == BEFORE
    assert site(e, "main.startBefore", site_line("before_site"), "main.waitBefore")["live"] == BEFORE


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_system_wide_follows_new_programs(leaker, start_leaker, method):
    tool = Tool("goroutines", "-o", "json", "-i", "200ms", "--attach", method)
    assert f"program starts: using {method} sched/sched_process_exec" in tool.stderr
    w = start_leaker(leaker["dwarf"])
    wait_for(lambda: f"tracing goroutines in /proc/{w.pid}/exe" in tool.stderr, 30,
             f"sonde-goroutines to probe {w.pid}:\n{tool.stderr}")
    assert w.command("leak 9") == "done"
    wait_for(lambda: [e for e in summaries(tool, w.pid)
                      if (site(e, "main.leakSome", site_line("leak_site"), "main.parked")
                          or {}).get("live") == 9], 30, f"9 leaked in {w.pid}:\n{tool.stdout}")
    assert tool.stop() == 0
    final = summaries(tool, w.pid)[-1]
    before = site(final, "main.startBefore", site_line("before_site"), "main.waitBefore")
    assert before and before["live"] == BEFORE


def test_not_go(leaker):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        r = run("goroutines", "-p", sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert r.returncode == 4
    assert r.stderr.strip() == f"sonde-goroutines: PID {sleeper.pid} (sleep) runs no Go program"
    r = run("goroutines", "--binary", "/bin/ls")
    assert r.returncode == 4 and "/bin/ls is not a Go binary" in r.stderr


def test_usage_errors():
    assert run("goroutines", "--binary", "/nonexistent").returncode == 2
    assert run("goroutines", "--binary", "/bin/ls", "-p", "1").returncode == 2
    assert run("goroutines", "--leak-age", "soon").returncode == 2


@pytest.fixture(scope="module", params=[
    pytest.param(("@esbuild/linux-x64", None), id="current"),
    # Go 1.23: runtime.g's goid moved (g.syscallbp), 8 bytes further.
    pytest.param(("@esbuild/linux-x64", "0.25.0"), id="go1.23"),
    # Go 1.17: the oldest release the layout table covers, whose newproc1
    # took the go statement's pc as its fifth argument.
    pytest.param(("esbuild-linux-64", "0.13.15"), id="go1.17")])
def esbuild(request, tmp_path_factory):
    package, version = request.param
    return npm_binary(tmp_path_factory, package, version, "bin/esbuild")


def test_esbuild(esbuild, tmp_path):
    """Stripped binaries of Go releases other than Debian's, the current
    one included: esbuild's HTTP server starts a goroutine per connection,
    from net/http.(*Server).Serve. (It serves while its stdin is open.)"""
    fetch = urllib.request.build_opener(urllib.request.ProxyHandler({})).open
    (tmp_path / "index.html").write_text("hello\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(esbuild), f"--serve=127.0.0.1:{port}",
                               f"--servedir={tmp_path}"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def serving():
            try:
                return fetch(f"http://127.0.0.1:{port}/index.html", timeout=5)
            except OSError:
                return None
        wait_for(serving, 30, "esbuild to serve")
        tool = Tool("goroutines", "-o", "json", "-i", "200ms", "-p", server.pid)
        requests = 20
        for _ in range(requests):
            # A new connection each: Connection: close.
            req = urllib.request.Request(f"http://127.0.0.1:{port}/index.html",
                                         headers={"Connection": "close"})
            assert fetch(req, timeout=10).read() == b"hello\n"

        def served_and_gone():
            """The connections' goroutines, all ended (their exits seen,
            goid read at the offset of this Go release)."""
            last = summaries(tool, server.pid)[-1:]
            serve = [s for e in last for s in e["sites"]
                     if s["site"].startswith("net/http.(*Server).Serve (")]
            return serve if serve and serve[0]["created"] == requests and \
                serve[0]["live"] == 0 else None
        [serve] = wait_for(served_and_gone, 30, f"{requests} connections:\n{tool.stdout}")
        assert tool.stop() == 0
    finally:
        server.kill()
        server.wait()
    assert serve["start"].startswith("net/http.")
    final = summaries(tool, server.pid)[-1]
    assert final["created"] >= requests and final["exited"] >= requests
    # Those before attach, from runtime.allgs located in runtime.allgadd's
    # code and read with the layout of this Go release: the main goroutine
    # is among them, so the layout reads right.
    assert "the code of runtime.allgadd" in tool.stderr
    assert final["live"] == sum(s["live"] for s in final["sites"]) > 0
    assert [s for s in final["sites"] if s["start"] == "runtime.main" and s["live"] == 1]


def test_go_release_before_the_table(tmp_path_factory):
    """Go 1.15 (esbuild 0.7.22): older than the runtime.g layouts known,
    refused rather than misread."""
    old = npm_binary(tmp_path_factory, "esbuild-linux-64", "0.7.22", "bin/esbuild")
    r = run("goroutines", "--binary", old)
    assert r.returncode == 4
    assert "go1.15" in r.stderr and "runtime.g layout is not known" in r.stderr


def test_hostile_process_name(leaker, start_leaker, tmp_path):
    """A process name a terminal would act on: escaped in the table, kept
    (JSON-escaped) in JSON."""
    hostile = tmp_path / 'g"\x1b[31m\\x'
    shutil.copy(leaker["dwarf"], hostile)
    w = start_leaker(hostile)
    table = Tool("goroutines", "-p", w.pid)
    json_tool = Tool("goroutines", "-o", "json", "-p", w.pid)
    assert w.command("leak 2") == "done"
    assert table.stop() == 0 and json_tool.stop() == 0
    assert "\x1b" not in table.stdout
    rows = [l for l in table.lines() if l.split()[0] == str(w.pid)]
    assert rows and all('g"\\x1b[31m\\x' in r for r in rows)
    [final] = summaries(json_tool, w.pid)
    assert final["comm"] == 'g"\x1b[31m\\x'
