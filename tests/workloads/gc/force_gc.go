// Forces exactly N garbage collections with runtime.GC(), after a start
// signal: it prints "ready" and waits for a line on stdin, so a tracer can
// attach first; then "done" and waits for stdin to close before exiting.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

var sink [][]byte

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: force_gc N")
		os.Exit(2)
	}
	// Only the forced cycles: no collection triggered by heap growth.
	debug.SetGCPercent(-1)
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	in.ReadString('\n')
	for i := 0; i < n; i++ {
		// Some live data, so marking has work to do.
		sink = append(sink, make([]byte, 64<<10))
		runtime.GC()
	}
	fmt.Println("done")
	in.ReadString('\n')
}
