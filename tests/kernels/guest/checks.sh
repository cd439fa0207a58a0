# Sourced by the guest's /init: the two ways a planned check runs. Each
# check is reported on the second serial port as lines
#   SONDE <check> out <a line of its stdout>
#   SONDE <check> err <a line of its stderr>
#   SONDE <check> exit <status>
# which tests/kernels/vm.py parses. The guest only runs things; the host
# judges the results (with the same Python as the host's own tests).

results=/dev/ttyS1
limit=60	# seconds any one command may take

# report NAME STATUS STDOUT-FILE STDERR-FILE
report() {
	awk -v p="SONDE $1 out " '{ print p $0 }' "$3"
	awk -v p="SONDE $1 err " '{ print p $0 }' "$4"
	echo "SONDE $1 exit $2"
} >>"$results"

# run NAME COMMAND [ARG...]: runs COMMAND to its end.
run() {
	local name=$1
	shift
	timeout "$limit" "$@" </dev/null >/tmp/out 2>/tmp/err
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
	timeout "$limit" "$@" </dev/null >>"$out" 2>>"$err" &
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
