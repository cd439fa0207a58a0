"""The Go parsers on a binary built by a current Go release: esbuild's
stripped linux-x64 binary, fetched from the npm registry (the test skips,
saying why, only if npm cannot fetch it). tests/workloads/gosym_query
prints what libsonde reads from it: the Go version, module, pclntab format
and, for runtime and main functions, their entries and frames. Needs no
privileges: it loads no BPF."""

import os
import re
import shutil
import subprocess

import pytest

from harness import workload_path

PACKAGE = "@esbuild/linux-x64"


@pytest.fixture(scope="module")
def esbuild(tmp_path_factory):
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot fetch esbuild's Go binary")
    prefix = tmp_path_factory.mktemp("esbuild")
    env = dict(os.environ, npm_config_cache=str(prefix / "npm-cache"), npm_config_update_notifier="false")
    try:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), PACKAGE],
                           capture_output=True, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {PACKAGE} timed out: registry unreachable?")
    binary = prefix / "node_modules" / "@esbuild" / "linux-x64" / "bin" / "esbuild"
    if r.returncode != 0 or not binary.exists():
        pytest.skip(f"npm could not fetch {PACKAGE}: {r.stderr.strip()[-300:]}")
    return binary


def query(binary, *functions):
    r = subprocess.run([str(workload_path("gosym_query")), str(binary), *functions],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def field(out, key):
    m = re.search(rf"^{key} (.*)$", out, re.M)
    assert m, f"no {key} line in:\n{out}"
    return m.group(1)


def funcs(out, name):
    return [(int(a, 16), int(b, 16)) for a, b in
            re.findall(rf"^func {re.escape(name)} (0x[0-9a-f]+) (0x[0-9a-f]+)$", out, re.M)]


def test_version_and_module(esbuild):
    out = query(esbuild)
    version = field(out, "version")
    assert re.fullmatch(r"go1\.(2\d|[3-9]\d)(\.\d+)?.*", version), version
    assert field(out, "module") == "github.com/evanw/esbuild"
    assert field(out, "path") == "github.com/evanw/esbuild/cmd/esbuild"
    assert field(out, "format") == "go1.20"    # the 1.20+ table layout
    assert int(field(out, "functions")) > 1000


def test_functions_resolve(esbuild):
    out = query(esbuild, "runtime.gcStart", "main.main", "runtime.chansend1")
    assert field(out, "inline") == "yes"
    for name, file_suffix in [("runtime.gcStart", "runtime/mgc.go"),
                              ("main.main", "cmd/esbuild/main.go"),
                              ("runtime.chansend1", "runtime/chan.go")]:
        found = funcs(out, name)
        assert found, f"{name} not found:\n{out}"
        entry, end = found[0]
        assert end > entry
        # The entry resolves back to the function, in its source file.
        frame = re.search(rf"^frame {hex(entry)} (\S+) (\S+) (\d+) -$", out, re.M)
        assert frame, out
        assert frame.group(1) == name
        assert frame.group(2).endswith(file_suffix), frame.group(2)
        assert int(frame.group(3)) > 0
    # gcStart inlines small runtime helpers (acquirem, releasem, ...).
    assert int(field(out, "inlined_pcs runtime.gcStart")) > 0
