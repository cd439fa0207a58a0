import os
import shutil
import subprocess

import pytest

import harness
from harness import BUILD


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests load BPF: run as root")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def built_tree():
    assert (BUILD / "tools").is_dir(), f"no build at {BUILD}: run scripts/test or meson first"


@pytest.fixture(autouse=True)
def kill_leftover_tools():
    yield
    while harness.RUNNING:
        tool = harness.RUNNING.pop()
        if tool.proc.poll() is None:
            tool.proc.kill()
            tool.proc.wait()


@pytest.fixture
def spawn():
    """spawn(Class, *args): a harness.LineWorkload (subclass) started for
    this test, killed after it if still running."""
    started = []

    def start(cls, *args, **kw):
        started.append(cls(*args, **kw))
        return started[-1]
    yield start
    for w in started:
        w.kill()


def npm_binary(tmp_path_factory, package, version, relpath):
    """A file of an npm package (e.g. esbuild's Go binary), installed into a
    fresh prefix with its own cache; skips, saying why, if npm cannot fetch
    it. version None: the latest."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot fetch esbuild's Go binaries")
    prefix = tmp_path_factory.mktemp("npm")
    spec = f"{package}@{version}" if version else package
    env = dict(os.environ, npm_config_cache=str(prefix / "npm-cache"),
               npm_config_update_notifier="false")
    try:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), spec],
                           capture_output=True, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {spec} timed out: registry unreachable?")
    path = prefix / "node_modules" / package / relpath
    if r.returncode != 0 or not path.exists():
        pytest.skip(f"npm could not fetch {spec}: {r.stderr.strip()[-300:]}")
    return path
