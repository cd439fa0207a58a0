"""The command-line contract of DESIGN.md, checked for every tool that is
built: help and version, one-line usage errors with exit 2, missing
privileges with exit 3 naming the capability, a duration that ends the
tool cleanly, and clean detach on each stopping signal."""
import signal
import subprocess

import pytest

from harness import BUILD, PYTHON, Tool, run, tool_path, workload_path

# Tools that trace a language runtime need a target that runs one.
TARGETS = {"gclat": [PYTHON, "-c", "import time; time.sleep(60)"],
           # One send blocked for a minute (stdin is not a terminal: no wait).
           "chanlat": [workload_path("chan_block"), "1", "0", "60000", "/dev/null"],
           "goroutines": [workload_path("gospin_stripped")]}
TOOLS = sorted(p.name[len("sonde-"):] for p in (BUILD / "tools").glob("sonde-*")
               if p.is_file() and p.stat().st_mode & 0o111)


@pytest.mark.parametrize("tool", TOOLS)
def test_help_and_version(tool):
    r = run(tool, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith(f"Usage: sonde-{tool} ")
    assert "Exit status:" in r.stdout and "Examples:" in r.stdout
    r = run(tool, "-V")
    assert r.returncode == 0 and r.stdout.startswith(f"sonde-{tool} ")


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("args", [["--no-such-option"], ["-d", "soon"], ["-o", "xml"],
                                  ["-p", "0"], ["-c", "relative/path"], ["-C", "not-hex"],
                                  ["--attach", "nonsense"], ["1", "2"]])
def test_usage_errors_are_one_line_exit_2(tool, args):
    r = run(tool, *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sonde-{tool}: "), r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("tool", TOOLS)
def test_without_privileges_exit_3(tool):
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", str(tool_path(tool)), "-d", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert "CAP_BPF" in r.stderr and "CAP_SYS_ADMIN" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("tool", TOOLS)
def test_duration_ends_cleanly(tool):
    t = Tool(tool, "-d", "500ms")
    assert t.wait_exit(timeout=60) == 0, t.stderr


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stopping_signals_detach(tool, sig):
    t = Tool(tool)
    assert t.stop(sig) == 0, t.stderr


@pytest.mark.parametrize("tool", TOOLS)
def test_missing_container_and_cgroup(tool):
    r = run(tool, "-C", "abcdef0123", "-d", "1")
    assert r.returncode == 2 and "no running container" in r.stderr
    r = run(tool, "-c", "/no/such/cgroup", "-d", "1")
    assert r.returncode == 2 and "no cgroup" in r.stderr


@pytest.mark.parametrize("tool", TOOLS)
def test_ends_when_target_process_exits(tool):
    target = subprocess.Popen(TARGETS.get(tool, ["sleep", "60"]))
    t = Tool(tool, "-p", target.pid)
    target.kill()
    target.wait()
    assert t.wait_exit(timeout=30) == 0, t.stderr
    assert f"process {target.pid} exited" in t.stderr
