"""Connects to each HOST:PORT given (IPv6 in brackets) and prints one JSON
line per attempt: the local port it used and what happened. With --wait it
first reads a line from stdin, so a tracer can be told its PID before it
acts. With --uid it drops to that user first."""
import json
import os
import socket
import sys

args = sys.argv[1:]
if args and args[0] == "--uid":
    os.setuid(int(args[1]))
    args = args[2:]
if args and args[0] == "--wait":
    sys.stdin.readline()
    args = args[1:]

for target in args:
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(30)
    result = {"target": target}
    try:
        s.connect((host, int(port)))
        result["outcome"] = "established"
        result["sport"] = s.getsockname()[1]
    except ConnectionRefusedError:
        result["outcome"] = "refused"
    except (TimeoutError, socket.timeout):
        result["outcome"] = "timeout"
    except OSError as e:
        result["outcome"] = f"error {e.errno}"
    s.close()
    print(json.dumps(result), flush=True)
