#!/usr/bin/python3
"""Operation storms of fixed size for bench/run's events section, each the
workload one sonde tool reports an event per operation of.

    storm.py connect N    loopback TCP connects (sonde-tcpconnect)
    storm.py write N DIR  1-byte writes to a file in DIR (sonde-fsslower -m 0)
    storm.py dns N        UDP DNS queries to a responder in this process,
                          each waiting for its answer (sonde-dns)

Prints "ready PID MARKER" (MARKER: the port or file name the events carry),
then waits for a line on stdin: "go" runs as fast as it can, "go RATE"
paces the operations at RATE per second. Prints the seconds the N
operations took."""
import os
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "workloads"))
import dns_responder  # noqa: E402  (its answer() encodes the replies)


def paced(n, rate, op):
    start = time.monotonic()
    for i in range(n):
        if rate:
            ahead = start + i / rate - time.monotonic()
            if ahead > 0.001:
                time.sleep(ahead)
        op(i)
    return time.monotonic() - start


def connect_storm(n):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    port = srv.getsockname()[1]

    def accept_all():
        for _ in range(n):
            srv.accept()[0].close()
    threading.Thread(target=accept_all, daemon=True).start()

    def connect(_):
        socket.create_connection(("127.0.0.1", port)).close()
    return str(port), connect


def write_storm(n, directory):
    path = os.path.join(directory, f"sonde-bench-{os.getpid()}.dat")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    def write(_):
        os.write(fd, b"x")
    return os.path.basename(path), write


def dns_storm(n):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        while True:
            msg, peer = server.recvfrom(4096)
            server.sendto(dns_responder.answer(msg), peer)
    threading.Thread(target=serve, daemon=True).start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(("127.0.0.1", port))

    def query(i):
        name = dns_responder.encode_name(f"q{i}.bench.sonde.test")
        client.send(bytes([i >> 8 & 255, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]) + name + b"\0\1\0\1")
        client.recv(4096)
    return str(port), query


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    if kind == "connect":
        marker, op = connect_storm(n)
    elif kind == "write":
        marker, op = write_storm(n, sys.argv[3])
    elif kind == "dns":
        marker, op = dns_storm(n)
    else:
        sys.exit(f"storm.py: unknown storm {kind}")
    print("ready", os.getpid(), marker, flush=True)
    words = sys.stdin.readline().split()
    rate = float(words[1]) if len(words) > 1 else None
    print(f"{paced(n, rate, op):.6f}", flush=True)


if __name__ == "__main__":
    main()
