// Spins on the CPU through a known call chain, main.main -> main.outer ->
// main.middle -> main.spin, until killed: the profiler test builds it
// stripped (-ldflags='-s -w') and expects the chain, named from the
// binary's pclntab alone. spin is a true frameless leaf (no locals, no
// calls): Go sets up no frame pointer in it, so a frame-pointer walk
// skips main.middle unless the profiler finds its return address at the
// stack pointer (the pcsp table says spin has no frame).
//
// "gospin sleep" sleeps instead, 20 ms at a time: its idle threads then
// block in runtime.futex, an assembly function without a frame, called
// by runtime.futexsleep (the off-CPU test's frameless leaf).
package main

import (
	"os"
	"time"
)

//go:noinline
func spin(n int) int {
	total := 0
	for i := 0; i < n; i++ {
		total += i * i
	}
	return total
}

//go:noinline
func middle() int {
	return spin(1<<20) + 1
}

//go:noinline
func outer() int {
	return middle() + 1
}

var sink int

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		for {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for {
		sink += outer()
	}
}
