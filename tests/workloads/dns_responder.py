"""A DNS server with known behaviour, for sonde-dns's tests.

Answers over UDP and TCP on the given addresses and port:
  *.sonde.test names listed in RECORDS  A / AAAA with fixed addresses
  cname.sonde.test                      CNAME www.sonde.test, then its A
  slow.sonde.test                       like www, after --delay seconds
  silent.sonde.test                     never answered (a timeout)
  anything else                         NXDOMAIN
Prints "ready PORT" once every socket is bound, then serves until killed.
With --port 0 it picks a port free for both UDP and TCP on every address
itself: a port chosen by the caller and bound later can be taken in
between by any connect on a busy machine.
Messages are encoded by hand (RFC 1035) so the test depends on nothing
outside the standard library."""
import argparse
import socket
import struct
import sys
import threading
import time

RECORDS = {
    "www.sonde.test": {1: ["192.0.2.10", "192.0.2.11"], 28: ["2001:db8::10"]},
    "slow.sonde.test": {1: ["192.0.2.20"], 28: ["2001:db8::20"]},
}
CNAMES = {"cname.sonde.test": "www.sonde.test"}
SILENT = "silent.sonde.test"


def read_question(msg):
    """(id, flags, qname, qtype, end offset of the question)."""
    qid, flags, qd = struct.unpack_from("!HHH", msg)
    if qd != 1:
        raise ValueError("one question expected")
    labels, off = [], 12
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("latin-1"))
        off += 1 + n
    qtype, _ = struct.unpack_from("!HH", msg, off + 1)
    return qid, flags, ".".join(labels), qtype, off + 5


def encode_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def rr(name, rtype, rdata):
    return encode_name(name) + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


def answer(msg):
    """The response to a query, or None to stay silent."""
    qid, flags, qname, qtype, qend = read_question(msg)
    lname = qname.lower()
    if lname == SILENT:
        return None
    records, rcode = [], 0
    target = CNAMES.get(lname)
    if target:
        records.append(rr(qname, 5, encode_name(target)))
        lname = target
    if lname in RECORDS:
        family = socket.AF_INET if qtype == 1 else socket.AF_INET6
        for addr in RECORDS[lname].get(qtype, []):
            records.append(rr(lname, qtype, socket.inet_pton(family, addr)))
    elif not target:
        rcode = 3
    rd = flags & 0x0100
    header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1,
                         len(records), 0, 0)
    return header + msg[12:qend] + b"".join(records)


def delay_for(msg, delay):
    try:
        return delay if read_question(msg)[2].lower() == "slow.sonde.test" else 0
    except (ValueError, IndexError, struct.error):
        return 0


def respond(msg, delay):
    try:
        reply = answer(msg)
    except (ValueError, IndexError, struct.error):
        return None
    if reply is not None and delay_for(msg, delay):
        time.sleep(delay)
    return reply


def serve_udp(sock, delay):
    while True:
        msg, peer = sock.recvfrom(4096)
        # Each query in its own thread: a slow answer holds up no other.
        threading.Thread(target=lambda m=msg, p=peer: (
            lambda r: r is not None and sock.sendto(r, p))(respond(m, delay)),
            daemon=True).start()


def serve_tcp_client(conn, delay):
    with conn:
        while True:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            msg = conn.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
            reply = respond(msg, delay)
            if reply is not None:
                conn.sendall(struct.pack("!H", len(reply)) + reply)


def serve_tcp(sock, delay):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_client, args=(conn, delay), daemon=True).start()


def bind_all(addrs, port, delay):
    """Binds UDP and TCP on every address at one port (0: the kernel's
    choice for the first socket); returns (port, serving threads)."""
    socks, threads = [], []
    try:
        for addr in addrs:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            udp = socket.socket(family, socket.SOCK_DGRAM)
            socks.append(udp)
            udp.bind((addr, port))
            port = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            socks.append(tcp)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((addr, port))
            tcp.listen(16)
            threads += [threading.Thread(target=serve_udp, args=(udp, delay), daemon=True),
                        threading.Thread(target=serve_tcp, args=(tcp, delay), daemon=True)]
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return port, threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("addrs", nargs="+")
    args = ap.parse_args()
    for _ in range(100):
        try:
            port, threads = bind_all(args.addrs, args.port, args.delay)
            break
        except OSError:
            if args.port:
                raise
    else:
        sys.exit("dns_responder: no port free for UDP and TCP on all addresses")
    for t in threads:
        t.start()
    print(f"ready {port}", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    sys.exit(main())
