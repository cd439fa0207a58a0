"""The Go parsers on Go binaries built elsewhere, by three Go releases:
esbuild's stripped linux-x64 binaries from the npm registry — the current
one (built by a current Go: pclntab format 1.20+, no build info header),
0.13.15 (Go 1.17: format 1.16, pointer-style build info) and 0.7.22
(Go 1.15: format 1.2). A test skips, saying why, only if npm cannot fetch
a package. tests/workloads/gosym_query prints what libsonde reads; Go's own
`go version` and debug/gosym (tests/workloads/gosym_reference, as far as
this Go release understands the format) are the reference. Needs no
privileges: it loads no BPF."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import npm_binary
from harness import workload_path

# (npm package, version or None for the latest, pclntab format it uses)
RELEASES = [
    pytest.param(("@esbuild/linux-x64", None, "go1.20"), id="current"),
    pytest.param(("esbuild-linux-64", "0.13.15", "go1.16"), id="go1.17"),
    pytest.param(("esbuild-linux-64", "0.7.22", "go1.2"), id="go1.15"),
]
FUNCTIONS = [("runtime.gcStart", "runtime/mgc.go"),
             ("main.main", "cmd/esbuild/main.go"),
             ("runtime.chansend1", "runtime/chan.go")]


class Release:
    def __init__(self, binary, fmt, version):
        self.binary, self.format, self.version = binary, fmt, version


@pytest.fixture(scope="module", params=RELEASES)
def esbuild(request, tmp_path_factory):
    package, version, fmt = request.param
    return Release(npm_binary(tmp_path_factory, package, version, "bin/esbuild"), fmt, version)


def run(*argv, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kw)
    assert r.returncode == 0, r.stderr
    return r.stdout


def query(binary, *args):
    return run(workload_path("gosym_query"), binary, *args)


def field(out, key):
    m = re.search(rf"^{re.escape(key)} (.*)$", out, re.M)
    assert m, f"no {key} line in:\n{out}"
    return m.group(1)


def frames(out, pc):
    """[(function, file, line, inlined)] at pc, innermost first."""
    return [(f, fl, int(ln), i == "inlined") for f, fl, ln, i in
            re.findall(rf"^frame {pc:#x} (\S+) (\S+) (\d+) (inlined|-)$", out, re.M)]


def go_env(tmp_path):
    return dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"))


def test_version_and_module(esbuild, tmp_path):
    out = query(esbuild.binary)
    version = field(out, "version")
    assert re.fullmatch(r"go1\.\d+(\.\d+)?", version), version
    if esbuild.format == "go1.20":
        # A Go newer than this machine's: its `go version` cannot read it.
        assert int(version.split(".")[1]) >= 20, version
    else:
        reference = run(shutil.which("go") or "go", "version", esbuild.binary, env=go_env(tmp_path))
        assert reference.strip().endswith(f": {version}"), reference
    assert field(out, "module") == "github.com/evanw/esbuild"
    assert field(out, "path") == "github.com/evanw/esbuild/cmd/esbuild"
    assert field(out, "format") == esbuild.format
    assert int(field(out, "functions")) > 1000


def test_functions_resolve(esbuild):
    out = query(esbuild.binary, *[name for name, _ in FUNCTIONS])
    # Go 1.2-1.15 tables: the inline tree layout changed within the format.
    assert field(out, "inline") == ("no" if esbuild.format == "go1.2" else "yes")
    for name, file_suffix in FUNCTIONS:
        found = re.findall(rf"^func {re.escape(name)} (0x[0-9a-f]+) (0x[0-9a-f]+)$", out, re.M)
        assert found, f"{name} not found:\n{out}"
        entry, end = (int(x, 16) for x in found[0])
        assert end > entry
        # The entry resolves back to the function, in its source file.
        (function, file, line, inlined), = frames(out, entry)
        assert function == name and not inlined
        assert file.endswith(file_suffix), file
        assert line > 0
    if esbuild.format != "go1.2":
        # gcStart inlines small runtime helpers (acquirem, semacquire...).
        assert int(field(out, "inlined_pcs runtime.gcStart")) > 0


def test_matches_debug_gosym(esbuild):
    if esbuild.format == "go1.20":
        pytest.skip("this machine's Go predates the 1.20 table format: no reference")
    names = [name for name, _ in FUNCTIONS]
    reference = run(workload_path("gosym_reference"), esbuild.binary, *names)
    expected_entries = {n: int(e, 16) for n, e in re.findall(r"^func (\S+) (0x[0-9a-f]+)$", reference, re.M)}
    lines = [(int(pc, 16), fn, fl, int(ln)) for pc, fn, fl, ln in
             re.findall(r"^line (0x[0-9a-f]+) (\S+) (\S+) (\d+)$", reference, re.M)]
    assert len(expected_entries) == len(names) and len(lines) >= 3 * len(names), reference
    out = query(esbuild.binary, *names, *[hex(pc) for pc, *_ in lines])
    for name, entry in expected_entries.items():
        assert f"func {name} {entry:#x} " in out, f"{name} at {entry:#x}:\n{out}"
    for pc, function, file, line in lines:
        found = frames(out, pc)
        assert found, f"nothing at {pc:#x}"
        # debug/gosym gives the innermost position and the physical function.
        assert found[0][1:3] == (file, line), (pc, found, file, line)
        assert found[-1][0] == function, (pc, found, function)
