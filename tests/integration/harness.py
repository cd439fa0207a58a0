"""Helpers for integration tests: run a sonde tool, wait until it has
attached (it says so on stderr with -v), drive a workload, stop it and read
what it printed. Nothing here sleeps a fixed time to "let things settle":
every wait is for a condition, with a generous timeout for slow machines."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SONDE_BUILD", ROOT / "build"))
# Debian's interpreter: the one with USDT probes, whatever PATH says.
PYTHON = "/usr/bin/python3"


def tool_path(name):
    return BUILD / "tools" / f"sonde-{name}"


def workload_path(name):
    return BUILD / "tests" / "workloads" / name


def go_build(src, out, flags=()):
    """Builds the Go program src into out with Debian's Go: offline, static,
    caches in out's directory. Skips the test when there is no Go."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain (golang-go) installed")
    d = Path(out).parent
    env = dict(os.environ, HOME=str(d), GOCACHE=str(d / "cache"), GOPATH=str(d / "gopath"),
               GO111MODULE="off", GOTOOLCHAIN="local", CGO_ENABLED="0", GOFLAGS="")
    subprocess.run([go, "build", *flags, "-o", str(out), str(src)], env=env, check=True,
                   timeout=600, cwd=d)
    return Path(out)


def marker_line(source, marker):
    """The number of the line of source ending in the comment LINE:marker."""
    for number, text in enumerate(Path(source).read_text().splitlines(), 1):
        if text.rstrip().endswith(f"// LINE:{marker}"):
            return number
    raise AssertionError(f"no LINE:{marker} in {source}")


class LineWorkload:
    """A workload driven by lines: it is told what to do on stdin and says
    what it did on stdout (errors, or a runtime's own trace, on stderr).
    The `spawn` fixture kills what a test leaves running."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.pid = self.proc.pid
        # stderr is read all along: a chatty runtime must not block on a
        # full pipe, and a test can wait for what it has said so far.
        self._err = []
        self._err_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_reader.start()

    def _read_stderr(self):
        for line in iter(self.proc.stderr.readline, ""):
            self._err.append(line)

    @property
    def stderr(self):
        return "".join(self._err)

    def wait_stderr(self, predicate, timeout=30, what="the workload's stderr"):
        """Waits until predicate(stderr so far) is true; returns its value."""
        return wait_for(lambda: predicate(self.stderr), timeout, what)

    def wait_line(self, word):
        """The rest of the first line from now starting with word."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(10)
                self._err_reader.join(5)
                raise AssertionError(f"workload ended before '{word}': {self.stderr}")
            if line.startswith(word):
                return line[len(word):].strip()

    def say(self, text=""):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=60):
        """Closes its stdin, waits for it to exit; returns its stderr."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout)
        self._err_reader.join(timeout)
        return self.stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _ids_held(pid, field):
    """The ids after `field` (prog_id:, map_id:) in the fdinfo of a
    process's file descriptors, from /proc: quick enough to ask while a
    short-lived tool still runs."""
    ids = set()
    try:
        fdinfos = list(Path(f"/proc/{pid}/fdinfo").iterdir())
    except OSError:
        return ids
    for fdinfo in fdinfos:
        try:
            text = fdinfo.read_text()
        except OSError:
            continue
        ids.update(int(l.split()[1]) for l in text.splitlines() if l.startswith(field))
    return ids


def programs_held(pid):
    """Ids of the BPF programs a process holds (program and link fds)."""
    return _ids_held(pid, "prog_id:")


def maps_held(pid):
    """Ids of the BPF maps a process holds."""
    return _ids_held(pid, "map_id:")


def bpf_programs():
    """{id: prog} of every loaded BPF program, from bpftool."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, check=True)
    return {p["id"]: p for p in json.loads(out.stdout or b"[]")}


# Tools still running when a test ends (it failed half-way) are killed by
# the autouse fixture in conftest.py, so one failure does not leak tracers.
RUNNING = []


class Tool:
    """A sonde tool running in the background (path: a test-only program
    built elsewhere than build/tools/)."""

    def __init__(self, name, *args, ready_timeout=60, env=None, path=None):
        self.name = name
        self.args = [str(a) for a in args]
        self._out = []
        self._err = []
        self._ready = threading.Event()
        self._prog_ids = set()
        self.proc = subprocess.Popen(
            [str(path or tool_path(name)), "-v", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        RUNNING.append(self)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._out, False), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._err, True), daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + ready_timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                for t in self._threads:
                    t.join(5)
                raise AssertionError(
                    f"sonde-{name} {' '.join(self.args)} did not attach "
                    f"(exit {self.proc.returncode}):\n{self.stderr}")

    def _pump(self, stream, sink, is_stderr):
        for line in iter(stream.readline, b""):
            sink.append(line.decode("utf-8", "replace"))
            if is_stderr and "; tracing" in sink[-1]:
                # Read at once: a tool with a short -d may be gone soon.
                self._prog_ids = programs_held(self.proc.pid)
                self._ready.set()

    @property
    def stdout(self):
        return "".join(self._out)

    @property
    def stderr(self):
        return "".join(self._err)

    def lines(self):
        return [l for l in "".join(self._out).splitlines() if l.strip()]

    def events(self):
        """JSON Lines printed so far (every line must parse)."""
        return [json.loads(l) for l in self.lines()]

    def wait_events(self, predicate, count=1, timeout=30):
        """Waits until `count` printed events satisfy predicate. On a
        timeout the tool is stopped first, so that the failure shows its
        final report too (lost and missed events are said there)."""
        try:
            return wait_for(lambda: (lambda m: m if len(m) >= count else None)(
                [e for e in self.events() if predicate(e)]), timeout,
                f"{count} matching events from sonde-{self.name}")
        except AssertionError as timed_out:
            try:
                status = f"exit {self.stop(timeout=10)}"
            except AssertionError as stuck:
                status = str(stuck).splitlines()[0]
            raise AssertionError(f"{timed_out}; stopped ({status}), it printed:\n"
                                 f"{self.stdout}\n{self.stderr}") from None

    def stop(self, sig=signal.SIGINT, timeout=30):
        """Sends sig and waits for the exit status."""
        if self.proc.poll() is None:
            # Programs attached since it became ready count too.
            self._prog_ids |= programs_held(self.proc.pid)
            self.proc.send_signal(sig)
        return self._finish(timeout, f"did not stop on {sig!r}")

    def wait_exit(self, timeout=60):
        """Waits for the tool to end by itself (duration, target gone)."""
        return self._finish(timeout, "did not exit by itself")

    def _finish(self, timeout, failure):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"sonde-{self.name} {failure}:\n{self.stderr}")
        for t in self._threads:
            t.join(5)
        self.assert_nothing_left()
        return self.proc.returncode

    def assert_nothing_left(self):
        """No BPF program the tool loaded outlives it, and no tracefs
        probe it created stays behind."""
        # Only the tool's own programs: other tools may be running at the
        # same time (several in one test, or other test runs).
        def leftovers():
            return [p for i, p in bpf_programs().items()
                    if i in self._prog_ids and not p.get("pinned")]
        # Programs are freed shortly after their last reference goes.
        try:
            wait_for(lambda: not leftovers(), 10, "BPF programs to be released")
        except AssertionError:
            raise AssertionError(f"sonde-{self.name} left BPF programs behind: {leftovers()}")
        for f in ("kprobe_events", "uprobe_events"):
            p = Path("/sys/kernel/tracing") / f
            if p.exists():
                stale = [l for l in p.read_text().splitlines() if f"_{self.proc.pid}_" in l]
                assert not stale, f"stale {f} entries: {stale}"


def run(name, *args, timeout=60, env=None):
    """Runs a tool to completion; returns CompletedProcess (text)."""
    return subprocess.run([str(tool_path(name)), *[str(a) for a in args]],
                          capture_output=True, text=True, timeout=timeout, env=env)


@contextlib.contextmanager
def netns():
    """A private network namespace with loopback up, removed afterwards."""
    name = f"sonde-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def in_netns(ns, *cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *[str(c) for c in cmd]], **kw)
