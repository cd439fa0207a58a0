"""Code mapped after the stack tools attached (dlopen): the tools watch
the kernel's reports of new executable mappings, classify the library
for --unwind auto and unwind through it. tests/workloads/dlopen_late.c
(frame pointers) loads late_chain.c (none) on request and then runs
main -> dlopen_late_run -> late_chain_outer -> late_chain_inner, whose
leaf spins or makes its nanosleep syscall itself. Frame pointers alone
lose late_chain_outer and everything the library was called from."""
import re

from harness import LineWorkload, Tool, wait_for, workload_path

LIB = workload_path("liblate_chain.so")
CHAIN = "main;dlopen_late_run;late_chain_outer;late_chain_inner"


class Late(LineWorkload):
    def __init__(self, *mode):
        super().__init__([workload_path("dlopen_late"), LIB, *mode])
        assert self.wait_line("ready") == ""

    def sleep(self):
        """Blocks 50 ms in libc, before the library exists."""
        self.say("go")
        self.wait_line("slept")

    def load(self, tool):
        """Loads the library; returns once the tool has classified it."""
        self.say("go")
        self.wait_line("loaded")
        wait_for(lambda: re.search(rf"pid {self.pid}: DWARF unwinding in .*liblate_chain\.so",
                                   tool.stderr),
                 what=f"the tool to classify the library: {tool.stderr}")

    def run(self):
        self.say("go")
        self.wait_line("done")


def folded(tool):
    rows = []
    for line in tool.lines():
        stack, _, value = line.rpartition(" ")
        assert stack and value.isdigit(), f"not a folded line: {line!r}"
        rows.append((stack, int(value)))
    return rows


def test_offcpu_unwinds_through_a_library_loaded_later(spawn):
    """The unwinder set the process up for a block before the library
    was loaded (an interval's report unwound it): the library's frames
    are then in none of the modules it knows, and it must look again."""
    w = spawn(Late, "sleep", "5", "100")
    tool = Tool("offcpu", "-p", w.pid, "-v", "-o", "folded", "-i", "1")
    w.sleep()
    wait_for(lambda: "usleep" in tool.stdout, what=f"an interval with the 50 ms sleep: {tool.stdout}")
    w.load(tool)
    w.run()
    assert tool.stop() == 0, tool.stderr
    rows = folded(tool)
    total = sum(v for stack, v in rows if CHAIN in stack)
    assert 400_000 <= total <= 800_000, tool.stdout + tool.stderr


def test_profile_classifies_a_library_loaded_later(spawn):
    w = spawn(Late, "spin", "2000")
    tool = Tool("profile", "-p", w.pid, "-v", "-F", 199, "-o", "folded")
    w.sleep()
    w.load(tool)
    w.run()
    assert tool.stop() == 0, tool.stderr
    rows = folded(tool)
    in_lib = [(s, c) for s, c in rows if s.endswith(";late_chain_inner")]
    total = sum(c for _, c in in_lib)
    assert total >= 100, tool.stdout + tool.stderr
    whole = sum(c for s, c in in_lib if CHAIN in s)
    assert whole / total > 0.9, tool.stdout + tool.stderr
