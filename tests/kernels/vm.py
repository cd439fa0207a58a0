"""Runs built sonde programs under another kernel: Debian's stock 6.1 cloud
kernel, booted with qemu (TCG: no KVM needed) from an initramfs made at
test time. See README.md next to this file.

    plan = Plan()
    plan.run("features", "sonde-probe-paths", "-v", "-d", "1")
    plan.trace("connects", "tcp_outcomes", "sonde-tcpconnect", "-v", "-o", "json")
    results = boot(kernel(), plan, programs(build_dir))
    results["features"].rc, results["features"].err, ...

The guest only runs the plan; judging its results is the caller's job.
Run this file to try a command in the guest by hand:

    /usr/bin/python3 tests/kernels/vm.py [--build DIR] sonde-tcpconnect -v -d 1
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST = HERE / "guest"
PACKAGE = re.compile(r"^linux-image-6\.1\.0-(\d+)-cloud-amd64-unsigned$")
CACHE = Path(os.environ.get("SONDE_KERNEL_CACHE",
                            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                            / "sonde" / "kernels"))
QEMU = "qemu-system-x86_64"
# TCG boots the cloud kernel in a few seconds; the limit is for a machine
# busy with other work, not a target.
BOOT_TIMEOUT = 300


class Unavailable(Exception):
    """The guest cannot be run here at all (no qemu, no kernel to be had):
    the reason to skip, in one line."""


# ---- the kernel ----

def _cached_kernels():
    found = []
    for vmlinuz in CACHE.glob("linux-image-6.1.0-*/boot/vmlinuz-*"):
        m = PACKAGE.match(vmlinuz.parents[1].name)
        if m:
            found.append((int(m.group(1)), vmlinuz))
    return [v for _, v in sorted(found)]


def _newest_package():
    out = subprocess.run(["apt-cache", "pkgnames", "linux-image-6.1.0-"],
                         capture_output=True, text=True)
    abis = [int(m.group(1)) for m in map(PACKAGE.match, out.stdout.split()) if m]
    if not abis:
        raise Unavailable("no linux-image-6.1.0-*-cloud-amd64-unsigned package in apt's lists "
                          "(is bookworm in sources.list? run apt-get update)")
    return f"linux-image-6.1.0-{max(abis)}-cloud-amd64-unsigned"


def _unpack(package, members, dest):
    """Downloads the package with apt-get and unpacks the members (paths
    in it, "./boot"; wildcards allowed) into the new directory dest, made
    at once when all is there: an interrupted run leaves nothing half."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        # apt's sandbox user cannot write into root's cache; -o tells it
        # not to try and keeps apt-get quiet about it.
        dl = subprocess.run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package],
                            cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if dl.returncode or not debs:
            last = (dl.stderr.strip().splitlines() or ["no .deb"])[-1]
            raise Unavailable(f"cannot download {package}: {last}")
        unpacked = Path(tmp) / "unpacked"
        unpacked.mkdir()
        subprocess.run(f"dpkg-deb --fsys-tarfile {shlex.quote(str(debs[0]))} | tar -x -C "
                       f"{shlex.quote(str(unpacked))} --wildcards "
                       + " ".join(shlex.quote(m) for m in members), shell=True, check=True)
        try:
            unpacked.rename(dest)
        except OSError:
            # Another test run unpacked the same package meanwhile.
            if not dest.is_dir():
                raise


def kernel():
    """Path of the 6.1 kernel image: the newest one in the cache, else the
    newest Debian package, downloaded with apt-get and unpacked (only its
    /boot) into the cache for later runs."""
    cached = _cached_kernels()
    if cached:
        return cached[-1]
    package = _newest_package()
    _unpack(package, ["./boot"], CACHE / package)
    return _cached_kernels()[-1]


def _module_depends(ko):
    """The modules a .ko needs: its .modinfo's "depends=a,b" string."""
    m = re.search(rb"(?:^|\x00)depends=([^\x00]*)", ko.read_bytes())
    return [d.decode() for d in m.group(1).split(b",") if d] if m else []


def modules(vmlinuz, *names):
    """The .ko files of the kernel's modules `names` and of the modules
    they need, in the order to load them (insmod: busybox has no
    modprobe). Unpacked (file systems, libraries, crypto) from the
    kernel's package into the cache on first use: the package is fetched
    again, as kernel() keeps only /boot."""
    package = vmlinuz.parents[1].name
    release = vmlinuz.name[len("vmlinuz-"):]
    root = CACHE / package / "modules"
    if not root.is_dir():
        _unpack(package, [f"./lib/modules/{release}/kernel/{d}/*"
                          for d in ("fs", "lib", "crypto", "arch")], root)
    found = {ko.name[:-len(".ko")].replace("-", "_"): ko for ko in root.rglob("*.ko")}
    order = []

    def add(name):
        ko = found.get(name.replace("-", "_"))
        if ko is None:
            raise Unavailable(f"{package} has no module {name} in fs/, lib/, crypto/ or arch/")
        for need in _module_depends(ko):
            add(need)
        if ko not in order:
            order.append(ko)
    for name in names:
        add(name)
    return order


def kernel_config(vmlinuz):
    """The kernel's build configuration as {CONFIG_X: value}."""
    config = vmlinuz.parent / vmlinuz.name.replace("vmlinuz-", "config-")
    return dict(l.split("=", 1) for l in config.read_text().splitlines() if "=" in l and l[0] != "#")


# ---- what the guest runs ----

class Plan:
    """The checks the guest runs, in order, as a shell script for its /init
    (see guest/checks.sh). Programs are named as in the guest's PATH: the
    file names of the programs given to boot(), and busybox's applets."""

    def __init__(self):
        self._lines = []
        self.names = []

    def _add(self, name, *words):
        if not re.fullmatch(r"[\w.:=+-]+", name) or name in self.names:
            raise ValueError(f"bad or repeated check name {name!r}")
        self.names.append(name)
        self._lines.append(" ".join(shlex.quote(str(w)) for w in words))

    def run(self, name, *command):
        """Check `name`: the command's exit status, stdout and stderr."""
        self._add(name, "run", name, *command)

    def trace(self, name, workload, *tool):
        """Check `name`: a tool (which must be given -v) started before the
        shell command `workload` and stopped with SIGINT after it; check
        `name.workload`: the workload."""
        self._add(name, "trace", name, workload, *tool)

    def spawn(self, name, *command):
        """Check `name`: starts the command in the background, for later
        checks to trace, and waits for its first line (the check's
        output). Its pid is in the guest's /tmp/NAME.pid; a check sends
        it a line with `echo >/tmp/NAME.in` and reads /tmp/NAME.out."""
        self._add(name, "spawn", name, *command)

    def script(self):
        return "\n".join(self._lines) + "\n"


def programs(build):
    """Every program of a build tree the guest may run: the tools, the
    test-only programs and the C workloads."""
    build = Path(build)
    found = [p for p in (build / "tools").glob("sonde*") if p.is_file() and os.access(p, os.X_OK)]
    found += [build / "tests" / "kernels" / "sonde-probe-paths"]
    found += [p for p in (build / "tests" / "workloads").iterdir()
              if p.is_file() and os.access(p, os.X_OK) and not p.suffix]
    return sorted(found)


# ---- the initramfs ----

def _shared_libraries(program):
    """{name the program asks for: file} and the ELF interpreter, from ldd
    (run where the program was built, so its RPATH finds libsonde)."""
    out = subprocess.run(["ldd", str(program)], capture_output=True, text=True)
    libs, interpreter = {}, None
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+) \(", line)
        if m:
            libs[m.group(1)] = Path(m.group(2))
        elif re.match(r"\s*/\S+ \(", line):
            interpreter = Path(line.split()[0])
        elif "=> not found" in line:
            raise RuntimeError(f"{program}: {line.strip()}")
    return libs, interpreter


def _dlopened(lib):
    """{soname: file} of the libraries lib loads with dlopen(): libsonde's
    build lists them beside it (lib/meson.build), ldconfig finds them."""
    listed = lib.parent / "dlopen-libraries.txt"
    if not listed.exists():
        return {}
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    found = {}
    for soname in listed.read_text().split():
        m = re.search(rf"^\s*{re.escape(soname)} \(libc6,x86-64\) => (\S+)$", cache, re.M)
        if not m:
            raise RuntimeError(f"{lib} loads {soname}, which ldconfig does not know")
        found[soname] = Path(m.group(1))
    return found


def _copy_libraries(program, root):
    libs, interpreter = _shared_libraries(program)
    for name, lib in list(libs.items()):
        for soname, loaded in _dlopened(lib).items():
            libs[soname] = loaded
            libs.update(_shared_libraries(loaded)[0])
    for name, lib in libs.items():
        shutil.copy(lib, root / "lib" / name)
    if interpreter:
        (root / interpreter.relative_to("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(interpreter, root / interpreter.relative_to("/"))


def _tool(name):
    path = shutil.which(name)
    if not path:
        raise Unavailable(f"{name} is not installed (scripts/bootstrap installs it)")
    return path


def check_host():
    """Raises Unavailable when a program the guest needs is missing here."""
    for name in (QEMU, "busybox", "cpio"):
        _tool(name)


def initramfs(plan, progs, path, kos=()):
    """Writes a gzip'd newc cpio archive: busybox as /bin/busybox,
    the guest scripts, the plan, the programs in /sonde/bin, every
    shared library they need in /lib (the guest's LD_LIBRARY_PATH) and
    the kernel modules kos in /sonde/modules."""
    busybox = Path(_tool("busybox"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for d in ("bin", "lib", "sonde/bin", "sonde/modules", "proc", "sys", "dev", "tmp"):
            (root / d).mkdir(parents=True)
        shutil.copy(busybox, root / "bin" / "busybox")
        _copy_libraries(busybox, root)
        shutil.copy(GUEST / "init", root / "init")
        shutil.copy(GUEST / "checks.sh", root / "sonde" / "checks.sh")
        (root / "sonde" / "plan.sh").write_text(plan.script())
        for prog in progs:
            shutil.copy(prog, root / "sonde" / "bin" / prog.name)
            _copy_libraries(prog, root)
        for ko in kos:
            shutil.copy(ko, root / "sonde" / "modules" / ko.name)
        files = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
        with open(path, "wb") as out:
            cpio = subprocess.Popen([_tool("cpio"), "-o", "-H", "newc", "--quiet"], cwd=root,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            gzip = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=out)
            cpio.stdout.close()
            cpio.communicate(files)
            if cpio.wait() or gzip.wait():
                raise RuntimeError("building the initramfs failed")


# ---- booting ----

@dataclass
class Result:
    rc: int = None
    out: str = ""
    err: str = ""

    def lines(self):
        return [l for l in self.out.splitlines() if l.strip()]


@dataclass
class Results:
    kernel: Path		# the image booted
    started_ns: int		# host wall clock when qemu started
    checks: dict = field(default_factory=dict)
    complete: bool = False	# the guest got to the end of the plan
    console: str = ""		# the kernel's console, for diagnostics
    seconds: float = 0.0

    def __getitem__(self, name):
        if name not in self.checks:
            raise KeyError(f"the guest reported no check {name!r}; console:\n{self.console_tail()}")
        return self.checks[name]

    def console_tail(self, n=40):
        return "\n".join(self.console.splitlines()[-n:])

    def last_check(self):
        """The name of the last check the guest reported, or None."""
        return next(reversed(self.checks), None)

    def first_lockup(self, n=80):
        """The console from the first soft lockup or RCU stall report on
        (with every CPU's backtrace: see boot()), or "" if there was none."""
        lines = self.console.splitlines()
        for i, line in enumerate(lines):
            if "soft lockup" in line or "rcu: INFO" in line:
                return "\n".join(lines[i:i + n])
        return ""

    def why_incomplete(self):
        """What a failed assertion on `complete` should show."""
        lockup = self.first_lockup()
        return (f"the guest did not finish its checks in {self.seconds:.0f} s; last check "
                f"reported: {self.last_check()}\n"
                + (f"first lockup report:\n{lockup}\n" if lockup else "")
                + f"console tail:\n{self.console_tail()}")


def parse(text):
    """Results of the guest's report lines (guest/checks.sh)."""
    checks = {}
    complete = False
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if line == "SONDE-DONE":
            complete = True
            continue
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[0] != "SONDE":
            continue
        r = checks.setdefault(parts[1], Result())
        rest = parts[3] if len(parts) == 4 else ""
        if parts[2] == "exit":
            r.rc = int(parts[3])
        elif parts[2] == "out":
            r.out += rest + "\n"
        elif parts[2] == "err":
            r.err += rest + "\n"
    return checks, complete


# Once the guest reports a soft lockup, it has this long to print every
# CPU's stack; waiting out the whole boot limit would only cost time.
LOCKUP_GRACE = 20


def _run_qemu(cmd, console, timeout):
    """Runs qemu to its end; returns why it failed, or None. Stops it early
    when the guest's console reports a soft lockup."""
    with tempfile.TemporaryFile("w+") as err:
        qemu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        why = None
        while qemu.poll() is None:
            now = time.monotonic()
            if now >= deadline:
                why = why or f"the guest did not power off within {timeout} s"
                break
            if why is None and console.exists() and b"BUG: soft lockup" in console.read_bytes():
                why = f"the guest locked up; stopped {LOCKUP_GRACE} s after its report"
                deadline = min(deadline, now + LOCKUP_GRACE)
            time.sleep(1)
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
            return why
        err.seek(0)
        return why or (qemu.returncode and err.read().strip()) or None


def boot(vmlinuz, plan, progs, disks=(), kos=(), timeout=BOOT_TIMEOUT):
    """Boots the kernel with the plan and programs; returns the Results.
    Each of disks (raw image files) is attached as an NVMe disk, the only
    disk controller the cloud kernel has built in (virtio-blk is a
    module): the guest sees them as /dev/nvme0n1, nvme1n1, ... The
    kernel modules kos (from modules()) are in the guest's /sonde/modules,
    for the plan to insmod.
    Raises Unavailable when qemu, busybox or cpio is not installed."""
    qemu = _tool(QEMU)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        initramfs(plan, progs, tmp / "initrd.gz", kos)
        started, started_ns = time.monotonic(), time.time_ns()
        # One vCPU: with two, a CI run locked the guest up in
        # sonde-fsslower (CPU 0 spinning for minutes, CPU 1 handling no
        # timers; its retry failed too), which about a hundred fsslower runs in
        # the guest here did not reproduce.
        # Under TCG one vCPU cannot wait on another (text patching's
        # IPIs, stop_machine), and the checks need no second CPU.
        cmd = [qemu, "-accel", "tcg", "-m", "1024", "-smp", "1", "-nodefaults", "-display", "none",
               "-no-reboot", "-kernel", str(vmlinuz), "-initrd", str(tmp / "initrd.gz"),
               # loglevel=5: warnings and worse (backtraces are printed at
               # warning level), not the boot's chatter. A soft lockup
               # shows every CPU's stack: the stuck one often waits on
               # another.
               "-append", "console=ttyS0 panic=-1 loglevel=5 softlockup_all_cpu_backtrace=1 "
                          "rdinit=/init",
               "-serial", f"file:{tmp / 'console.log'}", "-serial", f"file:{tmp / 'results.log'}"]
        for i, disk in enumerate(disks):
            cmd += ["-drive", f"file={disk},if=none,format=raw,id=disk{i}",
                    "-device", f"nvme,drive=disk{i},serial=sonde{i}"]
        qemu_failed = _run_qemu(cmd, tmp / "console.log", timeout)
        results = Results(kernel=vmlinuz, started_ns=started_ns, seconds=time.monotonic() - started)
        console, report = tmp / "console.log", tmp / "results.log"
        results.console = console.read_text(errors="replace") if console.exists() else ""
        results.checks, results.complete = parse(report.read_text(errors="replace")
                                                 if report.exists() else "")
        if qemu_failed:
            results.console += f"\n[qemu: {qemu_failed}]"
        return results


def main(argv):
    build = Path(os.environ.get("SONDE_BUILD", HERE.parents[1] / "build"))
    if argv[:1] == ["--build"]:
        build, argv = Path(argv[1]), argv[2:]
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    plan = Plan()
    plan.run("command", *argv)
    try:
        vmlinuz = kernel()
        results = boot(vmlinuz, plan, programs(build))
    except Unavailable as e:
        print(f"cannot run the guest: {e}", file=sys.stderr)
        return 4
    if not results.complete:
        print(results.console, file=sys.stderr)
    r = results.checks.get("command", Result())
    sys.stdout.write(r.out)
    sys.stderr.write(r.err)
    print(f"[{vmlinuz.name}: exit {r.rc}, {results.seconds:.1f} s]", file=sys.stderr)
    return 0 if r.rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
