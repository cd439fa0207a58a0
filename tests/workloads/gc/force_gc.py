"""Runs gc.collect() N times between a "ready" line and a "done" line that
carries what each call returned, each after a line on stdin, so a tracer
can attach first. Every call finds a few reference cycles to free;
automatic collections are off, so the N calls are the only ones."""
import gc
import json
import sys


class Node:
    def __init__(self):
        self.self_ref = self


def main():
    n = int(sys.argv[1])
    gc.disable()
    print("ready", flush=True)
    sys.stdin.readline()
    collected = []
    for i in range(n):
        for _ in range(i + 1):
            Node()
        collected.append(gc.collect())
    print("done " + json.dumps(collected), flush=True)
    sys.stdin.readline()


main()
