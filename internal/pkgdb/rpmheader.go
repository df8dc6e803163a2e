package pkgdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// rpm header tags and types this package reads (rpmtag.h).
const (
	rpmTagName      = 1000
	rpmTagVersion   = 1001
	rpmTagRelease   = 1002
	rpmTagEpoch     = 1003
	rpmTagVendor    = 1011
	rpmTagArch      = 1022
	rpmTagSourceRPM = 1044

	rpmTypeInt32      = 4
	rpmTypeString     = 6
	rpmTypeI18NString = 9

	rpmIndexEntrySize = 16
)

// decodeRPMHeader reads the package of one header blob as the rpmdb
// stores it: entry and data counts (big-endian int32), the index entries
// (tag, type, offset, count), then the data. Only the tags a Package
// holds are read, each checked against the blob's bounds and each at most
// once (rpm writes a tag once; a blob repeating one could otherwise make
// every index entry copy the whole data again), so a hostile blob gives
// an error, never a panic, nor work or allocation beyond a few times its
// size.
//
// It replaces go-rpmdb's own header import, which is reached only
// through its ListPackages: that returns at the first bad blob while the
// reader goroutine it started stays blocked sending the next one, one
// leaked goroutine (with the database's file and connection) per read.
func decodeRPMHeader(blob []byte) (Package, error) {
	if len(blob) < 8 {
		return Package{}, fmt.Errorf("header of %d bytes", len(blob))
	}
	il := int64(binary.BigEndian.Uint32(blob))
	dl := int64(binary.BigEndian.Uint32(blob[4:]))
	dataStart := 8 + il*rpmIndexEntrySize
	if il == 0 || dataStart+dl > int64(len(blob)) {
		return Package{}, fmt.Errorf("header claims %d entries and %d data bytes in %d bytes", il, dl, len(blob))
	}
	data := blob[dataStart : dataStart+dl]
	var p Package
	seen := make(map[uint32]bool, 7)
	for i := int64(0); i < il; i++ {
		e := blob[8+i*rpmIndexEntrySize:]
		tag, typ := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
		off, count := int64(binary.BigEndian.Uint32(e[8:])), binary.BigEndian.Uint32(e[12:])
		if packageTag(tag) {
			if seen[tag] {
				return Package{}, fmt.Errorf("header tag %d twice", tag)
			}
			seen[tag] = true
		}
		if err := p.setRPMTag(tag, typ, data, off, count); err != nil {
			return Package{}, fmt.Errorf("header tag %d: %w", tag, err)
		}
	}
	if p.Name == "" || p.UpstreamVersion == "" {
		return Package{}, errors.New("header without a name or version")
	}
	return p, nil
}

// packageTag tells the tags setRPMTag reads.
func packageTag(tag uint32) bool {
	switch tag {
	case rpmTagName, rpmTagVersion, rpmTagRelease, rpmTagEpoch, rpmTagVendor, rpmTagArch, rpmTagSourceRPM:
		return true
	}
	return false
}

func (p *Package) setRPMTag(tag, typ uint32, data []byte, off int64, count uint32) error {
	var dst *string
	switch tag {
	case rpmTagName:
		dst = &p.Name
	case rpmTagVersion:
		dst = &p.UpstreamVersion
	case rpmTagRelease:
		dst = &p.Release
	case rpmTagVendor:
		dst = &p.Vendor
	case rpmTagArch:
		dst = &p.Arch
	case rpmTagSourceRPM:
		dst = &p.Source
	case rpmTagEpoch:
		if typ != rpmTypeInt32 || count != 1 || off+4 > int64(len(data)) {
			return fmt.Errorf("epoch of type %d, count %d at %d", typ, count, off)
		}
		epoch := int(int32(binary.BigEndian.Uint32(data[off:])))
		p.Epoch = &epoch
		return nil
	default:
		return nil
	}
	if typ != rpmTypeString && typ != rpmTypeI18NString {
		return fmt.Errorf("type %d where a string belongs", typ)
	}
	if off >= int64(len(data)) {
		return fmt.Errorf("string at %d past the %d data bytes", off, len(data))
	}
	s, _, ok := bytes.Cut(data[off:], []byte{0})
	if !ok {
		return fmt.Errorf("string at %d without its end", off)
	}
	*dst = string(s)
	return nil
}
