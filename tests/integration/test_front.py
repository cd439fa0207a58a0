"""The sonde front command: list, running a tool, doctor, the interactive
shell driven through a pseudo-terminal, the bash and zsh completions, the
man pages and `meson install`. Tools are discovered, never named here
except tcpconnect, the one every tree has."""
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

import pytest

from harness import BUILD, ROOT, tool_path, wait_for

SONDE = BUILD / "tools" / "sonde"
COMPLETIONS = ROOT / "completions"


def built_tools():
    return sorted(p.name[len("sonde-"):] for p in (BUILD / "tools").glob("sonde-*")
                  if p.is_file() and os.access(p, os.X_OK))


def sonde(*args, timeout=120, **kw):
    return subprocess.run([str(SONDE), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def unique_process(tmp_path, name="snd-probe-xyz"):
    """A sleeping process whose command name no other process has."""
    exe = tmp_path / name
    shutil.copy("/bin/sleep", exe)
    p = subprocess.Popen([str(exe), "600"])
    wait_for(lambda: Path(f"/proc/{p.pid}/comm").read_text().strip() == name, 10, "the sleeper")
    return p


def bpf_loads(*cmd):
    """Runs cmd under strace; returns (exit status, names of the BPF
    programs it loaded)."""
    # LeakSanitizer cannot work under ptrace (an ASan build would exit 1).
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    with tempfile.NamedTemporaryFile("r") as log:
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bpf", "-o", log.name, *map(str, cmd)],
                           capture_output=True, text=True, timeout=120, env=env)
        names = re.findall(r'BPF_PROG_LOAD.*?prog_name="([^"]*)"', log.read())
    return r.returncode, names


# ---- list, run, version ----

def test_list_shows_every_tool_with_its_summary():
    r = sonde("list")
    assert r.returncode == 0, r.stderr
    for name in built_tools():
        summary = subprocess.run([str(tool_path(name)), "--summary"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        assert summary, f"sonde-{name} --summary printed nothing"
        assert re.search(rf"^{name}\s+{re.escape(summary)}$", r.stdout, re.M), r.stdout
    assert "Trace active TCP connects" in r.stdout
    names = sonde("list", "--names")
    assert names.stdout.split() == built_tools()


def test_runs_a_tool_and_passes_its_status():
    r = sonde("tcpconnect", "-d", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["PID", "COMM", "IP"]
    r = sonde("tcpconnect", "-o", "xml")
    assert r.returncode == 2 and "output format 'xml'" in r.stderr
    r = sonde("no-such-tool")
    assert r.returncode == 2
    assert r.stderr.strip() == "sonde: no tool 'no-such-tool' (sonde list shows them)"
    assert sonde("version").stdout.startswith("sonde ")
    assert "Usage: sonde-tcpconnect" in sonde("help", "tcpconnect").stdout


def test_without_a_terminal_prints_usage():
    r = sonde(stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "Usage: sonde" in r.stderr and r.stdout == ""


# ---- doctor ----

def test_doctor_reports_features_node_and_tools():
    r = sonde("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"^  tp_btf\s+yes$", out, re.M), out
    assert re.search(r"^  raw_tracepoint\s+yes$", out, re.M), out
    assert re.search(r"^  kprobe\s+no\s+.*CONFIG_KPROBES", out, re.M), out
    assert re.search(r"^  fentry\s+no\s+\S", out, re.M), out
    assert re.search(r"^  tracefs\s+yes\s+/sys/kernel/(debug/)?tracing", out, re.M), out
    assert re.search(r"^  debugfs\s+(yes|no)", out, re.M), out
    assert re.search(r"^  lockdown\s+(none|integrity|confidentiality)\s", out, re.M), out
    assert re.search(r"^  capabilities\s+yes\s+.*CAP_(SYS_ADMIN|BPF)", out, re.M), out
    assert re.search(r"^  tcpconnect\s+yes\s+tp_btf$", out, re.M), out
    for name in built_tools():
        assert re.search(rf"^  {name}\s+(yes|no|\?)\s", out, re.M), f"{name} missing:\n{out}"


def test_tools_are_found_on_path_and_answer_for_themselves(tmp_path):
    """A sonde-* command on PATH is a tool: sonde lists it and runs it, and
    doctor shows the reason its --plan gives for not running here."""
    fake = tmp_path / "sonde-zzfake"
    fake.write_text("#!/bin/sh\n"
                    "case $1 in\n"
                    "--summary) echo 'Pretend to trace.' ;;\n"
                    "--plan) printf 'pretend events\\t-\\tunavailable: kprobe: no kprobes here\\n'; exit 4 ;;\n"
                    "*) echo \"ran with $*\"; exit 3 ;;\n"
                    "esac\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    assert re.search(r"^zzfake\s+Pretend to trace\.$", sonde("list", env=env).stdout, re.M)
    r = sonde("zzfake", "-x", "1", env=env)
    assert (r.returncode, r.stdout) == (3, "ran with -x 1\n")
    r = sonde("doctor", env=env)
    assert r.returncode == 4, "a tool that cannot run here makes doctor exit 4"
    assert re.search(r"^  zzfake\s+no\s+pretend events: unavailable: kprobe: no kprobes here$",
                     r.stdout, re.M), r.stdout
    assert re.search(r"^  tcpconnect\s+yes\s+tp_btf$", r.stdout, re.M)


def test_doctor_without_privileges_says_so():
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
              "--inh-caps=-all", "--bounding-set=-all", str(SONDE), "doctor"]
    r = subprocess.run(nobody, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    assert re.search(r"^  capabilities\s+no\s+none$", r.stdout, re.M), r.stdout
    assert re.search(r"^  tcpconnect\s+no\s+missing privileges: needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN",
                     r.stdout, re.M), r.stdout
    assert "probed without CAP_BPF and CAP_PERFMON" in r.stdout


def test_doctor_verbose_lists_each_probe():
    r = sonde("doctor", "-v")
    assert r.returncode == 0
    assert re.search(r"^\s+TCP state changes\s+tp_btf\s+sock/inet_sock_set_state$", r.stdout, re.M)
    assert sonde("doctor", "--bogus").returncode == 2


def test_plan_loads_no_tool_program():
    # Only the feature probes' unnamed programs; a real run loads the tool's.
    rc, names = bpf_loads(SONDE, "doctor")
    assert rc == 0 and names and set(names) == {""}, names
    rc, names = bpf_loads(tool_path("tcpconnect"), "-d", "1")
    assert rc == 0 and "set_state_btf" in names, names


def test_plan_chooses_without_loading():
    r = subprocess.run([str(tool_path("tcpconnect")), "--plan", "--attach", "tracepoint"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = [l.split("\t") for l in r.stdout.splitlines()]
    assert ["TCP state changes", "tracepoint", "sock/inet_sock_set_state"] in lines
    # this probe has no classic tracepoint alternative: the best one stays
    assert ["socket errors", "tp_btf", "sock/inet_sk_error_report"] in lines
    r = subprocess.run([str(tool_path("tcpconnect")), "--plan", "--attach", "kprobe"],
                       capture_output=True, text=True)
    assert r.returncode == 4
    assert "--attach\t-\tunavailable: this tool has no kprobe probes" in r.stdout


# ---- the interactive shell, through a pseudo-terminal ----

class Shell:
    """sonde with no arguments on a terminal."""

    def __init__(self, home, env=None, argv=None, rows=50):
        inputrc = Path(home) / "inputrc"
        # Long completion lists in full, without "--More--" or a question.
        inputrc.write_text("set completion-query-items 100000\nset page-completions off\n")
        self.env = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
        self.env.update({"HOME": str(home), "TERM": "dumb", "INPUTRC": str(inputrc),
                         "COLUMNS": "200", "LINES": "50", **(env or {})})
        argv = argv or [str(SONDE)]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, self.env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 200, 0, 0))
        self.buf = b""

    def send(self, data):
        os.write(self.fd, data.encode())

    def expect(self, pattern, timeout=60):
        """Reads until the regex matches; returns the text up to its end."""
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while not (m := rx.search(self.buf)):
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.fd], [], [], max(0, left))
            if not r:
                raise AssertionError(f"timed out waiting for {pattern!r}; screen:\n{self.buf.decode(errors='replace')}")
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"shell ended waiting for {pattern!r}:\n{self.buf.decode(errors='replace')}")
            self.buf += chunk
        seen, self.buf = self.buf[:m.end()], self.buf[m.end():]
        return seen.decode(errors="replace")

    def wait_exit(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:  # keep the pty drained
                if select.select([self.fd], [], [], 0.05)[0]:
                    os.read(self.fd, 65536)
            except OSError:
                pass
        raise AssertionError("the shell did not exit")

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


PROMPT = r"sonde> $"


@pytest.fixture
def shell(tmp_path):
    sh = Shell(tmp_path)
    sh.expect(PROMPT)
    yield sh
    sh.kill()


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True)
    return out.stdout.split()


def test_shell_completes_runs_and_survives_ctrl_c(shell, tmp_path):
    # tool names, options and option values
    shell.send("tcpc\t")
    shell.expect(r"tcpconnect $")
    shell.send("--atta\t")
    shell.expect(r"--attach $")
    shell.send("tr\t")
    shell.expect(r"tracepoint $")
    shell.send("-o \t\t")
    screen = shell.expect(r"json.*\n.*-o $")
    assert "table" in screen
    shell.send("\x03")                      # Ctrl-C drops the line, keeps the shell
    shell.expect(PROMPT)

    # a run that sees a real connect, then Ctrl-C back to the prompt
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    shell.send(f"tcpconnect -P {port}\r")
    shell.expect(r"PID COMM.*LAT\(ms\)")
    wait_for(lambda: "sonde-tcpconnec" in children_of(shell.pid), 10, "the tool to run as the shell's child")
    with socket.create_connection(srv.getsockname(), timeout=10):
        pass
    shell.expect(rf"127\.0\.0\.1 +{port} +established")
    srv.close()
    shell.send("\x03")
    screen = shell.expect(PROMPT)
    assert "exit status" not in screen and "ended by" not in screen, "Ctrl-C is a clean stop"
    wait_for(lambda: not children_of(shell.pid), 10, "the tool to end")
    shell.send("version\r")                 # the shell still works
    shell.expect(r"sonde \d+\.\d+\.\d+\r\n")
    shell.expect(PROMPT)
    shell.send("help\r")
    shell.expect(r"Tools:.* tcpconnect")
    shell.expect(PROMPT)
    shell.send("help tcpconnect\r")
    shell.expect(r"Usage: sonde-tcpconnect")
    shell.expect(PROMPT)
    shell.send("nonsense\r")
    shell.expect(r"no command or tool 'nonsense'")
    shell.expect(PROMPT)
    shell.send("tcpconnect -o xml\r")            # a tool's failure is reported, the shell goes on
    shell.expect(r"output format 'xml'.*\r\n\(exit status 2\)\r\n")
    shell.expect(PROMPT)
    shell.send("tcpconnect -o json | jq .\r")
    shell.expect(r"pipes, redirections.* are not for this shell")
    shell.expect(PROMPT)
    shell.send("exit\r")
    assert shell.wait_exit() == 0
    history = (tmp_path / ".sonde_history").read_text().splitlines()
    assert history == [f"tcpconnect -P {port}", "version", "help", "help tcpconnect", "nonsense",
                       "tcpconnect -o xml", "tcpconnect -o json | jq .", "exit"]


def test_shell_completes_pids_with_names_and_keeps_a_target(shell, tmp_path):
    sleeper = unique_process(tmp_path)
    try:
        shell.send("tcpconnect -p \t\t")
        shell.expect(rf"(\s|^){sleeper.pid} +snd-probe-xyz\s")
        shell.expect(r"-p $")
        shell.send("\x03")
        shell.expect(PROMPT)
        shell.send("target\r")
        shell.expect(r"no target: tools trace everything")
        shell.send(f"target {sleeper.pid}\r")
        shell.expect(rf"sonde \[pid {sleeper.pid}\]> $")
        # The target is applied: the tool ends by itself when it exits.
        shell.send("tcpconnect\r")
        shell.expect(r"PID COMM")
        sleeper.kill()
        shell.expect(rf"process {sleeper.pid} exited")
        shell.expect(rf"sonde \[pid {sleeper.pid}\]> $")
        shell.send("clear\r")
        shell.expect(PROMPT)
        shell.send("container zz\r")
        shell.expect(r"usage: container ID")
        shell.expect(PROMPT)
        shell.send("\x04")                      # Ctrl-D leaves
        assert shell.wait_exit() == 0
    finally:
        sleeper.kill()
        sleeper.wait()


def test_shell_completes_container_ids(shell, tmp_path):
    """A process in a cgroup named like a docker scope is a container."""
    cid = "5e" * 32
    cgroup = Path(f"/sys/fs/cgroup/pids/docker-{cid}.scope")
    cgroup.mkdir()
    sleeper = unique_process(tmp_path)
    try:
        (cgroup / "cgroup.procs").write_text(str(sleeper.pid))
        shell.send("container 5e5e\t")
        shell.expect(rf"container {cid} $")
        shell.send("\r")
        shell.expect(rf"sonde \[container {cid}\]> $")
        shell.send("tcpconnect -C 5e\t")
        shell.expect(rf"-C {cid} $")
        shell.send("\x03")
        shell.expect(r"> $")
    finally:
        sleeper.kill()
        sleeper.wait()
        wait_for(lambda: not (cgroup / "cgroup.procs").read_text().strip(), 10, "an empty cgroup")
        cgroup.rmdir()


def test_shell_history_persists_under_xdg_state_home(tmp_path):
    state = tmp_path / "state"
    sh = Shell(tmp_path, env={"XDG_STATE_HOME": str(state)})
    try:
        sh.expect(PROMPT)
        sh.send("version\r")
        sh.expect(PROMPT)
        sh.send("exit\r")
        assert sh.wait_exit() == 0
        assert (state / "sonde" / "history").read_text().splitlines() == ["version", "exit"]
        # a new shell recalls it with the up arrow
        sh = Shell(tmp_path, env={"XDG_STATE_HOME": str(state)})
        sh.expect(PROMPT)
        sh.send("\x1b[A\x1b[A")
        sh.expect(r"version")
        sh.send("\r")
        sh.expect(r"sonde \d")
    finally:
        sh.kill()


# ---- completions ----

def bash_complete(*words, env=None):
    """Runs _sonde with COMP_WORDS = words (the last one is being completed)."""
    words = [str(w) for w in words]
    script = (f"source {COMPLETIONS / 'sonde.bash'}\n"
              "COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1))\n"
              "_sonde\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "-c", script, "bash", *words], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if l]


def test_bash_completion():
    s, tc = str(SONDE), str(tool_path("tcpconnect"))
    assert bash_complete(s, "tcpc") == ["tcpconnect"]
    assert {"list", "doctor", "shell", "help", "version", *built_tools()} <= set(bash_complete(s, ""))
    assert bash_complete(s, "help", "tcpc") == ["tcpconnect"]
    assert bash_complete(s, "list", "--") == ["--names"]
    assert sorted(bash_complete(s, "tcpconnect", "--att")) == ["--attach", "--attempts"]
    assert sorted(bash_complete(s, "tcpconnect", "-o", "")) == ["json", "table"]
    assert sorted(bash_complete(tc, "--attach", "t")) == ["tp_btf", "tracepoint"]
    assert {"-P", "--port", "--attempts", "-p", "--pid", "-d"} <= set(bash_complete(tc, "-"))
    assert bash_complete(tc, "--nosuch", "") == []


def test_bash_completion_of_pids(tmp_path):
    sleeper = unique_process(tmp_path)
    try:
        pid = str(sleeper.pid)
        assert bash_complete(tool_path("tcpconnect"), "-p", pid) == [pid]
        assert bash_complete(SONDE, "tcpconnect", "--pid", f"1,{pid}") == [f"1,{pid}"]
        several = bash_complete(tool_path("tcpconnect"), "-p", "")
        assert f"{pid} (snd-probe-xyz)" in several
    finally:
        sleeper.kill()
        sleeper.wait()


def test_completions_name_every_tool():
    r = subprocess.run(["bash", "-c", f"source {COMPLETIONS / 'sonde.bash'}; complete -p"],
                       capture_output=True, text=True, check=True)
    registered = {l.split()[-1] for l in r.stdout.splitlines() if "-F _sonde" in l}
    zsh_first = (COMPLETIONS / "_sonde").read_text().splitlines()[0].split()
    assert zsh_first[0] == "#compdef"
    for name in ["sonde"] + [f"sonde-{t}" for t in built_tools()]:
        assert name in registered, f"bash completion does not name {name}"
        assert name in zsh_first[1:], f"zsh completion does not name {name}"


def test_zsh_completion(tmp_path):
    subprocess.run(["zsh", "-n", str(COMPLETIONS / "_sonde")], check=True)
    sleeper = unique_process(tmp_path)
    z = Shell(tmp_path, argv=["/usr/bin/zsh", "-f", "-i"], rows=1000,
              env={"PATH": f"{BUILD / 'tools'}:{os.environ['PATH']}", "PS1": "zsh%% "})
    try:
        z.expect(r"zsh% ")
        z.send(f"unset zle_bracketed_paste; LISTMAX=1000000; fpath=({COMPLETIONS} $fpath); "
               "autoload -Uz compinit; compinit -u -D\r")
        z.expect(r"zsh% $")
        z.send("sonde tcpc\t")
        z.expect(r"sonde tcpconnect $")
        z.send("--atta\t")
        z.expect(r"--attach $")
        z.send("t\t")
        screen = z.expect(r"tracepoint")
        assert "tp_btf" in screen + z.expect(r"tp_btf|\n")
        z.send("\x15")                          # Ctrl-U: a new line
        z.send("sonde-tcpconnect -o j\t")
        z.expect(r"-o json $")
        z.send("\x15")
        z.send("sonde-tcpconnect -p \t")
        z.expect(rf"\b{sleeper.pid}\s+-- snd-probe-xyz\b")
    finally:
        z.kill()
        sleeper.kill()
        sleeper.wait()


# ---- man pages ----

TOOL_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT FIELDS", "EXAMPLES",
                 "KERNEL REQUIREMENTS", "EXIT STATUS", "SEE ALSO"]


@pytest.mark.parametrize("page", ["sonde"] + [f"sonde-{t}" for t in built_tools()])
def test_man_page_renders(page):
    path = BUILD / "man" / f"{page}.8"
    assert path.exists(), f"no man page {path}: write man/{page}.8.scd"
    r = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True, text=True,
                       env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    headings = re.findall(r"^([A-Z][A-Z ]+)$", r.stdout, re.M)
    sections = ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "KERNEL REQUIREMENTS",
                "EXIT STATUS", "SEE ALSO"] if page == "sonde" else TOOL_SECTIONS
    for s in sections:
        assert s in headings, f"{page}(8) has no {s} section"


# ---- meson install ----

def test_meson_install_puts_every_file_in_place(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", str(BUILD), "--no-rebuild", "--quiet",
                        "--destdir", str(dest)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() or p.is_symlink()}

    def one(pattern):
        found = [f for f in files if re.fullmatch(pattern, f)]
        assert found, f"nothing installed matches {pattern}:\n" + "\n".join(sorted(files))
        return found

    prefix = r".*?"
    one(prefix + r"/bin/sonde")
    one(prefix + r"/lib/(.*/)?libsonde\.so")
    one(prefix + r"/lib/(.*/)?libsonde\.so\.\d+")
    for h in (ROOT / "lib" / "include" / "sonde").glob("*.h"):
        one(prefix + rf"/include/sonde/{h.name}")
    pc = Path(dest / one(prefix + r"/pkgconfig/libsonde\.pc")[0]).read_text()
    assert "Libs: -L${libdir} -lsonde" in pc
    one(prefix + r"/share/man/man8/sonde\.8")
    one(prefix + r"/share/bash-completion/completions/sonde")
    one(prefix + r"/share/zsh/site-functions/_sonde")
    for t in built_tools():
        one(prefix + rf"/bin/sonde-{t}")
        one(prefix + rf"/share/man/man8/sonde-{t}\.8")
        one(prefix + rf"/share/bash-completion/completions/sonde-{t}")

    # Installed, sonde finds its tools next to itself, not in the build.
    bindir = dest / one(prefix + r"/bin/sonde")[0].rsplit("/", 1)[0]
    libdir = (dest / one(prefix + r"/lib/(.*/)?libsonde\.so")[0]).parent
    r = subprocess.run([str(bindir / "sonde"), "list", "--names"], capture_output=True, text=True,
                       env={**os.environ, "PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(libdir)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == built_tools()
