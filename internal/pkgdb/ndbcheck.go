package pkgdb

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
)

// rpm's ndb layout (Packages.db, SUSE), as lib/backend/ndb/rpmpkg.c
// writes it and go-rpmdb reads it: a 32-byte header, then slot pages of
// 16-byte slots (the header takes the first two), each naming a package
// and the 16-byte blocks of its blob: a 16-byte blob header, the header
// blob, a tail.
const (
	ndbHeaderSize    = 32
	ndbSlotPageSize  = 4096
	ndbSlotSize      = 16
	ndbBlockSize     = 16
	ndbBlobHeadSize  = 16
	ndbMaxSlotPages  = 2048 // go-rpmdb refuses more
	ndbHeaderSlots   = ndbHeaderSize / ndbSlotSize
	ndbSlotsPerPage  = ndbSlotPageSize / ndbSlotSize
	ndbSupportedVers = 0
)

var (
	ndbMagic     = []byte("RpmP")
	ndbSlotMagic = []byte("Slot")
	ndbBlobMagic = []byte("BlbS")
)

// ndbBlob is the block range a slot gives its package.
type ndbBlob struct {
	pkg, start, blocks int64
}

// checkNDB reads an ndb file's header and slot pages and every blob
// header they point at, and refuses what go-rpmdb's ndb reader would
// trust: slot pages past the file, a slot without its magic (which that
// reader prints to stdout), a blob that leaves the file, claims more bytes
// than its blocks hold or overlaps the slots or another blob (the reader
// allocates each blob's claimed length and reads a shared one once per
// slot), a blob header of another package (after which the reader's
// goroutine sends two entries for one slot). So the reader allocates and
// reads at most the file's size.
func checkNDB(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	head := make([]byte, ndbHeaderSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("ndb header: %w", err)
	}
	le := binary.LittleEndian
	version, pages := le.Uint32(head[4:]), int64(le.Uint32(head[12:]))
	if string(head[:4]) != string(ndbMagic) || version != ndbSupportedVers {
		return fmt.Errorf("not an ndb header of version %d", ndbSupportedVers)
	}
	if pages == 0 || pages > ndbMaxSlotPages || pages*ndbSlotPageSize > size {
		return fmt.Errorf("%d ndb slot pages in a file of %d bytes (1 to %d, within the file)", pages, size, ndbMaxSlotPages)
	}
	slots := make([]byte, pages*ndbSlotPageSize)
	if _, err := f.ReadAt(slots, 0); err != nil {
		return fmt.Errorf("ndb slot pages: %w", err)
	}
	var blobs []ndbBlob
	for i := int64(ndbHeaderSlots); i < pages*ndbSlotsPerPage; i++ {
		s := slots[i*ndbSlotSize:]
		if string(s[:4]) != string(ndbSlotMagic) {
			return fmt.Errorf("ndb slot %d has no slot magic", i)
		}
		if pkg := int64(le.Uint32(s[4:])); pkg != 0 {
			blobs = append(blobs, ndbBlob{pkg: pkg, start: int64(le.Uint32(s[8:])), blocks: int64(le.Uint32(s[12:]))})
		}
	}
	return checkNDBBlobs(f, size, pages*ndbSlotPageSize/ndbBlockSize, blobs)
}

// checkNDBBlobs checks the slots' blobs against each other, the slot
// pages (the first firstBlock blocks) and the file.
func checkNDBBlobs(f *os.File, size, firstBlock int64, blobs []ndbBlob) error {
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].start < blobs[j].start })
	end := firstBlock
	head := make([]byte, ndbBlobHeadSize)
	for _, b := range blobs {
		if b.start < end || b.blocks == 0 || (b.start+b.blocks)*ndbBlockSize > size {
			return fmt.Errorf("ndb package %d: blocks %d+%d overlap the slots or another package, or leave the file of %d bytes",
				b.pkg, b.start, b.blocks, size)
		}
		end = b.start + b.blocks
		if _, err := f.ReadAt(head, b.start*ndbBlockSize); err != nil {
			return fmt.Errorf("ndb package %d: %w", b.pkg, err)
		}
		le := binary.LittleEndian
		if string(head[:4]) != string(ndbBlobMagic) || int64(le.Uint32(head[4:])) != b.pkg {
			return fmt.Errorf("ndb package %d: no blob of that package at block %d", b.pkg, b.start)
		}
		if length := int64(le.Uint32(head[12:])); ndbBlobHeadSize+length > b.blocks*ndbBlockSize {
			return fmt.Errorf("ndb package %d: a blob of %d bytes in %d blocks", b.pkg, length, b.blocks)
		}
	}
	return nil
}
