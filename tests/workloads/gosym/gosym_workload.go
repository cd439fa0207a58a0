// A Go program with known functions and lines, for the Go symbolizer and
// build-info tests: they read this file for the "LINE:" markers and check
// that the pclntab maps the code of those lines back to them. spin is kept
// out of line; square is inlined into it, so the multiply in spin has two
// frames. The go statement, channel send and runtime.GC make sure
// runtime.newproc, runtime.chansend1 and runtime.gcStart are linked in.
package main

import (
	"fmt"
	"os"
	"runtime"
)

//go:noinline
func spin(n int) int {
	total := 0
	for i := 0; i < n; i++ {
		total += square(i) // LINE:spin_calls_square
	}
	return total
}

func square(x int) int {
	return x * x // LINE:square_body
}

func main() {
	results := make(chan int, 1)
	go func() {
		results <- spin(len(os.Args) * 1000) // LINE:goroutine_send
	}()
	runtime.GC() // LINE:main_gc
	fmt.Println(<-results)
}
