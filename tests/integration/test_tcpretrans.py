"""sonde-tcpretrans against real retransmissions: TCP transfers over a lossy
loopback inside a private network namespace (iptables drops a fifth of the
data segments at random), on every attach path this kernel offers. Checks
the connection, the owner (the client's or the server's PID, never the
task that happened to run the timer or softirq), state, kind, and that
--count agrees with the events."""
import contextlib
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from harness import PYTHON, ROOT, Tool, in_netns, netns, run, wait_for

TRANSFER = ROOT / "tests" / "workloads" / "tcp_transfer.py"
FIELDS = {"ts_ns", "pid", "comm", "af", "saddr", "sport", "daddr", "dport", "state", "kind",
          "ca_state", "container"}
COUNT_FIELDS = {"ts_ns", "pid", "comm", "af", "saddr", "sport", "daddr", "dport", "count",
                "tlp_count", "container"}
STATES = {"ESTABLISHED", "SYN_SENT", "FIN_WAIT1", "CLOSE_WAIT", "LAST_ACK", "CLOSING"}
CA_STATES = {"open", "disorder", "cwr", "recovery", "loss"}
SIZE = 200_000  # ~140 segments each way at MTU 1500: losses are certain


def iptables(ns, family, *rule):
    cmd = "ip6tables" if family == "ipv6" else "iptables"
    in_netns(ns, cmd, "-w", *rule, check=True)


@contextlib.contextmanager
def lossy_netns(family="ipv4"):
    """A namespace whose loopback drops 20% of TCP data segments (not the
    small SYN/ACK/FIN ones, so handshakes and teardown stay quick)."""
    with netns() as ns:
        # One segment per packet: lo would otherwise carry 64 KB TSO
        # packets, a handful per transfer, and the dice could spare them all.
        in_netns(ns, "ip", "link", "set", "lo", "mtu", "1500", "gso_max_size", "1500", check=True)
        iptables(ns, family, "-A", "INPUT", "-p", "tcp", "-m", "length", "--length", "200:65535",
                 "-m", "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP")
        yield ns


class Peer:
    """One end of tcp_transfer.py running in the namespace."""

    def __init__(self, ns, *args):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, str(TRANSFER), *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())
        assert self.info["pid"] == self.proc.pid, "ip netns exec runs the workload in place"

    @property
    def pid(self):
        return self.proc.pid

    def line(self, key):
        """Reads the next line, which must carry key."""
        info = json.loads(self.proc.stdout.readline())
        assert key in info, info
        return info[key]

    def tell(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self):
        assert self.line("done") is True
        assert self.proc.wait(120) == 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


QUIET_STATES = {"ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT", "LISTEN"}


def quiesce(ns, family="ipv4"):
    """Stops the loss and waits until no socket is left that could still
    retransmit: nothing unacknowledged, no FIN or SYN outstanding."""
    iptables(ns, family, "-F", "INPUT")

    def settled():
        out = in_netns(ns, "ss", "-Htan", capture_output=True, text=True, check=True).stdout
        rows = [l.split() for l in out.splitlines() if l.strip()]
        # (a listener's Send-Q is its backlog)
        return all(r[0] in QUIET_STATES and (r[2] == "0" or r[0] == "LISTEN") for r in rows)
    wait_for(settled, 60, "connections in the namespace to close")


def mib(ns, table, prefix, name):
    """A counter of the namespace's own TCP MIB (/proc/net is per netns)."""
    lines = [l.split() for l in in_netns(ns, "cat", f"/proc/net/{table}", capture_output=True,
                                         text=True, check=True).stdout.splitlines()
             if l.startswith(prefix)]
    return int(lines[1][lines[0].index(name)])


def transfer(ns, host, *tool_args, server_args=(), client_args=()):
    """Starts the server, the tools (given the server's port), then the
    client; returns (tools, server, client, server_port, client_port)."""
    server = Peer(ns, *server_args, "serve", host, SIZE)
    port = server.info["port"]
    tools = [Tool("tcpretrans", *[a.format(port=port) for a in args]) for args in tool_args]
    client = Peer(ns, *client_args, "connect", host, port, SIZE)
    assert server.line("peer_port") == client.info["sport"]
    return tools, server, client, port, client.info["sport"]


def side(events, sport, dport):
    return [e for e in events if (e["sport"], e["dport"]) == (sport, dport)]


@pytest.mark.parametrize("method,host", [("tp_btf", "127.0.0.1"), ("raw_tp", "127.0.0.1"),
                                         ("tracepoint", "127.0.0.1"), ("tp_btf", "::1")])
def test_events_name_the_owner_of_each_end(method, host):
    family = "ipv6" if ":" in host else "ipv4"
    with lossy_netns(family) as ns:
        started = time.time_ns()
        (tool,), server, client, port, cport = transfer(
            ns, host, ("-o", "json", "-P", "{port}", "--attach", method))
        client.finish()
        server.finish()
        quiesce(ns, family)
        segs = mib(ns, "snmp", "Tcp:", "RetransSegs")
        probes = mib(ns, "netstat", "TcpExt:", "TCPLossProbes")
        assert tool.stop() == 0
    assert f"TCP retransmits: using {method}" in tool.stderr
    assert "owner is unknown" not in tool.stderr
    events = tool.events()
    from_client, from_server = side(events, cport, port), side(events, port, cport)
    assert from_client and from_server, tool.stdout
    assert len(from_client) + len(from_server) == len(events)
    # Every event is a segment the kernel counted as retransmitted, every
    # tlp one a loss probe (the kernel also counts probes of new data).
    assert len(events) <= segs
    assert sum(e["kind"] == "tlp" for e in events) <= probes
    for e in events:
        assert set(e) == FIELDS
        assert (e["af"], e["saddr"], e["daddr"]) == (family, host, host)
        assert e["comm"] == "python3"
        assert e["container"] == ""
        assert e["state"] in STATES
        assert e["ca_state"] in CA_STATES
        assert e["kind"] in ("retrans", "tlp")
        if e["kind"] == "tlp":
            assert e["ca_state"] in ("open", "cwr")
        assert started < e["ts_ns"] < time.time_ns()
    assert {e["pid"] for e in from_client} == {client.pid}
    assert {e["pid"] for e in from_server} == {server.pid}


def test_count_matches_events_and_sorts():
    with lossy_netns() as ns:
        (events_tool, json_counts, table_counts), server, client, port, cport = transfer(
            ns, "127.0.0.1",
            ("-o", "json", "-P", "{port}"),
            ("--count", "-o", "json", "-P", "{port}"),
            ("--count", "-P", "{port}"))
        client.finish()
        server.finish()
        quiesce(ns)
        for tool in (events_tool, json_counts, table_counts):
            assert tool.stop() == 0
    events = events_tool.events()
    rows = json_counts.events()
    assert len(rows) == 2, json_counts.stdout
    for row in rows:
        assert set(row) == COUNT_FIELDS
        mine = side(events, row["sport"], row["dport"])
        assert row["count"] == len(mine) > 0
        assert row["tlp_count"] == sum(e["kind"] == "tlp" for e in mine)
        assert row["pid"] == (client.pid if row["sport"] == cport else server.pid)
        assert (row["af"], row["saddr"], row["daddr"], row["comm"]) == ("ipv4", "127.0.0.1", "127.0.0.1", "python3")
    assert rows[0]["count"] >= rows[1]["count"], "sorted by count"

    lines = table_counts.lines()
    assert lines[0].split() == ["PID", "COMM", "IP", "LADDR:LPORT", "RADDR:RPORT", "RETRANS", "TLP"]
    table = {tuple(l.split()[3:5]): l.split() for l in lines[1:]}
    assert len(table) == 2
    for row in rows:
        cells = table[(f"127.0.0.1:{row['sport']}", f"127.0.0.1:{row['dport']}")]
        assert cells[:3] == [str(row["pid"]), "python3", "4"]
        assert cells[5:] == [str(row["count"]), str(row["tlp_count"])]


@contextlib.contextmanager
def retransmitting_fin():
    """A connection whose client shuts down its sending side while
    everything towards the server is dropped: the FIN is retransmitted on
    each RTO (0.2 s, 0.4 s, 0.8 s ...). The connection is opened before the
    tracers start, and the client sends nothing else. Yields
    (ns, client, port, client_port, start) where start(*tool_args) starts
    a tracer before the drop begins."""
    with netns() as ns:
        server = Peer(ns, "--wait", "serve", "127.0.0.1", 0)
        port = server.info["port"]
        client = Peer(ns, "connect", "127.0.0.1", port, "fin")
        cport = server.line("peer_port")
        tools = []

        def start(*args):
            tools.append(Tool("tcpretrans", "-P", port, *args))
            return tools[-1]
        try:
            yield ns, client, port, cport, start, lambda: (
                iptables(ns, "ipv4", "-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"),
                client.tell())
        finally:
            client.kill()
            server.kill()


def test_owner_found_in_proc_for_a_silent_old_socket():
    """BPF never sees the owner of the connection above in process context
    (no connect, accept or send while tracing), so user space finds it by
    the socket's inode in /proc/PID/fd, scanning once."""
    with retransmitting_fin() as (ns, client, port, cport, start, drop_and_fin):
        tool = start("-o", "json")
        drop_and_fin()
        events = tool.wait_events(lambda e: e["sport"] == cport, count=2)
        # Once the process is gone, the orphaned socket still retransmits
        # its FIN, and has no owner any more.
        client.kill()
        orphaned = tool.wait_events(lambda e: e["pid"] == 0)
        assert tool.stop() == 0
    for e in events[:2]:
        assert (e["pid"], e["comm"], e["state"], e["dport"]) == (client.pid, "python3", "FIN_WAIT1", port)
    assert "looked for socket owners in /proc 1 time" in tool.stderr
    assert (orphaned[0]["comm"], orphaned[0]["sport"], orphaned[0]["state"]) == ("", cport, "FIN_WAIT1")
    unknown = sum(e["pid"] == 0 for e in tool.events())
    assert f"{unknown} retransmission{'s' if unknown > 1 else ''} on sockets whose owner is unknown" in tool.stderr


def test_count_many_connections():
    """Enough connections to grow user space's table of them, each with a
    retransmitted segment: data is dropped until every connection has
    retransmitted at least once."""
    n = 150
    with netns() as ns:
        iptables(ns, "ipv4", "-A", "INPUT", "-p", "tcp", "-m", "length", "--length", "200:65535", "-j", "DROP")
        tools = [Tool("tcpretrans", "-o", "json"), Tool("tcpretrans", "--count", "-o", "json")]
        peer = Peer(ns, "fanout", "127.0.0.1", n, 1000)
        port, sports = peer.info["port"], set(peer.info["sports"])
        wait_for(lambda: {e["sport"] for e in tools[0].events()} >= sports, 60,
                 "a retransmission on every connection")
        quiesce(ns)
        peer.finish()
        for tool in tools:
            assert tool.stop() == 0
    events = [e for e in tools[0].events() if e["dport"] == port]
    rows = [r for r in tools[1].events() if r["dport"] == port]
    assert {r["sport"] for r in rows} == sports
    for r in rows:
        assert r["pid"] == peer.pid
        assert r["count"] == len(side(events, r["sport"], port))
    counts = [r["count"] for r in tools[1].events()]
    assert counts == sorted(counts, reverse=True)


def test_count_every_interval():
    """With -i each summary covers the time since the previous one: spaced
    RTO retransmissions land in separate summaries that add up to the
    number of events."""
    with retransmitting_fin() as (ns, client, port, cport, start, drop_and_fin):
        events_tool = start("-o", "json")
        tool = start("--count", "-i", "100ms", "-o", "json")
        drop_and_fin()
        wait_for(lambda: len(tool.events()) >= 3, 30, "three summaries with a retransmission")
        quiesce(ns)
        assert tool.stop() == 0 and events_tool.stop() == 0
    rows, events = tool.events(), events_tool.events()
    assert len({r["ts_ns"] for r in rows}) == len(rows), "one row per connection per summary"
    for r in rows:
        assert (r["pid"], r["comm"], r["sport"], r["dport"]) == (client.pid, "python3", cport, port)
        assert r["count"] >= 1
    assert sum(r["count"] for r in rows) == len(side(events, cport, port)) == len(events)


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp"])
def test_sockets_opened_before_the_tool(method):
    """The owner of an established connection is learned from its first
    send after the tool started (tcp_sendmsg_locked)."""
    with lossy_netns() as ns:
        server = Peer(ns, "--wait", "serve", "127.0.0.1", SIZE)
        port = server.info["port"]
        client = Peer(ns, "--wait", "connect", "127.0.0.1", port, SIZE)
        cport = server.line("peer_port")
        tool = Tool("tcpretrans", "-o", "json", "-P", port, "--attach", method)
        server.tell()
        client.tell()
        client.finish()
        server.finish()
        quiesce(ns)
        assert tool.stop() == 0
    events = tool.events()
    assert {e["pid"] for e in side(events, cport, port)} == {client.pid}
    assert {e["pid"] for e in side(events, port, cport)} == {server.pid}


def only_server_side(ns, server, *filter_args):
    """A lossy connection to server, traced with a filter that selects the
    server alone: only its end is reported, although retransmissions run
    in softirq."""
    port = server.info["port"]
    tool = Tool("tcpretrans", "-o", "json", "-P", port, *filter_args)
    client = Peer(ns, "connect", "127.0.0.1", port, SIZE)
    server.line("peer_port")
    client.finish()
    server.finish()
    quiesce(ns)
    assert tool.stop() == 0
    events = tool.events()
    assert events, tool.stderr
    assert {(e["pid"], e["sport"]) for e in events} == {(server.pid, port)}


def test_pid_filter_applies_to_the_owner():
    with lossy_netns() as ns:
        server = Peer(ns, "serve", "127.0.0.1", SIZE)
        only_server_side(ns, server, "-p", server.pid)


@contextlib.contextmanager
def cgroup_v2():
    """A fresh cgroup on the v2 hierarchy, removed afterwards."""
    mounts = [l.split() for l in open("/proc/self/mounts")]
    roots = [m[1] for m in mounts if m[2] == "cgroup2"]
    if not roots:
        pytest.skip("no cgroup v2 hierarchy mounted")
    path = Path(roots[0]) / f"sonde-test-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        yield path
    finally:
        for pid in (path / "cgroup.procs").read_text().split():
            (Path(roots[0]) / "cgroup.procs").write_text(pid)
        path.rmdir()


def test_cgroup_filter_applies_to_the_owner():
    """The server joins a cgroup before it accepts; -c selects it."""
    with lossy_netns() as ns, cgroup_v2() as cg:
        server = Peer(ns, "serve", "127.0.0.1", SIZE)
        (cg / "cgroup.procs").write_text(str(server.pid))
        only_server_side(ns, server, "-c", cg)


def test_table_and_hostile_comm():
    """The owner's name is the client's own (set before connecting), escaped
    in JSON and neutralised in the table."""
    name = "ev\x1bil\tname"
    with lossy_netns() as ns:
        (table, js), server, client, port, cport = transfer(
            ns, "127.0.0.1", ("-P", "{port}"), ("-o", "json", "-P", "{port}"),
            client_args=("--comm", name))
        client.finish()
        server.finish()
        quiesce(ns)
        assert table.stop() == 0 and js.stop() == 0
    assert {e["comm"] for e in side(js.events(), cport, port)} == {name}
    assert '"ev\\u001bil\\tname"' in js.stdout
    lines = table.lines()
    assert lines[0].split() == ["TIME", "PID", "COMM", "IP", "LADDR:LPORT", "RADDR:RPORT", "STATE", "CA", "KIND"]
    assert "\x1b" not in table.stdout and "\t" not in table.stdout
    mine = [c for c in map(str.split, lines[1:]) if c[4] == f"127.0.0.1:{cport}"]
    assert mine, table.stdout
    for cells in mine:
        assert cells[1] == str(client.pid) and cells[2] == "ev\\x1bil\\x09name" and cells[3] == "4"
        assert cells[4:6] == [f"127.0.0.1:{cport}", f"127.0.0.1:{port}"]
        assert cells[6] in STATES and cells[7] in CA_STATES and cells[8] in ("retrans", "tlp")


def test_usage_errors_and_unsupported_method():
    for args in (["-i", "1"], ["-P", "0"], ["-P", "ssh"], ["-o", "folded"], ["--count", "-o", "pprof"],
                 ["-p", "999999999"]):
        r = run("tcpretrans", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stdout == ""
    r = run("tcpretrans", "--attach", "kprobe")
    assert r.returncode == 4 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    help_text = run("tcpretrans", "--help").stdout
    assert "Usage: sonde-tcpretrans" in help_text and "--count" in help_text


def test_duration_ends_cleanly():
    tool = Tool("tcpretrans", "--count", "-d", "1s")
    assert tool.wait_exit(timeout=30) == 0
    assert tool.lines()[0].split()[0] == "PID"
