"""CO-RE relocations resolved against the small BTF of lib/core_btf.c (the
kernel types an object's relocations can match) come out exactly as libbpf
resolves them against all of the kernel's BTF (SONDE_CORE_BTF=kernel):
the same instructions patched to the same values, for every program each
tool loads."""
import os
import re
import signal
import subprocess

import pytest

from harness import tool_path

# libbpf's debug lines (-vvv) for each relocation's outcome: an offset or
# value patched in, or an instruction poisoned (nothing matched).
OUTCOME = re.compile(r"prog '([^']+)': relo #(\d+): ((?:patched|substituting|poison).*)")


def load_log(tool, core_btf, cache_dir=None):
    """libbpf's log of the tool up to its attach, then stopped."""
    env = dict(os.environ)
    env.pop("SONDE_CORE_BTF", None)
    if core_btf:
        env["SONDE_CORE_BTF"] = core_btf
    if cache_dir is not None:
        env["SONDE_CACHE_DIR"] = str(cache_dir)
    p = subprocess.Popen([str(tool_path(tool)), "-vvv"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env, text=True, errors="replace")
    said = []
    for line in iter(p.stderr.readline, ""):
        said.append(line)
        if "; tracing" in line:
            break
    p.send_signal(signal.SIGINT)
    said.append(p.communicate(timeout=60)[1])
    text = "".join(said)
    assert p.returncode == 0, text[-3000:]
    return text


@pytest.mark.parametrize("tool", ["tcpconnect", "tcpretrans", "dns", "oomkill", "fsslower",
                                  "offcpu", "profile"])
def test_relocations_match_the_whole_kernel_btf(tool):
    small = load_log(tool, None)
    whole = load_log(tool, "kernel")
    assert "CO-RE: resolving against" not in whole
    outcomes = OUTCOME.findall(small)
    assert outcomes, small[-3000:]
    assert outcomes == OUTCOME.findall(whole)
    # The small BTF was used, or the tool said why not.
    m = re.search(r"CO-RE: resolving against (\d+) of the kernel's types", small)
    assert m or "CO-RE: no kernel type for" in small, small[-3000:]
    if tool == "profile":
        # Its relocations start from task_struct and css_set, which every
        # kernel with BTF has: no reason to fall back.
        assert m and 0 < int(m.group(1)) < 5000


# libbpf's debug line for a map it took over rather than created.
TAKEN_OVER = re.compile(r"libbpf: map '([^']+)': skipping creation \(preset fd=\d+\)")


@pytest.mark.parametrize("tool", ["profile", "offcpu"])
def test_big_maps_are_made_while_the_btf_is_written(tool):
    """lib/maps_early.c makes the preallocated maps before the load, while
    the CO-RE BTF is being written on a thread, and libbpf takes them over:
    the tool still loads, attaches and stops cleanly (load_log)."""
    log = load_log(tool, None)
    made = re.search(r"(\d+) maps made ahead of the load", log)
    assert made and int(made.group(1)) >= 4, log[-3000:]
    taken = set(TAKEN_OVER.findall(log))
    assert len(taken) == int(made.group(1)), log[-3000:]
    # The stack map, the totals and the ring buffer: most of the load's
    # map creation. libbpf's own maps (.rodata) stay libbpf's.
    assert {"sonde_stacks", "sonde_totals", "events"} <= taken, taken
    assert not any(name.endswith(".rodata") for name in taken), taken


KEPT = re.compile(r"CO-RE: kept the kernel types in (\S+) for the next start")


def test_subset_is_kept_for_the_next_start(tmp_path):
    """lib/core_btf_cache.c: the first start writes the subset to the cache
    directory; the next reads it back instead of parsing the kernel's BTF,
    and relocates exactly as against the whole BTF; a damaged file is
    written again; an empty SONDE_CACHE_DIR keeps nothing."""
    cache = tmp_path / "cache"
    first = load_log("profile", None, cache)
    kept = KEPT.search(first)
    assert kept, first[-3000:]
    path = kept.group(1)
    assert os.path.dirname(path) == str(cache)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(cache).st_mode & 0o777 == 0o700

    second = load_log("profile", None, cache)
    assert f"of the kernel's types (kept in {path})" in second, second[-3000:]
    assert not KEPT.search(second)
    assert OUTCOME.findall(second) == OUTCOME.findall(load_log("profile", "kernel"))

    with open(path, "wb") as f:
        f.write(b"\x9f\xeb\x01\x00" + b"not the rest of a BTF" * 4)
    third = load_log("profile", None, cache)
    assert f"{path} is not a BTF of ours: writing it again" in third, third[-3000:]
    assert KEPT.search(third) and KEPT.search(third).group(1) == path
    assert f"(kept in {path})" in load_log("profile", None, cache)

    # Off: the subset is still made, on the thread, and kept nowhere.
    log = load_log("profile", None, "")
    assert "CO-RE: resolving against" in log and "kept" not in log, log[-3000:]
