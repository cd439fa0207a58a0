import os

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
