"""sonde-oomkill against real OOM kills inside a small memory cgroup the
test creates (cgroup v1's memory controller or v2's memory.max, whichever
this machine has): the right victim and trigger, memory figures close to
the limit, the cgroup's path, constraint "memcg", on every attach path
this kernel offers. The limit is small and the workload bounded, so the
machine itself never runs out of memory."""
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from harness import Tool, run, wait_for, workload_path

ALLOC = workload_path("oom_alloc")
MIB = 1024 * 1024
# Pages a workload touched before joining its cgroup stay charged where
# they were (a few MiB under ASan's runtime), yet count in its RSS.
PRE_JOIN_KB = 8 * 1024
# In a sanitizer build the workload's leak check at exit runs in a task it
# clones that shares its memory; in a cgroup at its limit the OOM killer can
# pick that task, which the test does not know, rather than the allocator.
# The workload's leaks are not sonde's.
ALLOC_ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
FIELDS = {"ts_ns", "victim_pid", "victim_comm", "victim_uid", "trigger_pid", "trigger_comm",
          "total_vm_kb", "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "pgtables_kb",
          "oom_score_adj", "memcg", "container", "constraint", "loadavg"}


def memory_hierarchy():
    """(mount point, is_v1) of the hierarchy the memory controller is on."""
    v1 = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        mnt = pre.split()[4]
        fstype, _, superopts = post.split()[:3]
        if fstype == "cgroup2":
            controllers = Path(mnt, "cgroup.controllers")
            if controllers.exists() and "memory" in controllers.read_text().split():
                return Path(mnt), False
        elif fstype == "cgroup" and "memory" in superopts.split(","):
            v1 = Path(mnt)
    if v1 is None:
        pytest.skip("no memory cgroup controller mounted")
    return v1, True


class MemoryCgroup:
    """A fresh memory cgroup limited to limit_mb without swap; on exit its
    processes are killed and it is removed."""

    def __init__(self, limit_mb, suffix=""):
        self.root, self.v1 = memory_hierarchy()
        self.name = f"sonde-test-{uuid.uuid4().hex[:8]}{suffix}"
        self.dir = self.root / self.name
        self.path = "/" + self.name          # as /proc/PID/cgroup shows it
        self.procs = self.dir / "cgroup.procs"
        self.limit_kb = limit_mb * 1024
        if not self.v1:
            sub = self.root / "cgroup.subtree_control"
            if "memory" not in sub.read_text().split():
                sub.write_text("+memory")
        self.dir.mkdir()
        try:
            if self.v1:
                (self.dir / "memory.limit_in_bytes").write_text(str(limit_mb * MIB))
                memsw = self.dir / "memory.memsw.limit_in_bytes"
                if memsw.exists():
                    memsw.write_text(str(limit_mb * MIB))
            else:
                (self.dir / "memory.max").write_text(str(limit_mb * MIB))
                swap = self.dir / "memory.swap.max"
                if swap.exists():
                    swap.write_text("0")
        except BaseException:
            self.remove()
            raise

    def pids(self):
        return [int(p) for p in self.procs.read_text().split()] if self.procs.exists() else []

    def remove(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.pids(), 30, f"{self.dir} to be empty")

        def removed():
            try:
                self.dir.rmdir()
            except FileNotFoundError:
                return True
            except OSError:
                return False
            return True
        wait_for(removed, 30, f"{self.dir} to be removed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def allocate(cg, max_mb, *opts):
    """Runs the allocator in cg; returns (pid, returncode)."""
    p = subprocess.Popen([ALLOC, "--join", cg.procs, *opts, "alloc", str(max_mb)],
                         stdout=subprocess.PIPE, text=True, env=ALLOC_ENV)
    p.communicate(timeout=120)
    return p.pid, p.returncode


def hold(cg, mb, *opts):
    """Starts a process in cg holding mb MiB; returns it once it holds them."""
    p = subprocess.Popen([ALLOC, "--join", cg.procs, *opts, "hold", str(mb)],
                         stdout=subprocess.PIPE, text=True, env=ALLOC_ENV)
    assert p.stdout.readline().strip() == "ready"
    return p


def check_self_kill(e, pid, cg, started):
    assert FIELDS <= e.keys()
    assert e["victim_pid"] == pid and e["trigger_pid"] == pid
    assert e["victim_comm"] == "oom_alloc" and e["trigger_comm"] == "oom_alloc"
    assert e["victim_uid"] == 0
    assert 0.7 * cg.limit_kb < e["anon_rss_kb"] <= cg.limit_kb + PRE_JOIN_KB
    assert e["total_vm_kb"] >= e["anon_rss_kb"] + e["file_rss_kb"]
    assert e["shmem_rss_kb"] == 0 and e["pgtables_kb"] > 0
    assert e["oom_score_adj"] == 0
    assert e["memcg"] == cg.path
    assert e["container"] == ""
    assert e["constraint"] == "memcg"
    assert len(e["loadavg"]) == 3 and all(x >= 0 for x in e["loadavg"])
    assert started - 10**9 < e["ts_ns"] < time.time_ns() + 10**9


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_memcg_oom_kill(method):
    with MemoryCgroup(48) as cg:
        tool = Tool("oomkill", "-o", "json", "--attach", method)
        started = time.time_ns()
        pid, rc = allocate(cg, 256)
        assert rc == -signal.SIGKILL, "the allocator was not OOM-killed"
        tool.wait_events(lambda e: e["victim_pid"] == pid)
        assert tool.stop() == 0
    assert f"using {method}" in tool.stderr
    mine = [e for e in tool.events() if pid in (e["victim_pid"], e["trigger_pid"])]
    assert len(mine) == 1, mine
    check_self_kill(mine[0], pid, cg, started)


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_trigger_differs_from_victim(method):
    """An idle process with oom_score_adj 1000 is chosen over the one whose
    allocation hit the limit. The allocator usually completes once the
    victim's memory is freed; on a loaded machine the reaper can be late
    and the kernel kills the allocator too, which must then be reported
    as well."""
    with MemoryCgroup(64) as cg:
        victim = hold(cg, 32, "--oom-score-adj", "1000")
        # -p with the victim only: the kill is reported, and the tool ends
        # by itself once its only target is gone.
        tool = Tool("oomkill", "-o", "json", "-p", victim.pid, "--attach", method)
        every = Tool("oomkill", "-o", "json", "-c", cg.dir, "--attach", method)
        trigger, rc = allocate(cg, 48)
        assert rc in (0, -signal.SIGKILL)
        assert victim.wait(60) == -signal.SIGKILL
        assert tool.wait_exit() == 0
        if rc == -signal.SIGKILL:
            every.wait_events(lambda e: e["victim_pid"] == trigger)
        assert every.stop() == 0
    assert [e["victim_pid"] for e in every.events()] == [victim.pid] + ([trigger] if rc else [])
    events = tool.events()
    assert len(events) == 1, events
    e = events[0]
    assert (e["victim_pid"], e["trigger_pid"]) == (victim.pid, trigger)
    assert e["victim_comm"] == e["trigger_comm"] == "oom_alloc"
    assert e["oom_score_adj"] == 1000
    assert 32 * 1024 <= e["anon_rss_kb"] <= 32 * 1024 + PRE_JOIN_KB
    assert e["constraint"] == "memcg"
    # The classic tracepoint's record has no task: the victim's cgroup is
    # known only when the victim is the trigger (see the man page).
    assert e["memcg"] == (None if method == "tracepoint" else cg.path)


def test_filters_select_victim_or_trigger_and_cgroup():
    with MemoryCgroup(48) as cg, MemoryCgroup(48) as other:
        bystander = subprocess.Popen(["sleep", "600"])
        try:
            every = Tool("oomkill", "-o", "json")
            in_cg = Tool("oomkill", "-o", "json", "-c", cg.dir)
            by_path = Tool("oomkill", "-o", "json", "-c", cg.path)
            in_other = Tool("oomkill", "-o", "json", "-c", other.dir)
            by_pid = Tool("oomkill", "-o", "json", "-p", bystander.pid)
            pid, rc = allocate(cg, 256)
            assert rc == -signal.SIGKILL
            # The unfiltered tool saw it: the filtered ones decided at the
            # same moment, and what they kept is read when they stop. The
            # last started stops first: each checks that no program newer
            # than itself is left.
            every.wait_events(lambda e: e["victim_pid"] == pid)
            for t in (by_pid, in_other, by_path, in_cg, every):
                assert t.stop() == 0
        finally:
            bystander.kill()
            bystander.wait()
    assert [e["victim_pid"] for e in in_cg.events()] == [pid]
    assert [e["victim_pid"] for e in by_path.events()] == [pid]
    assert in_other.events() == []
    assert by_pid.events() == []


def test_table_with_hostile_comm_and_cgroup():
    hostile = "x\x1b[31m\tq"
    with MemoryCgroup(48, suffix="\x1b[31m\tred") as cg:
        tool = Tool("oomkill")
        pid, rc = allocate(cg, 256, "--comm", hostile)
        assert rc == -signal.SIGKILL
        wait_for(lambda: len(tool.lines()) >= 2, what="a table row")
        assert tool.stop() == 0
    assert "\x1b" not in tool.stdout
    header, row = tool.lines()[0].split(), tool.lines()[1].split()
    assert header == ["TIME", "TRIGGER_PID", "TRIGGER_COMM", "VICTIM_PID", "VICTIM_COMM",
                      "RSS(MB)", "CONSTRAINT", "MEMCG"]
    shown = "x\\x1b[31m\\x09q"
    assert row[1:5] == [str(pid), shown, str(pid), shown]
    # anon plus a little file RSS
    assert 0.7 * 48 < float(row[5]) <= 48 + (PRE_JOIN_KB + 4096) / 1024
    assert row[6:] == ["memcg", cg.path.replace("\x1b", "\\x1b").replace("\t", "\\x09")]


def test_hostile_comm_and_cgroup_escaped_in_json():
    hostile = "x\x1b[31m\"q"
    with MemoryCgroup(48, suffix="\x1b]0;\"x\x07") as cg:
        tool = Tool("oomkill", "-o", "json")
        pid, rc = allocate(cg, 256, "--comm", hostile)
        assert rc == -signal.SIGKILL
        events = tool.wait_events(lambda e: e["victim_pid"] == pid)
        assert tool.stop() == 0
    assert "\x1b" not in tool.stdout and "\\u001b" in tool.stdout
    assert events[0]["victim_comm"] == events[0]["trigger_comm"] == hostile
    assert events[0]["memcg"] == cg.path


def test_usage_errors_and_unsupported_method():
    assert run("oomkill", "-o", "folded").returncode == 2
    assert run("oomkill", "-p", "999999999").returncode == 2
    for method in ("kprobe", "fentry"):
        r = run("oomkill", "--attach", method)
        assert r.returncode == 4
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_duration_ends_cleanly():
    tool = Tool("oomkill", "-o", "json", "-d", "1s")
    assert tool.wait_exit(timeout=30) == 0
    assert tool.events() == []
