// go_resolve looks names up with Go's own resolver (run it with
// GODEBUG=netdns=go): the queries are built and sent by the Go runtime,
// not by libc, so only a tool that reads packets sees them. Prints one
// address per line; exits 2 when the name does not exist.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_resolve NAME")
		os.Exit(1)
	}
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupHost(context.Background(), os.Args[1])
	if err != nil {
		var dnsErr *net.DNSError
		fmt.Fprintln(os.Stderr, "go_resolve:", err)
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			os.Exit(2)
		}
		os.Exit(1)
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
}
