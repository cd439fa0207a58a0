# Sourced by the guest's /init: the ways a planned check runs. Each
# check is reported on the second serial port as lines
#   SONDE <check> out <a line of its stdout>
#   SONDE <check> err <a line of its stderr>
#   SONDE <check> exit <status>
# which tests/kernels/vm.py parses. The guest only runs things; the host
# judges the results (with the same Python as the host's own tests).

# The reports go to file descriptor 3, which /init holds open on the
# second serial port for the whole run (the programs run get it closed).
# The last close of a serial port waits only so long (closing_wait) for
# its output to drain and throws the rest away: with a close after each
# report, the last line of one once went missing in a guest starved of
# host CPU.
limit=60	# seconds any one command may take

# report NAME STATUS STDOUT-FILE STDERR-FILE
report() {
	awk -v p="SONDE $1 out " '{ print p $0 }' "$3"
	awk -v p="SONDE $1 err " '{ print p $0 }' "$4"
	echo "SONDE $1 exit $2"
} >&3

# run NAME COMMAND [ARG...]: runs COMMAND to its end.
run() {
	local name=$1
	shift
	timeout "$limit" "$@" </dev/null >/tmp/out 2>/tmp/err 3>&-
	report "$name" $? /tmp/out /tmp/err
}

# trace NAME WORKLOAD TOOL [ARG...]: starts TOOL, waits until it says it is
# tracing (every sonde tool logs "; tracing" with -v once attached), runs
# the shell command WORKLOAD as check NAME.workload, then stops TOOL with
# SIGINT and reports it as check NAME. busybox's timeout execs TOOL, so $!
# is the tool itself. The tool's files are new for each check and created
# before it starts: the background shell opens them only later, and a
# stale "; tracing" must not be mistaken for this run's.
trace() {
	local name=$1 workload=$2 tool waited=0
	local out="/tmp/$1.out" err="/tmp/$1.err"
	shift 2
	: >"$out"
	: >"$err"
	timeout "$limit" "$@" </dev/null >>"$out" 2>>"$err" 3>&- &
	tool=$!
	while ! grep -q '; tracing' "$err" && kill -0 "$tool" 2>/dev/null &&
		[ "$waited" -lt $((limit * 10)) ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	run "$name.workload" sh -c "$workload"
	# A background job of a non-interactive shell ignores SIGINT; the
	# tool still receives it because it blocks SIGINT (for its signalfd)
	# before it says it is tracing.
	kill -INT "$tool" 2>/dev/null
	wait "$tool"
	report "$name" $? "$out" "$err"
}

# spawn NAME COMMAND [ARG...]: starts COMMAND in the background and goes
# on once it has printed its first line: a process for later checks to
# trace by its pid (/tmp/NAME.pid), which lives until the guest powers
# off. Its stdin is the FIFO /tmp/NAME.in, held open so that a check can
# send it lines (echo >/tmp/NAME.in) without ending it; its output goes
# to /tmp/NAME.out. Reported as check NAME: its first line, or why none.
spawn() {
	local name=$1 waited=0
	shift
	mkfifo "/tmp/$name.in"
	"$@" <"/tmp/$name.in" >"/tmp/$name.out" 2>&1 3>&- &
	echo $! >"/tmp/$name.pid"
	sleep 100000 >"/tmp/$name.in" 3>&- &
	while [ ! -s "/tmp/$name.out" ] && kill -0 "$(cat "/tmp/$name.pid")" 2>/dev/null &&
		[ "$waited" -lt $((limit * 10)) ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	head -n 1 "/tmp/$name.out" >/tmp/out
	: >/tmp/err
	[ -s /tmp/out ]
	report "$name" $? /tmp/out /tmp/err
}
