//go:build ignore

// Command pack writes an image as a fuzz seed: its size, then each
// non-zero 512-byte sector with its offset (see sparseImage in
// fuzz_test.go). Log record headers of cycle 0, which mkfs.xfs writes over
// the whole log, are left out too: to the reader they count as the zero
// sectors of a never-written log. Usage: go run pack.go IMAGE > SEED.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log"
	"os"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	_ = binary.Write(w, binary.BigEndian, uint64(st.Size()))
	sector := make([]byte, 512)
	zero := make([]byte, 512)
	for off := int64(0); ; off += 512 {
		if _, err := io.ReadFull(f, sector); err != nil {
			break
		}
		cycle0 := binary.BigEndian.Uint32(sector) == 0xFEEDBABE && binary.BigEndian.Uint32(sector[4:]) == 0
		if !bytes.Equal(sector, zero) && !cycle0 {
			_ = binary.Write(w, binary.BigEndian, uint64(off))
			_, _ = w.Write(sector)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
}
