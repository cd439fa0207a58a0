"""Moves a known amount of data over one TCP connection, both ways, so that
a lossy link makes both ends retransmit. Each role prints JSON lines: first
who and where it is, then {"done": true} when finished.

  tcp_transfer.py serve HOST BYTES          listen on HOST:<free port>, accept
                                            one connection, read BYTES, send
                                            BYTES back
  tcp_transfer.py connect HOST PORT BYTES   send BYTES, read BYTES
  tcp_transfer.py connect HOST PORT fin     send nothing: after a line on
                                            stdin, shut down the sending side
                                            and hold the socket until the
                                            next line
  tcp_transfer.py fanout HOST N BYTES       open N connections to itself,
                                            send BYTES on each, print their
                                            local ports, read everything

With --wait before the role, each side reads a line from stdin after the
connection is up and before it sends anything, so a tracer can start on
an already established connection. With --comm NAME (first) the process
renames itself (the kernel's comm) before it opens its socket."""
import ctypes
import json
import os
import socket
import sys

CHUNK = 16384


def say(**fields):
    print(json.dumps({"pid": os.getpid(), **fields}), flush=True)


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def receive(conn, n):
    got = 0
    while got < n:
        data = conn.recv(min(CHUNK, n - got))
        if not data:
            raise SystemExit(f"peer closed after {got} of {n} bytes")
        got += len(data)


def serve(host, size, wait):
    srv = socket.socket(family_of(host), socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    say(port=srv.getsockname()[1])
    conn, peer = srv.accept()
    conn.settimeout(120)
    say(peer_port=peer[1])
    if wait:
        sys.stdin.readline()
    receive(conn, size)
    conn.sendall(b"s" * size)
    receive(conn, 1)  # the client has everything: it says so, then closes
    conn.close()
    say(done=True)


def connect(host, port, what, wait):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect((host, port))
    say(sport=s.getsockname()[1])
    if wait or what == "fin":
        sys.stdin.readline()
    if what == "fin":
        s.shutdown(socket.SHUT_WR)
        sys.stdin.readline()
    else:
        size = int(what)
        s.sendall(b"c" * size)
        receive(s, size)
        s.sendall(b"k")
    s.close()
    say(done=True)


def fanout(host, n, size):
    srv = socket.socket(family_of(host), socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(n)
    clients, servers = [], []
    for _ in range(n):
        c = socket.socket(family_of(host), socket.SOCK_STREAM)
        c.connect(srv.getsockname()[:2])
        clients.append(c)
        servers.append(srv.accept()[0])
    say(port=srv.getsockname()[1], sports=[c.getsockname()[1] for c in clients])
    for c in clients:
        c.sendall(b"f" * size)
    for s in servers:
        s.settimeout(120)
        receive(s, size)
    for s in clients + servers:
        s.close()
    say(done=True)


args = sys.argv[1:]
if args[:1] == ["--comm"]:
    PR_SET_NAME = 15
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, args[1].encode(), 0, 0, 0)
    args = args[2:]
wait = bool(args) and args[0] == "--wait"
if wait:
    args = args[1:]
if args[:1] == ["serve"] and len(args) == 3:
    serve(args[1], int(args[2]), wait)
elif args[:1] == ["connect"] and len(args) == 4:
    connect(args[1], int(args[2]), args[3], wait)
elif args[:1] == ["fanout"] and len(args) == 4:
    fanout(args[1], int(args[2]), int(args[3]))
else:
    raise SystemExit(__doc__)
