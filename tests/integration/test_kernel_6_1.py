"""sonde on a second kernel: Debian's stock 6.1 cloud kernel under qemu
(tests/kernels), where kprobes, fentry and BTF exist, unlike on the host.

One guest boot (the module fixture) runs every check; the tests below
judge its results with the same assertions the host tests make. What is
checked there:
- the kernel offers kprobe and fentry, and the feature probe says so;
- every built tool runs and attaches, chooses the method EXPECT names for
  it, and each forced --attach METHOD is either used or refused with exit 4;
- sonde-tcpconnect reports real connects correctly on each of its paths;
- the library's fentry, kprobe and tracepoint paths each deliver events
  (sonde-probe-paths, a test-only program);
- `sonde doctor`, where the front command is built, reports kprobes and fentry;
- sonde-fsslower -t ext4 times ext4's own file operations (fentry, and
  kprobes when forced) on an ext4 image made here and attached as a disk,
  and -t xfs chooses fentry on the functions of the xfs module;
- sonde-offcpu, sonde-profile and sonde-gclat report known workloads: a
  known sleeping call chain, a known spinning one, a Go program's GCs.

A new tool needs no change here to be run in the guest; an entry in EXPECT
makes the guest assert which method it chooses and which it offers."""
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from harness import BUILD, ROOT, go_build

sys.path.insert(0, str(ROOT / "tests" / "kernels"))
import vm  # noqa: E402


@dataclass(frozen=True)
class Expect:
    chooses: dict		# probe name (as -v prints it) -> method on 6.1
    offers: tuple		# every method --attach can force
    args: tuple = field(default=())	# what the tool needs to run at all


VFS_FUNCS = ("vfs_read", "vfs_write", "vfs_readv", "vfs_writev", "do_sys_openat2",
             "vfs_fsync_range")
# The methods each tool must choose and offer on Debian's 6.1 kernel.
EXPECT = {
    "tcpconnect": Expect(
        chooses={"TCP state changes": "tp_btf", "TCP state changes, covering skipped runs": "tp_btf",
                 "TCP resets received": "tp_btf", "TCP retransmits": "tp_btf",
                 "socket errors": "tp_btf"},
        offers=("tp_btf", "raw_tp", "tracepoint")),
    "probe-paths": Expect(chooses={"clock_nanosleep calls": "fentry"},
                          offers=("fentry", "kprobe", "tracepoint")),
    # oom_kill_process gives the victim and the real constraint.
    "oomkill": Expect(chooses={"OOM kills": "fentry"},
                      offers=("fentry", "kprobe", "tp_btf", "raw_tp", "tracepoint")),
    # 6.1 has no tcp:tcp_sendmsg_locked: the optional send hook is skipped.
    "tcpretrans": Expect(
        chooses={"TCP retransmits": "tp_btf", "TCP state changes": "tp_btf",
                 "TCP state changes, covering skipped runs": "tp_btf",
                 "accept4() returns": "tracepoint", "accept() returns": "tracepoint"},
        offers=("tp_btf", "raw_tp", "tracepoint")),
    "dns": Expect(
        chooses={"packets sent": "tp_btf", "packets received": "tp_btf",
                 "TCP connects": "tp_btf", "TCP state changes, covering skipped runs": "tp_btf"},
        offers=("tp_btf", "raw_tp", "tracepoint")),
    # Without -t, the VFS functions; -t ext4 is checked on its own below.
    "fsslower": Expect(
        chooses={**{f"{f} calls": "fentry" for f in VFS_FUNCS},
                 **{f"{f} returns": "fexit" for f in VFS_FUNCS}},
        offers=("fentry", "fexit", "kprobe", "kretprobe", "tp_btf", "raw_tp", "tracepoint")),
    # A perf event (cpu-clock: no PMU under TCG) and uprobes: no probe
    # table method to choose or force.
    "profile": Expect(chooses={}, offers=()),
    # raw_tp first: tp_btf would read the same fields, after libbpf
    # parsed all of the kernel's BTF (tools/offcpu.c).
    "offcpu": Expect(chooses={"context switches": "raw_tp"},
                     offers=("raw_tp", "tp_btf", "tracepoint")),
    # System-wide, it waits for Go, Java or Python programs to exec.
    "gclat": Expect(chooses={"program starts": "tp_btf"},
                    offers=("tp_btf", "raw_tp", "tracepoint")),
    # The Go tools too: uprobes on the runtime, and programs starting.
    "chanlat": Expect(chooses={"program starts": "tp_btf"},
                      offers=("tp_btf", "raw_tp", "tracepoint")),
    "goroutines": Expect(chooses={"program starts": "tp_btf"},
                         offers=("tp_btf", "raw_tp", "tracepoint")),
}
METHODS = ("fentry", "fexit", "kprobe", "kretprobe", "tp_btf", "raw_tp", "tracepoint")
# Forcing kprobe moves the starts to kprobes, kretprobe the ends.
EXT4_METHODS = ("best", "kprobe", "kretprobe")
EXT4_FUNCS = ("ext4_file_read_iter", "ext4_file_write_iter", "ext4_file_open", "ext4_sync_file")

# Without qemu or a kernel to boot, the whole module is skipped in one line.
try:
    vm.check_host()
    KERNEL = vm.kernel()
except vm.Unavailable as e:
    pytest.skip(f"no 6.1 guest: {e}", allow_module_level=True)

PROGRAMS = vm.programs(BUILD) if (BUILD / "tools").is_dir() else []
TOOLS = sorted(p.name[len("sonde-"):] for p in PROGRAMS if p.name.startswith("sonde-"))
FRONT = any(p.name == "sonde" for p in PROGRAMS)
WORKLOADS = {p.name for p in PROGRAMS}
HAVE_MKFS = shutil.which("mkfs.ext4") is not None
HAVE_GO = shutil.which("go") is not None
# xfs is a module on Debian's kernel: fentry finds its functions in the
# module's own BTF (/sys/kernel/btf/xfs).
try:
    XFS_KOS, NO_XFS = vm.modules(KERNEL, "xfs"), ""
except vm.Unavailable as e:
    XFS_KOS, NO_XFS = [], str(e)
XFS_FUNCS = ("xfs_file_read_iter", "xfs_file_write_iter", "xfs_file_open", "xfs_file_fsync")
TCPCONNECT_FIELDS = {"ts_ns", "pid", "tid", "comm", "uid", "af", "saddr", "sport", "daddr",
                     "dport", "outcome", "latency_ns", "container"}
# chan_block: sends each blocked CHAN_DELAY_MS by a slow receiver, and
# selects each waiting as long for their only case.
CHAN_SENDS, CHAN_SELECTS, CHAN_DELAY_MS = 5, 3, 100
SLEEP_NS = 1234567	# distinctive: no other sleep in the guest asks for it
SLEEPS = 3
# The ext4 image: a file that exists before boot (read from the disk, not
# from the page cache), one written and synced in the guest, and one
# written on tmpfs, which -t ext4 must not report.
SEED_KB = 256
EXT4_WORKLOAD = ("echo 3 >/proc/sys/vm/drop_caches && "
                 "dd if=/mnt/ext4/seed.bin of=/dev/null bs=64k 2>/dev/null && "
                 "dd if=/dev/zero of=/mnt/ext4/out-{m}.bin bs=64k count=4 conv=fsync 2>/dev/null && "
                 "dd if=/dev/zero of=/tmp/tmpfs-{m}.bin bs=64k count=4 conv=fsync 2>/dev/null")
# offcpu: stacks.c sleeps SLEEPER_N x SLEEPER_MS in a known call chain.
SLEEPER_N, SLEEPER_MS = 5, 100
CHAIN = "main;workload_outer;workload_middle;"
GC_CYCLES = 5


def until_done(name):
    """Shell: sends the spawned process `name` its go line and waits for
    its "done"."""
    return f"echo go >/tmp/{name}.in && until grep -q done /tmp/{name}.out; do sleep 0.1; done"


def traced(name, tool, *args):
    """A tool's command line tracing the process spawned as `name`."""
    return ("sh", "-c", f'exec sonde-{tool} {" ".join(args)} -p "$(cat /tmp/{name}.pid)"')


def with_method(method):
    return ["--attach", method] if method != "best" else []


def plan():
    p = vm.Plan()
    p.run("uname", "uname", "-r")
    # -vv: every feature (-v names only those the tool asked about).
    p.run("features", "sonde-probe-paths", "-vv", "-d", "200ms")
    for tool in TOOLS:
        args = EXPECT[tool].args if tool in EXPECT else ()
        p.run(f"{tool}:best", f"sonde-{tool}", "-v", "-d", "1", *args)
        for m in METHODS:
            p.run(f"{tool}:attach={m}", f"sonde-{tool}", "-v", "--attach", m, "-d", "300ms", *args)
    if "tcpconnect" in TOOLS:
        for m in ("best",) + EXPECT["tcpconnect"].offers:
            p.trace(f"tcpconnect:connects={m}", "tcp_outcomes",
                    "sonde-tcpconnect", "-v", "-o", "json", *with_method(m))
        p.trace("tcpconnect:table", "tcp_outcomes", "sonde-tcpconnect", "-v")
    for m in ("best",) + EXPECT["probe-paths"].offers:
        p.trace(f"probe-paths:sleeps={m}", f"nanosleeper {SLEEP_NS} {SLEEPS}",
                "sonde-probe-paths", "-v", "-o", "json", *with_method(m))
    if FRONT:
        p.run("doctor", "sonde", "doctor")
    if "fsslower" in TOOLS and HAVE_MKFS:
        p.run("ext4:mount", "sh", "-c", "mkdir -p /mnt/ext4 && mount -t ext4 /dev/nvme0n1 /mnt/ext4")
        for m in EXT4_METHODS:
            p.trace(f"fsslower:ext4={m}", EXT4_WORKLOAD.format(m=m), "sonde-fsslower", "-v",
                    "-o", "json", "-m", "0", "-t", "ext4", *with_method(m))
        p.trace("fsslower:ext4:table", EXT4_WORKLOAD.format(m="table"),
                "sonde-fsslower", "-v", "-m", "0", "-t", "ext4")
    if "fsslower" in TOOLS and XFS_KOS:
        p.run("xfs:insmod", "sh", "-c", " && ".join(f"insmod /sonde/modules/{ko.name}"
                                                    for ko in XFS_KOS))
        p.run("fsslower:xfs", "sonde-fsslower", "-v", "-t", "xfs", "-d", "300ms")
    if "offcpu" in TOOLS and "stacks" in WORKLOADS:
        p.spawn("sleeper", "stacks", "sleep", SLEEPER_N, SLEEPER_MS)
        p.trace("offcpu:sleeps", until_done("sleeper"),
                *traced("sleeper", "offcpu", "-v", "-o", "folded"))
    if "profile" in TOOLS and "stacks" in WORKLOADS:
        # stacks cpu prints nothing: the shell says it started, then
        # becomes it (same pid). Stopped after, so it does not slow the
        # checks that follow.
        p.spawn("spinner", "sh", "-c", "echo spinning; exec stacks cpu")
        p.trace("profile:spins", "sleep 2", *traced("spinner", "profile", "-v", "-o", "folded"))
        p.run("spinner:stop", "sh", "-c", "kill $(cat /tmp/spinner.pid)")
    if "gclat" in TOOLS and HAVE_GO:
        p.spawn("gc", "force_gc", GC_CYCLES)
        p.trace("gclat:go", until_done("gc") + " && cat /tmp/gc.pid",
                *traced("gc", "gclat", "-v", "-o", "json"))
    if "chanlat" in TOOLS and "chan_block" in WORKLOADS:
        p.spawn("chans", "chan_block", CHAN_SENDS, CHAN_SELECTS, CHAN_DELAY_MS, "/dev/null")
        p.trace("chanlat:go", until_done("chans") + " && cat /tmp/chans.pid",
                *traced("chans", "chanlat", "-v", "-o", "json"))
    return p


def ext4_image(d):
    """A small ext4 file system holding seed.bin (SEED_KB KiB)."""
    seed = d / "seed"
    seed.mkdir()
    (seed / "seed.bin").write_bytes(os.urandom(SEED_KB * 1024))
    image = d / "ext4.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(seed), str(image), "16M"], check=True,
                   capture_output=True, timeout=60)
    return image


def force_gc(d):
    """tests/workloads/gc/force_gc.go built static by Debian's Go."""
    return go_build(ROOT / "tests" / "workloads" / "gc" / "force_gc.go", d / "force_gc")


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    d = tmp_path_factory.mktemp("guest")
    disks = [ext4_image(d)] if "fsslower" in TOOLS and HAVE_MKFS else []
    progs = PROGRAMS + ([force_gc(d)] if "gclat" in TOOLS and HAVE_GO else [])
    results = vm.boot(KERNEL, plan(), progs, disks, XFS_KOS)
    if not results.complete:
        # Under TCG the guest's clocks follow the host's CPU: a host busy
        # elsewhere starves it into RCU stalls. A tool that really hangs
        # the guest hangs it again, and fails below.
        print(f"booting once more: {results.why_incomplete()}")
        results = vm.boot(KERNEL, plan(), progs, disks, XFS_KOS)
    assert results.complete, results.why_incomplete()
    return results


def test_guest_runs_debian_6_1(guest):
    r = guest["uname"]
    assert r.rc == 0 and r.out.startswith("6.1."), r
    assert r.out.strip() == guest.kernel.name[len("vmlinuz-"):]


def test_kernel_built_with_kprobes_ftrace_btf(guest):
    config = vm.kernel_config(guest.kernel)
    for option in ("CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS", "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS",
                   "CONFIG_DEBUG_INFO_BTF", "CONFIG_BPF_SYSCALL", "CONFIG_FTRACE_SYSCALLS"):
        assert config.get(option) == "y", option


def test_features_kprobe_fentry_btf(guest):
    r = guest["features"]
    assert r.rc == 0, r.err
    table = dict(re.findall(r"^sonde-[\w-]+: kernel: (\w+) (yes|no)\b", r.err, re.M))
    for feature in ("btf", "kprobe", "fentry", "tp_btf", "raw_tracepoint", "tracepoint", "ringbuf"):
        assert table.get(feature) == "yes", f"{feature}:\n{r.err}"


def chosen(stderr):
    """{probe: method} from -v's "<tool>: <probe>: using <method> <target>"."""
    return dict(re.findall(r"^sonde-[\w-]+: (.+): using (\w+) \S+$", stderr, re.M))


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_chooses_best_method(guest, tool):
    r = guest[f"{tool}:best"]
    assert r.rc == 0, r.err
    assert "; tracing" in r.err
    if tool in EXPECT:
        assert chosen(r.err) == EXPECT[tool].chooses, r.err


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("tool", TOOLS)
def test_forced_method_used_or_refused(guest, tool, method):
    r = guest[f"{tool}:attach={method}"]
    offered = method in EXPECT[tool].offers if tool in EXPECT else r.rc == 0
    if offered:
        assert r.rc == 0, r.err
        assert method in chosen(r.err).values(), r.err
    else:
        assert r.rc == 4, r.err
        # One line naming the method: "this tool has no M probes", or for
        # a tool not in EXPECT also "cannot attach <probe> with M: <why>".
        why = f"no {method} probes" if tool in EXPECT else method
        assert why in r.err.splitlines()[-1], r.err


@pytest.mark.parametrize("method", ("best",) + EXPECT["tcpconnect"].offers)
def test_tcpconnect_reports_connects(guest, method):
    tool, workload = guest[f"tcpconnect:connects={method}"], guest[f"tcpconnect:connects={method}.workload"]
    assert workload.rc == 0, workload.err
    assert tool.rc == 0, tool.err
    assert "Interrupt: stopping" in tool.err, "stopped by the guest's time limit, not by SIGINT"
    expected = {e["dport"]: e for e in map(json.loads, workload.lines())}
    assert [e["outcome"] for e in expected.values()] == ["established", "established", "refused"]
    pid = next(iter(expected.values()))["pid"]
    events = [e for e in map(json.loads, tool.lines()) if e["pid"] == pid]
    assert sorted(e["dport"] for e in events) == sorted(expected), tool.out
    for e in events:
        want = expected[e["dport"]]
        assert TCPCONNECT_FIELDS <= e.keys()
        assert (e["tid"], e["comm"], e["uid"], e["container"]) == (pid, "tcp_outcomes", 0, "")
        assert (e["af"], e["daddr"], e["saddr"], e["outcome"]) == \
            (want["af"], want["daddr"], want["daddr"], want["outcome"])
        assert 0 < e["latency_ns"] < 10 * 10**9
        # qemu's clock starts from the host's: the guest's wall clock agrees.
        assert abs(e["ts_ns"] - guest.started_ns) < 600 * 10**9
        if want["outcome"] == "established":
            assert e["sport"] == want["sport"]
        else:
            assert e["error"] == "ECONNREFUSED" and e["sport"] > 0
    best = EXPECT["tcpconnect"].chooses["TCP state changes"]
    assert chosen(tool.err)["TCP state changes"] == (best if method == "best" else method)


def test_tcpconnect_table(guest):
    tool, workload = guest["tcpconnect:table"], guest["tcpconnect:table.workload"]
    assert workload.rc == 0 and tool.rc == 0, (workload.err, tool.err)
    expected = [json.loads(l) for l in workload.lines()]
    lines = tool.lines()
    # The header README.md documents, columns aligned under it.
    assert lines[0] == ("    PID COMM             IP SADDR           SPORT DADDR           DPORT "
                        "OUTCOME       LAT(ms)")
    rows = [l.split() for l in lines[1:] if l.split()[0] == str(expected[0]["pid"])]
    assert [(r[1], r[2], r[5], r[6], r[7]) for r in rows] == [
        ("tcp_outcomes", "4" if e["af"] == "ipv4" else "6", e["daddr"], str(e["dport"]), e["outcome"])
        for e in expected]
    for r in rows:
        assert float(r[8]) > 0


@pytest.mark.parametrize("method", ("best",) + EXPECT["probe-paths"].offers)
def test_attach_path_delivers_events(guest, method):
    tool, workload = guest[f"probe-paths:sleeps={method}"], guest[f"probe-paths:sleeps={method}.workload"]
    assert workload.rc == 0 and tool.rc == 0, (workload.err, tool.err)
    assert "Interrupt: stopping" in tool.err, "stopped by the guest's time limit, not by SIGINT"
    pid = json.loads(workload.out)["pid"]
    via = EXPECT["probe-paths"].chooses["clock_nanosleep calls"] if method == "best" else method
    events = [e for e in map(json.loads, tool.lines()) if e["pid"] == pid]
    assert len(events) == SLEEPS, tool.out
    for e in events:
        assert (e["via"], e["request_ns"], e["tid"], e["comm"]) == (via, SLEEP_NS, pid, "nanosleeper")
    assert chosen(tool.err) == {"clock_nanosleep calls": via}


if FRONT:
    def test_doctor_reports_kprobe_and_fentry(guest):
        r = guest["doctor"]
        assert r.rc == 0, r.err
        for feature in ("kprobe", "fentry", "btf"):
            assert re.search(rf"^\s+{feature}\s+yes\b", r.out, re.M), r.out


def traced_run(guest, name):
    """The tool and workload results of trace check `name`, both ended
    well, the tool by the guest's SIGINT."""
    tool, workload = guest[name], guest[f"{name}.workload"]
    assert workload.rc == 0, workload.err
    assert tool.rc == 0, tool.err
    assert "Interrupt: stopping" in tool.err, "stopped by the guest's time limit, not by SIGINT"
    return tool, workload


def ext4_events(tool, m):
    """{file name: [(op, bytes, offset)]} of the workload's files."""
    files = {"/mnt/ext4/seed.bin", f"/mnt/ext4/out-{m}.bin", f"/tmp/tmpfs-{m}.bin"}
    seen = {}
    for e in map(json.loads, tool.lines()):
        if e["file"] in files:
            assert e["fs"] == "ext4" and e["comm"] == "dd" and "error" not in e, e
            assert 0 < e["latency_ns"] < 10 * 10**9
            seen.setdefault(e["file"], []).append((e["op"], e["bytes"], e["offset"]))
    return seen


needs_ext4 = pytest.mark.skipif(not HAVE_MKFS, reason="no mkfs.ext4 (e2fsprogs)")


@needs_ext4
@pytest.mark.parametrize("method", EXT4_METHODS)
def test_fsslower_times_ext4_functions(guest, method):
    """-t ext4 times ext4's own file operations where the kernel reaches
    them: every read, write, open and fsync of the ext4 files, with bytes
    and offsets; nothing of the tmpfs file."""
    assert guest["ext4:mount"].rc == 0, guest["ext4:mount"].err
    tool, _ = traced_run(guest, f"fsslower:ext4={method}")
    assert "timing file operations at the ext4 file operations" in tool.err, tool.err
    entry = "kprobe" if method == "kprobe" else "fentry"
    ret = "kretprobe" if method == "kretprobe" else "fexit"
    assert chosen(tool.err) == {**{f"{f} calls": entry for f in EXT4_FUNCS},
                                **{f"{f} returns": ret for f in EXT4_FUNCS}}, tool.err
    seen = ext4_events(tool, method)
    assert set(seen) == {"/mnt/ext4/seed.bin", f"/mnt/ext4/out-{method}.bin"}, tool.out
    seed = seen["/mnt/ext4/seed.bin"]
    # dd reads until a read returns 0 at the end.
    assert seed == [("open", None, None)] + \
        [("read", 65536, k * 65536) for k in range(SEED_KB // 64)] + \
        [("read", 0, SEED_KB * 1024)], seed
    assert seen[f"/mnt/ext4/out-{method}.bin"] == [("open", None, None)] + \
        [("write", 65536, k * 65536) for k in range(4)] + [("fsync", None, None)]


@pytest.mark.skipif(not XFS_KOS, reason=f"no xfs module: {NO_XFS}")
def test_fsslower_xfs_functions_in_a_module(guest):
    """A file system built as a module: its functions are fentry targets
    through the module's BTF."""
    assert guest["xfs:insmod"].rc == 0, guest["xfs:insmod"].err
    r = guest["fsslower:xfs"]
    assert r.rc == 0, r.err
    assert "timing file operations at the xfs file operations" in r.err, r.err
    assert chosen(r.err) == {**{f"{f} calls": "fentry" for f in XFS_FUNCS},
                             **{f"{f} returns": "fexit" for f in XFS_FUNCS}}, r.err


@needs_ext4
def test_fsslower_ext4_table(guest):
    tool, _ = traced_run(guest, "fsslower:ext4:table")
    lines = tool.lines()
    assert lines[0].split() == ["TIME", "COMM", "PID", "T", "BYTES", "OFF_KB", "LAT(ms)", "FS",
                                "FILENAME"]
    rows = [l.split() for l in lines[1:] if l.endswith("/mnt/ext4/out-table.bin")]
    assert [r[3:6] for r in rows] == [["O", "-", "-"]] + \
        [["W", "65536", str(k * 64)] for k in range(4)] + [["F", "-", "-"]], tool.out
    for r in rows:
        assert r[1] == "dd" and r[7] == "ext4" and float(r[6]) >= 0


def folded(text):
    rows = []
    for line in text.splitlines():
        stack, _, value = line.rpartition(" ")
        assert stack and value.isdigit(), f"not a folded line: {line!r}"
        rows.append((stack.split(";"), int(value)))
    return rows


@pytest.mark.skipif("offcpu" not in TOOLS or "stacks" not in WORKLOADS, reason="not built")
def test_offcpu_sleeping_chain(guest):
    """stacks.c sleeps SLEEPER_N x SLEEPER_MS ms in workload_sleep: that
    time, on that user call chain, with the kernel's sleep under it."""
    assert guest["sleeper"].out.strip() == "ready", guest["sleeper"]
    tool, _ = traced_run(guest, "offcpu:sleeps")
    assert chosen(tool.err) == EXPECT["offcpu"].chooses, tool.err
    rows = folded(tool.out)
    assert rows and all(stack[0] == "stacks" for stack, _ in rows), tool.out
    sleeping = [(stack, us) for stack, us in rows
                if CHAIN + "workload_sleep" in ";".join(stack)]
    total = sum(us for _, us in sleeping)
    want = SLEEPER_N * SLEEPER_MS * 1000
    # A sleep takes at least what it asks; TCG's timers add to it.
    assert want <= total <= 3 * want, tool.out
    stack = max(sleeping, key=lambda r: r[1])[0]
    kernel = [f for f in stack if f.endswith("_[k]")]
    assert kernel and stack[-len(kernel):] == kernel, stack
    assert any(f.startswith(("hrtimer_nanosleep", "do_nanosleep", "schedule")) for f in kernel), stack


@pytest.mark.skipif("profile" not in TOOLS or "stacks" not in WORKLOADS, reason="not built")
def test_profile_spinning_chain(guest):
    """stacks.c spins in workload_spin: nearly all of its samples are on
    that call chain."""
    assert guest["spinner"].out.strip() == "spinning", guest["spinner"]
    tool, _ = traced_run(guest, "profile:spins")
    assert "sampling at 49 Hz with the cpu-clock software event" in tool.err, tool.err
    rows = folded(tool.out)
    # (libc's frame under main has no symbol: Debian strips it.)
    spinning = sum(n for stack, n in rows
                   if stack[0] == "stacks" and CHAIN + "workload_spin" in ";".join(stack))
    total = sum(n for _, n in rows)
    assert spinning >= 10 and spinning >= 0.8 * total, tool.out
    assert guest["spinner:stop"].rc == 0


@pytest.mark.skipif("gclat" not in TOOLS or not HAVE_GO, reason="not built, or no Go")
def test_gclat_counts_go_collections(guest):
    """force_gc collects GC_CYCLES times with runtime.GC(): one event per
    cycle, from the Go runtime's uprobes."""
    assert guest["gc"].out.strip() == "ready", guest["gc"]
    tool, workload = traced_run(guest, "gclat:go")
    pid = int(workload.lines()[-1])
    # Given a pid, it probes that program's runtime only: no exec probe.
    assert f"tracing go GC in /proc/{pid}/exe" in tool.err and chosen(tool.err) == {}, tool.err
    events = [e for e in map(json.loads, tool.lines()) if e["pid"] == pid]
    assert len(events) == GC_CYCLES, tool.out
    for e in events:
        assert (e["runtime"], e["comm"], e["container"]) == ("go", "force_gc", ""), e
        assert e["duration_ns"] >= e["pause_ns"] > 0, e


@pytest.mark.skipif("chanlat" not in TOOLS or "chan_block" not in WORKLOADS, reason="not built")
def test_chanlat_times_blocked_channel_operations(guest):
    """chan_block's sends and selects block CHAN_DELAY_MS each: counted per
    call site from uprobes on the runtime's entries and return
    instructions, timed from park to ready."""
    tool, workload = traced_run(guest, "chanlat:go")
    pid = int(workload.lines()[-1])
    assert f"/proc/{pid}/exe" in tool.err and chosen(tool.err) == {}, tool.err
    rows = [r for r in map(json.loads, tool.lines()) if r["pid"] == pid]
    by_op = {(r["op"], r["site"].split(" ")[0]): r for r in rows}
    for (op, site), n in ((("send", "main.sender"), CHAN_SENDS),
                          (("select", "main.selecter"), CHAN_SELECTS)):
        r = by_op[(op, site)]
        assert r["count"] == r["blocked_count"] == n, rows
        assert r["total_blocked_ns"] >= n * CHAN_DELAY_MS * 950_000, r
        assert r["max_blocked_ns"] >= CHAN_DELAY_MS * 950_000, r
