"""sonde-dns against a DNS responder the test starts (tests/workloads/
dns_responder.py): queries from dig, from glibc's getaddrinfo() and from
Go's own resolver, in private network namespaces on port 53 and on
loopback with --port; answers, CNAMEs, NXDOMAIN, AAAA, a delayed answer,
a timeout, the sending process and the namespace of each query."""
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from harness import PYTHON, ROOT, Tool, in_netns, netns, run, wait_for, workload_path

RESPONDER = ROOT / "tests" / "workloads" / "dns_responder.py"
GO_SOURCE = ROOT / "tests" / "workloads" / "go_resolve" / "main.go"
FIELDS = {"ts_ns", "pid", "tid", "comm", "server", "server_port", "proto", "id", "qname",
          "qtype", "rcode", "answers", "latency_ns", "netns", "container"}
DELAY = 0.2
SLACK_NS = 3 * 10**9	# a loaded 2-core machine may be slow to answer


@contextlib.contextmanager
def responder(*addrs, port=0, ns=None):
    """Runs the responder; yields its port (0: one it finds free)."""
    cmd = [PYTHON, str(RESPONDER), "--port", str(port), "--delay", str(DELAY), *addrs]
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        word, _, bound = p.stdout.readline().strip().partition(" ")
        assert word == "ready", "the DNS responder did not start"
        yield int(bound)
    finally:
        p.kill()
        p.wait()


@contextlib.contextmanager
def dns_netns():
    """A namespace whose resolv.conf (bind-mounted by `ip netns exec`)
    points at the responder on 127.0.0.1:53 inside it."""
    with netns() as ns:
        conf = Path("/etc/netns") / ns
        conf.mkdir(parents=True)
        try:
            (conf / "resolv.conf").write_text(
                "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
            with responder("127.0.0.1", "::1", port=53, ns=ns):
                yield ns
        finally:
            shutil.rmtree(conf)


def netns_inode(ns):
    link = in_netns(ns, "readlink", "/proc/self/ns/net", capture_output=True, text=True,
                    check=True).stdout.strip()
    return int(link.removeprefix("net:[").removesuffix("]"))


def started(cmd, ns=None, env=None):
    """Runs a client to completion; returns (pid, stdout)."""
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    out, _ = p.communicate(timeout=60)
    return p.pid, out


def dig(server, name, qtype="A", port=53, ns=None, *extra):
    # `ip netns exec` execs dig in its own process: the PID stays.
    return started(["dig", f"@{server}", "-p", port, name, qtype, "+tries=1", "+time=5",
                    *extra], ns=ns)


@pytest.fixture(scope="module")
def go_resolve():
    """The Go workload, built now from the standard library only."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GOCACHE=f"{tmp}/cache", GOPATH=f"{tmp}/gopath",
                   GOFLAGS="-mod=mod", GOPROXY="off", CGO_ENABLED="0")
        subprocess.run(["go", "build", "-o", f"{tmp}/go_resolve", str(GO_SOURCE)],
                       cwd=tmp, env=env, check=True, timeout=600)
        yield f"{tmp}/go_resolve"


def by_name(events, pid, qname, qtype="A"):
    found = [e for e in events if e["pid"] == pid and e["qname"] == qname and e["qtype"] == qtype]
    assert len(found) == 1, (pid, qname, qtype, events)
    return found[0]


@pytest.mark.parametrize("method", ["tp_btf", "raw_tp", "tracepoint"])
def test_dig_answers_nxdomain_aaaa_delay_in_netns(method):
    with dns_netns() as ns:
        inode = netns_inode(ns)
        tool = Tool("dns", "-o", "json", "--attach", method)
        t0 = time.time_ns()
        www, out = dig("127.0.0.1", "www.sonde.test", ns=ns)
        assert "192.0.2.10" in out
        v6, out = dig("::1", "www.sonde.test", "AAAA", 53, ns)
        assert "2001:db8::10" in out
        cname, _ = dig("127.0.0.1", "cname.sonde.test", ns=ns)
        nx, out = dig("127.0.0.1", "nope.sonde.test", ns=ns)
        assert "NXDOMAIN" in out
        slow, out = dig("127.0.0.1", "slow.sonde.test", ns=ns)
        assert "192.0.2.20" in out
        pids = {www, v6, cname, nx, slow}
        events = tool.wait_events(lambda e: e["pid"] in pids, count=5)
        assert tool.stop() == 0
    assert f"using {method}" in tool.stderr

    for e in events:
        assert FIELDS == e.keys()
        assert e["netns"] == inode
        assert e["proto"] == "udp" and e["server_port"] == 53
        assert e["container"] == ""
        assert e["comm"].startswith("isc-net")	# dig's network thread
        assert e["tid"] != 0
        assert t0 - 10**9 < e["ts_ns"] < time.time_ns()
        assert 0 <= e["id"] <= 65535
    e = by_name(events, www, "www.sonde.test")
    assert (e["server"], e["rcode"], e["answers"]) == ("127.0.0.1", "NOERROR", ["192.0.2.10", "192.0.2.11"])
    e = by_name(events, v6, "www.sonde.test", "AAAA")
    assert (e["server"], e["rcode"], e["answers"]) == ("::1", "NOERROR", ["2001:db8::10"])
    e = by_name(events, cname, "cname.sonde.test")
    assert e["answers"] == ["CNAME www.sonde.test", "192.0.2.10", "192.0.2.11"]
    e = by_name(events, nx, "nope.sonde.test")
    assert (e["rcode"], e["answers"]) == ("NXDOMAIN", [])
    e = by_name(events, slow, "slow.sonde.test")
    assert e["answers"] == ["192.0.2.20"]
    assert DELAY * 1e9 <= e["latency_ns"] < DELAY * 1e9 + SLACK_NS
    assert by_name(events, www, "www.sonde.test")["latency_ns"] < DELAY * 1e9


def test_dns_over_tcp():
    """With tp_btf the kernel copies TCP payload out of page fragments; the
    other methods count such packets and say so."""
    with dns_netns() as ns:
        inode = netns_inode(ns)
        tool = Tool("dns", "-o", "json")
        v4, out = dig("127.0.0.1", "www.sonde.test", "A", 53, ns, "+tcp")
        assert "192.0.2.10" in out
        v6, out = dig("::1", "slow.sonde.test", "AAAA", 53, ns, "+tcp")
        assert "2001:db8::20" in out
        events = tool.wait_events(lambda e: e["pid"] in (v4, v6), count=2)
        assert tool.stop() == 0
        e = by_name(events, v4, "www.sonde.test")
        assert (e["proto"], e["server"], e["rcode"]) == ("tcp", "127.0.0.1", "NOERROR")
        assert e["answers"] == ["192.0.2.10", "192.0.2.11"] and e["netns"] == inode
        e = by_name(events, v6, "slow.sonde.test", "AAAA")
        assert (e["proto"], e["server"], e["answers"]) == ("tcp", "::1", ["2001:db8::20"])
        assert DELAY * 1e9 <= e["latency_ns"] < DELAY * 1e9 + SLACK_NS

        # Counted in the BPF side's own slots of sonde_stats: lost events,
        # which --strict turns into exit status 1.
        tool = Tool("dns", "-o", "json", "--attach", "raw_tp", "--strict")
        dig("127.0.0.1", "www.sonde.test", "A", 53, ns, "+tcp")
        assert tool.stop() == 1
        assert "DNS packets not decoded: payload in page fragments" in tool.stderr
        assert tool.events() == []


def test_getaddrinfo_and_go_resolver(go_resolve):
    with dns_netns() as ns:
        inode = netns_inode(ns)
        tool = Tool("dns", "-o", "json")
        c_pid, out = started([workload_path("resolve"), "www.sonde.test"], ns=ns)
        assert "192.0.2.10" in out and "2001:db8::10" in out
        go_env = dict(os.environ, GODEBUG="netdns=go+1")
        go_pid, out = started([go_resolve, "slow.sonde.test"], ns=ns, env=go_env)
        assert "192.0.2.20" in out
        nx_pid, _ = started([workload_path("resolve"), "nope.sonde.test", "inet"], ns=ns)
        events = tool.wait_events(lambda e: e["pid"] in (c_pid, go_pid, nx_pid), count=5)
        assert tool.stop() == 0

    # glibc asks for A and AAAA at once (AF_UNSPEC), from the caller.
    a = by_name(events, c_pid, "www.sonde.test", "A")
    aaaa = by_name(events, c_pid, "www.sonde.test", "AAAA")
    assert a["comm"] == "resolve" and a["tid"] == c_pid
    assert a["answers"] == ["192.0.2.10", "192.0.2.11"] and aaaa["answers"] == ["2001:db8::10"]
    # Go's resolver sends from whichever runtime thread runs the goroutine.
    a = by_name(events, go_pid, "slow.sonde.test", "A")
    aaaa = by_name(events, go_pid, "slow.sonde.test", "AAAA")
    assert a["comm"] == "go_resolve" and a["answers"] == ["192.0.2.20"]
    assert aaaa["answers"] == ["2001:db8::20"]
    for e in (a, aaaa):
        assert DELAY * 1e9 <= e["latency_ns"] < DELAY * 1e9 + SLACK_NS
    e = by_name(events, nx_pid, "nope.sonde.test", "A")
    assert e["rcode"] == "NXDOMAIN"
    assert all(e["netns"] == inode for e in events)


def query_bytes(qid, name, qtype=1):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def test_timeout_reported_after_deadline_and_at_exit():
    with dns_netns() as ns:
        tool = Tool("dns", "-o", "json", "--timeout", "1s")
        sent = time.monotonic()
        pid, out = dig("127.0.0.1", "silent.sonde.test", ns=ns)
        assert "timed out" in out
        e = tool.wait_events(lambda e: e["pid"] == pid)[0]
        # Reported while tracing, not only at exit.
        assert tool.proc.poll() is None
        assert time.monotonic() - sent >= 1
        assert tool.stop() == 0
    assert (e["qname"], e["rcode"], e["answers"]) == ("silent.sonde.test", "TIMEOUT", [])
    assert 10**9 <= e["latency_ns"] < 10**9 + SLACK_NS

    # A query still waiting when tracing ends is reported then. This test
    # sends it, then a query that is answered: once that answer is shown,
    # the earlier ones are known to the tool.
    with responder("127.0.0.1") as port:
        tool = Tool("dns", "-o", "json", "--port", port, "--timeout", "60s")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", port))
        # Sent twice, as a resolver retrying would: reported once.
        s.send(query_bytes(4242, "silent.sonde.test"))
        s.send(query_bytes(4242, "silent.sonde.test"))
        s.send(query_bytes(4243, "www.sonde.test"))
        assert s.recv(512)[:2] == struct.pack("!H", 4243)
        tool.wait_events(lambda e: e["id"] == 4243)
        assert tool.stop() == 0
        s.close()
    e = [e for e in tool.events() if e["id"] == 4242]
    assert [(x["pid"], x["rcode"]) for x in e] == [(os.getpid(), "TIMEOUT")]
    assert e[0]["latency_ns"] < 60 * 10**9


def test_pid_filter_and_port_option_on_loopback():
    with responder("127.0.0.1") as port:
        first = subprocess.Popen(["sleep", "60"])	# a live PID that asks nothing
        try:
            tool = Tool("dns", "-o", "json", "--port", port, "-p", first.pid)
            dig("127.0.0.1", "www.sonde.test", "A", port)
            assert tool.stop() == 0
            assert tool.events() == []
        finally:
            first.kill()
            first.wait()
        tool = Tool("dns", "-o", "json", "--port", port)
        pid, _ = dig("127.0.0.1", "www.sonde.test", "A", port)
        e = tool.wait_events(lambda e: e["pid"] == pid)[0]
        assert tool.stop() == 0
    assert (e["server"], e["server_port"], e["answers"]) == ("127.0.0.1", port, ["192.0.2.10", "192.0.2.11"])
    assert e["netns"] == os.stat("/proc/self/ns/net").st_ino


def test_veth_between_container_namespaces():
    """A client in one namespace asks a server in another over a veth pair,
    as between two containers: the query is attributed to the client (it is
    sent in its context) and reported with the client's namespace, once.
    Both ends are namespaces the test made; nothing is configured in the
    host's own namespace."""
    server_if, client_if = f"sds{uuid.uuid4().hex[:6]}", f"sdc{uuid.uuid4().hex[:6]}"
    with netns() as server_ns, netns() as client_ns:
        in_netns(server_ns, "ip", "link", "add", server_if, "type", "veth", "peer", "name",
                 client_if, "netns", client_ns, check=True)
        in_netns(server_ns, "ip", "addr", "add", "10.253.0.1/30", "dev", server_if, check=True)
        in_netns(server_ns, "ip", "link", "set", server_if, "up", check=True)
        in_netns(client_ns, "ip", "addr", "add", "10.253.0.2/30", "dev", client_if, check=True)
        in_netns(client_ns, "ip", "link", "set", client_if, "up", check=True)
        with responder("10.253.0.1", ns=server_ns) as port:
            tool = Tool("dns", "-o", "json", "--port", port)
            pid, out = dig("10.253.0.1", "www.sonde.test", "A", port, client_ns)
            assert "192.0.2.10" in out
            tool.wait_events(lambda e: e["pid"] == pid)
            assert tool.stop() == 0
        inode = netns_inode(client_ns)
    events = [e for e in tool.events() if e["qname"] == "www.sonde.test"]
    assert len(events) == 1, events
    assert events[0]["pid"] == pid and events[0]["netns"] == inode
    assert events[0]["server"] == "10.253.0.1" and events[0]["rcode"] == "NOERROR"


def test_table_min_latency_and_hostile_names():
    with responder("127.0.0.1") as port:
        tool = Tool("dns", "--port", port)
        # A name whose label holds an ESC byte and a newline.
        hostile, _ = dig("127.0.0.1", "\\027[31mred\\010.sonde.test", "A", port)
        slow, _ = dig("127.0.0.1", "slow.sonde.test", "A", port)
        wait_for(lambda: len(tool.lines()) >= 3, what="two table rows")
        assert tool.stop() == 0
        header = tool.lines()[0].split()
        assert header == ["TIME", "PID", "COMM", "SERVER", "PROTO", "ID", "QTYPE", "QNAME",
                          "RCODE", "LAT(ms)", "ANSWERS"]
        rows = {r.split()[1]: r.split() for r in tool.lines()[1:]}
        assert "\x1b" not in tool.stdout
        row = rows[str(hostile)]
        assert row[7] == "\\027[31mred\\010.sonde.test" and row[8] == "NXDOMAIN"
        row = rows[str(slow)]
        assert row[3] == f"127.0.0.1:{port}" and row[4] == "udp" and row[6] == "A"
        assert row[7] == "slow.sonde.test" and row[8] == "NOERROR"
        assert float(row[9]) >= DELAY * 1000 and row[10] == "192.0.2.20"

        tool = Tool("dns", "-o", "json", "--port", port, "--min-latency", "150ms")
        fast, _ = dig("127.0.0.1", "www.sonde.test", "A", port)
        slow, _ = dig("127.0.0.1", "slow.sonde.test", "A", port)
        tool.wait_events(lambda e: e["pid"] == slow)
        assert tool.stop() == 0
    assert [e["pid"] for e in tool.events()] == [slow], "the fast answer is below --min-latency"


def test_malformed_packets_counted_not_fatal():
    with responder("127.0.0.1") as port:
        tool = Tool("dns", "-o", "json", "--port", port)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Too short; a pointer loop in the question; an overlong label.
        for junk in (b"\x01\x02\x03", b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c",
                     b"\x00\x02\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x50abc"):
            s.sendto(junk, ("127.0.0.1", port))
        s.close()
        pid, _ = dig("127.0.0.1", "www.sonde.test", "A", port)
        tool.wait_events(lambda e: e["pid"] == pid)
        assert tool.stop() == 0
    assert "3 malformed DNS packets ignored" in tool.stderr


def test_usage_errors_and_unsupported_method():
    assert run("dns", "--port", "0").returncode == 2
    assert run("dns", "--port", "dns").returncode == 2
    assert run("dns", "--timeout", "0").returncode == 2
    assert run("dns", "--min-latency", "fast").returncode == 2
    assert run("dns", "-o", "folded").returncode == 2
    r = run("dns", "--attach", "kprobe")
    assert r.returncode == 4
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
