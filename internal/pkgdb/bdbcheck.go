package pkgdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Berkeley DB hash layout, as db_page.h defines it and go-rpmdb reads it.
const (
	bdbHashMagic        = 0x00061561
	bdbPageHeaderSize   = 26
	bdbHashUnsortedPage = 2
	bdbHashPage         = 13
	bdbOverflowPage     = 7
	bdbHashOffPage      = 3 // HOFFPAGE: a value stored on overflow pages
	bdbHashOffEntrySize = 12
)

var sqliteMagic = []byte("SQLite format 3\x00")

// checkBerkeleyDB walks a Berkeley DB hash file the way go-rpmdb's reader
// walks it and refuses the shapes on which that reader loops forever or
// panics in a goroutine of its own (where no recover can reach): a value
// index outside its page, an overflow chain through a page that is not an
// overflow page (it retries that page forever), a chain that cycles or
// leaves the file, a last page claiming more bytes than it holds.
func checkBerkeleyDB(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	head := make([]byte, 512)
	if n, err := f.ReadAt(head, 0); n < 72 && err != nil {
		return fmt.Errorf("no database header: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(head[12:]) == bdbHashMagic:
	case binary.BigEndian.Uint32(head[12:]) == bdbHashMagic:
		order = binary.BigEndian
	default:
		return errors.New("neither sqlite, ndb nor a Berkeley DB hash database")
	}
	pageSize := int64(order.Uint32(head[20:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("page size %d is not a Berkeley DB one", pageSize)
	}
	pages := int64(order.Uint32(head[32:])) + 1
	if pages*pageSize > info.Size() {
		return fmt.Errorf("%d pages of %d bytes do not fit in a file of %d bytes", pages, pageSize, info.Size())
	}
	c := bdbChecker{r: f, order: order, pageSize: pageSize, pages: pages, page: make([]byte, pageSize), chain: make([]byte, pageSize)}
	for p := int64(0); p < pages; p++ {
		if err := c.checkPage(p); err != nil {
			return fmt.Errorf("page %d: %w", p, err)
		}
	}
	return nil
}

type bdbChecker struct {
	r               io.ReaderAt
	order           binary.ByteOrder
	pageSize, pages int64
	page, chain     []byte
	// steps counts overflow pages visited over all chains: each belongs
	// to one chain, so a valid file needs at most one visit per page, and
	// chains sharing pages cannot make the walk (or go-rpmdb's, which
	// copies every chain) quadratic.
	steps int64
}

func (c *bdbChecker) read(buf []byte, p int64) error {
	_, err := c.r.ReadAt(buf, p*c.pageSize)
	return err
}

func (c *bdbChecker) checkPage(p int64) error {
	if err := c.read(c.page, p); err != nil {
		return err
	}
	if t := c.page[25]; t != bdbHashUnsortedPage && t != bdbHashPage {
		return nil
	}
	entries := int64(c.order.Uint16(c.page[20:]))
	if entries%2 != 0 || bdbPageHeaderSize+entries*2 > c.pageSize {
		return fmt.Errorf("%d index entries", entries)
	}
	for i := int64(1); i < entries; i += 2 { // the values of key/value pairs
		idx := int64(c.order.Uint16(c.page[bdbPageHeaderSize+2*i:]))
		if idx >= c.pageSize {
			return fmt.Errorf("value offset %d past the page", idx)
		}
		if c.page[idx] != bdbHashOffPage {
			continue
		}
		if idx+bdbHashOffEntrySize > c.pageSize {
			return fmt.Errorf("overflow entry at %d past the page", idx)
		}
		if err := c.checkChain(int64(c.order.Uint32(c.page[idx+4:]))); err != nil {
			return err
		}
	}
	return nil
}

// checkChain follows an overflow chain, within the visits left.
func (c *bdbChecker) checkChain(p int64) error {
	for ; p != 0; c.steps++ {
		if c.steps >= c.pages || p >= c.pages {
			return fmt.Errorf("overflow chains cycle, share pages or leave the file at page %d", p)
		}
		if err := c.read(c.chain, p); err != nil {
			return err
		}
		if c.chain[25] != bdbOverflowPage {
			return fmt.Errorf("overflow chain reaches page %d of type %d", p, c.chain[25])
		}
		next := int64(c.order.Uint32(c.chain[16:]))
		if used := int64(c.order.Uint16(c.chain[22:])); next == 0 && bdbPageHeaderSize+used > c.pageSize {
			return fmt.Errorf("overflow page %d holds %d bytes", p, used)
		}
		p = next
	}
	return nil
}
