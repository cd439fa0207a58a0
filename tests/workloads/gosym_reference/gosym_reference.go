// Prints what Go's own debug/gosym reads from a binary's function table,
// as the reference libsonde's parser is compared with in the integration
// tests (debug/gosym of this Go release; tables newer than it are not
// understood):
//
//	gosym_reference BINARY FUNCTION...
//
// For each FUNCTION, "func NAME ENTRY" and, at eight PCs spread over the
// function, "line PC FUNCTION FILE LINE" (FILE:LINE is the innermost
// position, FUNCTION the physical function).
package main

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"os"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gosym_reference: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gosym_reference BINARY FUNCTION...")
	}
	f, err := elf.Open(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	pclntab := f.Section(".gopclntab")
	text := f.Section(".text")
	if pclntab == nil || text == nil {
		fail("no .gopclntab or .text section")
	}
	data, err := pclntab.Data()
	if err != nil {
		fail("%v", err)
	}
	table, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		fail("%v", err)
	}
	for _, name := range os.Args[2:] {
		fn := table.LookupFunc(name)
		if fn == nil {
			fail("no function %s", name)
		}
		fmt.Printf("func %s 0x%x\n", name, fn.Entry)
		step := (fn.End - fn.Entry) / 8
		if step == 0 {
			step = 1
		}
		for pc := fn.Entry; pc < fn.End; pc += step {
			file, line, physical := table.PCToLine(pc)
			if physical == nil {
				fail("no function at 0x%x", pc)
			}
			fmt.Printf("line 0x%x %s %s %d\n", pc, physical.Name, file, line)
		}
	}
}
