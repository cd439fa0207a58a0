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
- `sonde doctor`, where the front command is built, reports kprobes and fentry.

A new tool needs no change here to be run in the guest; an entry in EXPECT
makes the guest assert which method it chooses and which it offers."""
import json
import re
import sys
from dataclasses import dataclass, field

import pytest

from harness import BUILD, ROOT

sys.path.insert(0, str(ROOT / "tests" / "kernels"))
import vm  # noqa: E402


@dataclass(frozen=True)
class Expect:
    chooses: dict		# probe name (as -v prints it) -> method on 6.1
    offers: tuple		# every method --attach can force
    args: tuple = field(default=())	# what the tool needs to run at all


# The methods each tool must choose and offer on Debian's 6.1 kernel.
EXPECT = {
    "tcpconnect": Expect(
        chooses={"TCP state changes": "tp_btf", "TCP resets received": "tp_btf",
                 "TCP retransmits": "tp_btf", "socket errors": "tp_btf"},
        offers=("tp_btf", "raw_tp", "tracepoint")),
    "probe-paths": Expect(chooses={"clock_nanosleep calls": "fentry"},
                          offers=("fentry", "kprobe", "tracepoint")),
    # oom_kill_process gives the victim and the real constraint.
    "oomkill": Expect(chooses={"OOM kills": "fentry"},
                      offers=("fentry", "kprobe", "tp_btf", "raw_tp", "tracepoint")),
    # 6.1 has no tcp:tcp_sendmsg_locked: the optional send hook is skipped.
    "tcpretrans": Expect(
        chooses={"TCP retransmits": "tp_btf", "TCP state changes": "tp_btf",
                 "accept4() returns": "tracepoint", "accept() returns": "tracepoint"},
        offers=("tp_btf", "raw_tp", "tracepoint")),
    "dns": Expect(
        chooses={"packets sent": "tp_btf", "packets received": "tp_btf",
                 "TCP connects": "tp_btf"},
        offers=("tp_btf", "raw_tp", "tracepoint")),
}
METHODS = ("fentry", "fexit", "kprobe", "kretprobe", "tp_btf", "raw_tp", "tracepoint")

# Without qemu or a kernel to boot, the whole module is skipped in one line.
try:
    vm.check_host()
    KERNEL = vm.kernel()
except vm.Unavailable as e:
    pytest.skip(f"no 6.1 guest: {e}", allow_module_level=True)

PROGRAMS = vm.programs(BUILD) if (BUILD / "tools").is_dir() else []
TOOLS = sorted(p.name[len("sonde-"):] for p in PROGRAMS if p.name.startswith("sonde-"))
FRONT = any(p.name == "sonde" for p in PROGRAMS)
TCPCONNECT_FIELDS = {"ts_ns", "pid", "tid", "comm", "uid", "af", "saddr", "sport", "daddr",
                     "dport", "outcome", "latency_ns", "container"}
SLEEP_NS = 1234567	# distinctive: no other sleep in the guest asks for it
SLEEPS = 3


def with_method(method):
    return ["--attach", method] if method != "best" else []


def plan():
    p = vm.Plan()
    p.run("uname", "uname", "-r")
    p.run("features", "sonde-probe-paths", "-v", "-d", "200ms")
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
    return p


@pytest.fixture(scope="module")
def guest():
    results = vm.boot(KERNEL, plan(), PROGRAMS)
    if not results.complete:
        # Under TCG the guest's clocks follow the host's CPU: a host busy
        # elsewhere starves it into RCU stalls. A tool that really hangs
        # the guest hangs it again, and fails below.
        print(f"the guest did not finish; booting once more:\n{results.console_tail()}")
        results = vm.boot(KERNEL, plan(), PROGRAMS)
    assert results.complete, (f"the guest did not finish its checks in {results.seconds:.0f} s; "
                              f"console:\n{results.console_tail()}")
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
