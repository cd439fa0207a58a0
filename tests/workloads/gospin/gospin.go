// Spins on the CPU through a known call chain, main.main -> main.outer ->
// main.middle -> main.spin, until killed: the profiler test builds it
// stripped (-ldflags='-s -w') and expects the chain, named from the
// binary's pclntab alone. spin keeps a stack frame (the array): Go gives
// frameless leaf functions no frame pointer, and frame-pointer unwinding
// would then skip their caller.
package main

//go:noinline
func spin(n int) int {
	var squares [64]int
	total := 0
	for i := 0; i < n; i++ {
		squares[i&63] = i * i
		total += squares[(i*7)&63]
	}
	return total
}

//go:noinline
func middle() int {
	return spin(1 << 20)
}

//go:noinline
func outer() int {
	return middle()
}

var sink int

func main() {
	for {
		sink += outer()
	}
}
