"""The cover of the TCP state-change programs (SONDE_ON_SET_STATE in
bpf/sonde_sock.bpf.h), driven by hand: the kernel skips the main program
for a change that nests in its run, or in the kernel's few instructions
around it, only by chance, so the test runs the two programs in the
orders nesting produces. Every tool that tracks TCP states has them."""
import re

import pytest

from bpf_run import run_raw_tp
from harness import Tool, bpf_programs, programs_held

TCP_ESTABLISHED, TCP_SYN_SENT, TCP_FIN_WAIT1, TCP_CLOSE = 1, 2, 4, 7
# Not sockets: the tools read them with faulting-safe reads and find
# nothing to report, but the cover decides before reading anything.
OUTER = (0xFFFF888000A01000, TCP_CLOSE, TCP_SYN_SENT)
INNER = (0xFFFF888000A02000, TCP_SYN_SENT, TCP_ESTABLISHED)
OTHER = (0xFFFF888000A03000, TCP_ESTABLISHED, TCP_FIN_WAIT1)


@pytest.mark.parametrize("tool", ["tcpconnect", "tcpretrans", "dns"])
def test_cover_does_exactly_the_skipped_runs(tool):
    t = Tool(tool, "-v", "--attach", "raw_tp")
    try:
        names = {bpf_programs()[i]["name"]: i for i in programs_held(t.proc.pid)}
        main, cover = names["set_state_raw"], names["set_state_cover_raw"]
        # The kernel calls the main program, then the cover, for every
        # change; a change the main program is skipped for reaches only
        # the cover.
        steps = [
            # Nothing nests: the cover has nothing to do.
            (main, OUTER), (cover, OUTER),
            # A change nests just before the main program records its own
            # (the window the kernel's code leaves): covered.
            (cover, INNER), (main, OUTER), (cover, OUTER),
            # It nests after the record, in the program's body: covered.
            (main, OUTER), (cover, INNER), (cover, OUTER),
            # It nests in the cover's run: the cover is skipped there, the
            # main program is not; the outer cover still knows its own.
            (main, OUTER), (main, INNER), (cover, OUTER),
            # And nothing is left over from all that.
            (main, OTHER), (cover, OTHER),
        ]
        for prog, args in steps:
            run_raw_tp(prog, args, cpu=0)
    finally:
        t.stop()
    covered = re.search(r"(\d+) runs the kernel skipped .* were done by a second program", t.stderr)
    assert covered and int(covered[1]) == 2, t.stderr
    assert "missed" not in t.stderr, t.stderr
