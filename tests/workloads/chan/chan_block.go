// Goroutines that block on channels for a known time: a sender whose
// receiver sleeps D before each of N receives (each send blocks about D),
// a select whose only ready case arrives D after it starts waiting, M
// times, and a receive (v, ok := <-c) that a close ends after D. Then M
// selects with a default on each side of a buffered channel, which never
// block, and GROW more: one in each of GROW new goroutines, at the bottom
// of a recursion 0, 1, ... GROW-1 calls deep. A new goroutine starts on a
// small stack, so for some depths the select's own runtime function is
// the one whose stack check fails, and it runs its prologue twice (the
// stack grows, then the function starts over). Go's own block profile
// (every event: rate 1) is written to PROFILE afterwards, for the
// tracer's figures to be checked against.
//
// It prints the channels' addresses and "ready", waits for a line on stdin
// (so a tracer can attach first), runs, prints "done" and waits for stdin
// to close before exiting. The "// LINE:" markers name the lines the tests
// expect as call sites.
//
//	chan_block N M D_MS PROFILE
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

//go:noinline
func sender(ch chan int, n int) {
	for i := 0; i < n; i++ {
		ch <- i // LINE:send
	}
}

//go:noinline
func receiver(ch chan int, n int, d time.Duration, done chan bool) {
	for i := 0; i < n; i++ {
		time.Sleep(d)
		<-ch // LINE:recv
	}
	done <- true
}

//go:noinline
func selecter(ready chan int, quit chan bool, m int) int {
	got := 0
	for i := 0; i < m; i++ {
		select { // LINE:select
		case v := <-ready:
			got += v
		case <-quit:
			return got
		}
	}
	return got
}

//go:noinline
func waitClose(c chan int) bool {
	_, ok := <-c // LINE:recv2
	return ok
}

//go:noinline
func nonblocking(nb chan int, m int) int {
	got := 0
	for i := 0; i < m; i++ {
		select {
		case nb <- i: // LINE:nbsend
		default:
		}
		select {
		case v := <-nb: // LINE:nbrecv
			got += v
		default:
		}
	}
	return got
}

// GROW: the depths tried; enough to cross a new goroutine's stack's first
// boundaries whatever this function's frame size.
const GROW = 256

//go:noinline
func deep(d int, c chan int) {
	if d > 0 {
		deep(d-1, c)
		return
	}
	select {
	case c <- d: // LINE:nbgrow
	default:
	}
}

//go:noinline
func growing() {
	c := make(chan int, 1)
	done := make(chan bool)
	for d := 0; d < GROW; d++ {
		go func(d int) {
			deep(d, c)
			done <- true
		}(d)
		<-done
	}
}

func arg(i int) int {
	v, err := strconv.Atoi(os.Args[i])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: chan_block N M D_MS PROFILE")
		os.Exit(2)
	}
	return v
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: chan_block N M D_MS PROFILE")
		os.Exit(2)
	}
	n, m, d := arg(1), arg(2), time.Duration(arg(3))*time.Millisecond
	runtime.SetBlockProfileRate(1)
	ch := make(chan int)
	ready := make(chan int)
	quit := make(chan bool)
	done := make(chan bool, 1)
	closing := make(chan int)
	nb := make(chan int, 1)
	fmt.Printf("send-chan %p\nselect-chan %p\nclose-chan %p\nnb-chan %p\n", ch, ready, closing, nb)
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	in.ReadString('\n')

	go receiver(ch, n, d, done)
	sender(ch, n)
	<-done

	go func() {
		for i := 0; i < m; i++ {
			time.Sleep(d)
			ready <- 1
		}
	}()
	selecter(ready, quit, m)

	go func() {
		time.Sleep(d)
		close(closing)
	}()
	waitClose(closing)
	nonblocking(nb, m)
	growing()

	f, err := os.Create(os.Args[4])
	if err == nil {
		err = pprof.Lookup("block").WriteTo(f, 1)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "block profile:", err)
		os.Exit(1)
	}
	fmt.Println("done")
	in.ReadString('\n')
}
