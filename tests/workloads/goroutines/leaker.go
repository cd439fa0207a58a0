// A Go program with goroutines of known origin, for sonde-goroutines:
// "before" ones started before it prints "ready" (so before a tracer
// attaches), then on stdin commands:
//   leak N    N goroutines that block forever, from one go statement
//   short N   N goroutines that exit at once, from another; waits until
//             they have ended
//   drip N MS N goroutines leaked like "leak 1", one every MS milliseconds,
//             in the background (answered at once)
//   count     prints runtime.NumGoroutine(), the runtime's own count
// each answered by a "done" (or "count N") line. The tests read this file
// for the LINE: markers of the go statements.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	never    = make(chan struct{})
	finished sync.WaitGroup
)

//go:noinline
func parked() {
	<-never
}

//go:noinline
func waitBefore() {
	<-never
}

//go:noinline
func finish() {
	finished.Done()
}

//go:noinline
func leakSome(n int) {
	for i := 0; i < n; i++ {
		go parked() // LINE:leak_site
	}
}

//go:noinline
func shortLived(n int) {
	running := runtime.NumGoroutine()
	finished.Add(n)
	for i := 0; i < n; i++ {
		go finish() // LINE:short_site
	}
	finished.Wait()
	// Done comes just before each goroutine's end: wait for the ends.
	for runtime.NumGoroutine() > running {
		runtime.Gosched()
	}
}

//go:noinline
func drip(n int, every time.Duration) {
	for i := 0; i < n; i++ {
		leakSome(1)
		time.Sleep(every)
	}
}

//go:noinline
func startBefore(n int) {
	for i := 0; i < n; i++ {
		go waitBefore() // LINE:before_site
	}
}

func main() {
	before := 0
	if len(os.Args) > 1 {
		before, _ = strconv.Atoi(os.Args[1])
	}
	startBefore(before)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		n := 0
		if len(f) > 1 {
			n, _ = strconv.Atoi(f[1])
		}
		switch {
		case len(f) == 0:
		case f[0] == "leak":
			leakSome(n)
			fmt.Println("done")
		case f[0] == "short":
			shortLived(n)
			fmt.Println("done")
		case f[0] == "drip" && len(f) > 2:
			ms, _ := strconv.Atoi(f[2])
			go drip(n, time.Duration(ms)*time.Millisecond) // LINE:drip_site
			fmt.Println("done")
		case f[0] == "count":
			fmt.Println("count", runtime.NumGoroutine())
		}
	}
}
