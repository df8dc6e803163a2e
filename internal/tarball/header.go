package tarball

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Tar type flags (ustar typeflag byte).
const (
	typeReg     = '0'
	typeLink    = '1'
	typeSymlink = '2'
	typeChar    = '3'
	typeBlock   = '4'
	typeDir     = '5'
	typeFIFO    = '6'
	typePAX     = 'x'
)

const blockSize = 512

// ustar header field offsets and widths.
const (
	nameLen     = 100
	offMode     = 100
	offUID      = 108
	offGID      = 116
	offSize     = 124
	offMtime    = 136
	offChksum   = 148
	offTypeflag = 156
	offLinkname = 157
	offMagic    = 257
	offDevMajor = 329
	offDevMinor = 337
)

// header is one archive member as GNU tar would describe it.
type header struct {
	name     string // "./etc/hostname"; directories end in "/"
	typeflag byte
	mode     uint32 // permission bits with setuid, setgid and sticky
	uid, gid uint32
	size     int64 // bytes of member data that follow the header
	mtime    int64 // seconds since the epoch
	linkname string
	devMajor uint32
	devMinor uint32
	xattrs   []fstree.Xattr
	sparse   *sparseMap
}

// paxRecords returns what the ustar header cannot hold, in a fixed order,
// and the name to put in the ustar header.
func (h *header) paxRecords() (records []paxRecord, ustarName string) {
	ustarName = h.name
	if h.sparse != nil {
		// GNU tar's PAX sparse format 1.0: the member is stored under a
		// fake name; GNU.sparse.name carries the real one.
		ustarName = sparseMemberName(h.name)
		records = append(records,
			paxRecord{"GNU.sparse.major", "1"},
			paxRecord{"GNU.sparse.minor", "0"},
			paxRecord{"GNU.sparse.name", h.name},
			paxRecord{"GNU.sparse.realsize", strconv.FormatInt(h.sparse.realSize, 10)})
	} else if len(h.name) > nameLen {
		records = append(records, paxRecord{"path", h.name})
	}
	if len(h.linkname) > nameLen {
		records = append(records, paxRecord{"linkpath", h.linkname})
	}
	if !fitsOctal(int64(h.uid), 8) {
		records = append(records, paxRecord{"uid", strconv.FormatUint(uint64(h.uid), 10)})
	}
	if !fitsOctal(int64(h.gid), 8) {
		records = append(records, paxRecord{"gid", strconv.FormatUint(uint64(h.gid), 10)})
	}
	if !fitsOctal(h.size, 12) {
		records = append(records, paxRecord{"size", strconv.FormatInt(h.size, 10)})
	}
	if !fitsOctal(h.mtime, 12) {
		records = append(records, paxRecord{"mtime", strconv.FormatInt(h.mtime, 10)})
	}
	if !fitsOctal(int64(h.devMajor), 8) {
		records = append(records, paxRecord{"SCHILY.devmajor", strconv.FormatUint(uint64(h.devMajor), 10)})
	}
	if !fitsOctal(int64(h.devMinor), 8) {
		records = append(records, paxRecord{"SCHILY.devminor", strconv.FormatUint(uint64(h.devMinor), 10)})
	}
	xattrs := append([]fstree.Xattr(nil), h.xattrs...)
	sort.Slice(xattrs, func(i, j int) bool { return xattrs[i].Name < xattrs[j].Name })
	for _, x := range xattrs {
		records = append(records, paxRecord{"SCHILY.xattr." + encodeXattrName(x.Name), string(x.Value)})
	}
	return records, ustarName
}

// encodeXattrName escapes '%' and '=' as GNU tar does, since '=' ends a
// PAX keyword.
var xattrNameEscaper = strings.NewReplacer("%", "%25", "=", "%3D")

func encodeXattrName(name string) string { return xattrNameEscaper.Replace(name) }

// sparseMemberName is the stand-in name GNU tar gives a sparse member
// ("%d/GNUSparseFile.%p/%f"), with 0 instead of a process ID so that
// the output is reproducible.
func sparseMemberName(name string) string {
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	return dir + "GNUSparseFile.0/" + base
}

// paxHeaderName is the name GNU tar gives the extended header of a
// member ("%d/PaxHeaders/%f").
func paxHeaderName(name string) string {
	trimmed := strings.TrimSuffix(name, "/")
	dir, base := "", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dir, base = trimmed[:i+1], trimmed[i+1:]
	}
	if dir == "" {
		dir = "./"
	}
	return dir + "PaxHeaders/" + base
}

type paxRecord struct{ key, value string }

// appendPAXRecords encodes records as "LEN KEY=VALUE\n", where LEN counts
// the whole record including its own digits.
func appendPAXRecords(dst []byte, records []paxRecord) []byte {
	for _, r := range records {
		n := len(r.key) + len(r.value) + 3 // ' ', '=', '\n'
		total := n + len(strconv.Itoa(n))
		if len(strconv.Itoa(total)) != len(strconv.Itoa(n)) {
			total = n + len(strconv.Itoa(total))
		}
		dst = strconv.AppendInt(dst, int64(total), 10)
		dst = append(dst, ' ')
		dst = append(dst, r.key...)
		dst = append(dst, '=')
		dst = append(dst, r.value...)
		dst = append(dst, '\n')
	}
	return dst
}

// fitsOctal reports whether v fits an ustar numeric field of width bytes
// (width-1 octal digits and a NUL).
func fitsOctal(v int64, width int) bool {
	return v >= 0 && v < int64(1)<<(3*(width-1))
}

// putOctal writes v as width-1 zero-padded octal digits and a NUL, or
// zeros when v does not fit (a PAX record then carries it).
func putOctal(field []byte, v int64) {
	if !fitsOctal(v, len(field)) {
		v = 0
	}
	s := strconv.FormatInt(v, 8)
	digits := len(field) - 1
	for i := range digits - len(s) {
		field[i] = '0'
	}
	copy(field[digits-len(s):], s)
	field[digits] = 0
}

// encodeUstar fills block (512 zero bytes) with an ustar header.
func encodeUstar(block []byte, name string, typeflag byte, h *header) {
	copy(block[:nameLen], name) // longer names are in a PAX record
	putOctal(block[offMode:offMode+8], int64(h.mode&fstree.ModePerm))
	putOctal(block[offUID:offUID+8], int64(h.uid))
	putOctal(block[offGID:offGID+8], int64(h.gid))
	putOctal(block[offSize:offSize+12], h.size)
	putOctal(block[offMtime:offMtime+12], h.mtime)
	block[offTypeflag] = typeflag
	copy(block[offLinkname:offLinkname+nameLen], h.linkname)
	copy(block[offMagic:], "ustar\x0000")
	if typeflag != typePAX { // GNU tar leaves them empty in extended headers
		putOctal(block[offDevMajor:offDevMajor+8], int64(h.devMajor))
		putOctal(block[offDevMinor:offDevMinor+8], int64(h.devMinor))
	}
	// The checksum is computed with its own field as spaces.
	copy(block[offChksum:offChksum+8], "        ")
	var sum int64
	for _, b := range block[:blockSize] {
		sum += int64(b)
	}
	putOctal(block[offChksum:offChksum+7], sum)
	block[offChksum+7] = ' '
}

// appendHeader appends the member's header blocks (the PAX extended
// header when needed, then the ustar header) to dst.
func appendHeader(dst []byte, h *header) ([]byte, error) {
	if strings.IndexByte(h.name, 0) >= 0 || strings.IndexByte(h.linkname, 0) >= 0 {
		return dst, fmt.Errorf("tar member %q: names cannot hold NUL bytes", h.name)
	}
	records, ustarName := h.paxRecords()
	if len(records) > 0 {
		data := appendPAXRecords(nil, records)
		ext := header{mode: 0o644, size: int64(len(data)), mtime: h.mtime}
		dst = appendBlock(dst, paxHeaderName(h.name), typePAX, &ext)
		dst = append(dst, data...)
		dst = appendPadding(dst, int64(len(data)))
	}
	return appendBlock(dst, ustarName, h.typeflag, h), nil
}

func appendBlock(dst []byte, name string, typeflag byte, h *header) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, blockSize)...)
	encodeUstar(dst[start:], name, typeflag, h)
	return dst
}

// appendPadding appends the zeros that round n bytes of data up to a
// whole block.
func appendPadding(dst []byte, n int64) []byte {
	if rem := n % blockSize; rem != 0 {
		dst = append(dst, make([]byte, blockSize-rem)...)
	}
	return dst
}
