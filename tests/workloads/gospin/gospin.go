// Spins on the CPU through a known call chain, main.main -> main.outer ->
// main.middle -> main.spin, until killed: the profiler test builds it
// stripped (-ldflags='-s -w') and expects the chain, named from the
// binary's pclntab alone. spin is a true frameless leaf (no locals, no
// calls): Go sets up no frame pointer in it, so a frame-pointer walk
// skips main.middle unless the profiler finds its return address at the
// stack pointer (the pcsp table says spin has no frame).
package main

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
	for {
		sink += outer()
	}
}
