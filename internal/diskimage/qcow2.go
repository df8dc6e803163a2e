package diskimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lima-vm/go-qcow2reader/image"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
	"github.com/lima-vm/go-qcow2reader/image/raw"
)

// Limits taken from QEMU's qcow2 driver, so that every image QEMU writes is
// accepted and nothing larger sizes an allocation.
const (
	qcow2MinClusterBits = 9
	qcow2MaxClusterBits = 21
	qcow2MaxL1Bytes     = 32 << 20
	qcow2MaxBackingName = 1023
	qcow2MaxVirtualSize = 1 << 56 // keeps every offset computation inside int64
	maxBackingDepth     = 16
)

// qcow2MaxExtensions bounds the header extensions read, as go-qcow2reader
// does.
const qcow2MaxExtensions = 256

// qcow2Header holds the header fields this package checks or uses, laid
// out as go-qcow2reader's header types.
type qcow2Header struct {
	qcow2.HeaderFieldsV2
	// qcow2.HeaderFieldsV3 is zero for version 2 but for HeaderLength,
	// the 72 bytes of a version 2 header.
	qcow2.HeaderFieldsV3
	compression   qcow2.CompressionType
	backingFormat string
}

const (
	qcow2V2HeaderLength = 72
	qcow2V3HeaderLength = 104
)

func (h *qcow2Header) clusterSize() int64 { return 1 << h.ClusterBits }

func parseQcow2Header(r io.ReaderAt, fileSize int64) (*qcow2Header, error) {
	var buf [qcow2V3HeaderLength + 8]byte // and the compression type
	n, err := r.ReadAt(buf[:], 0)
	if n < qcow2V2HeaderLength {
		return nil, fmt.Errorf("qcow2 header is truncated (%d bytes): %v", n, err)
	}
	h := &qcow2Header{}
	decodeHeader(buf[:qcow2V2HeaderLength], &h.HeaderFieldsV2)
	h.HeaderLength = qcow2V2HeaderLength
	if h.Version == 3 {
		if n < qcow2V3HeaderLength {
			return nil, fmt.Errorf("qcow2 version 3 header is truncated (%d bytes)", n)
		}
		decodeHeader(buf[qcow2V2HeaderLength:qcow2V3HeaderLength], &h.HeaderFieldsV3)
		if h.HeaderLength > qcow2V3HeaderLength && n > qcow2V3HeaderLength {
			h.compression = qcow2.CompressionType(buf[qcow2V3HeaderLength])
		}
	}
	if err := h.validate(fileSize); err != nil {
		return nil, err
	}
	if err := h.readExtensions(r); err != nil {
		return nil, err
	}
	return h, nil
}

// decodeHeader decodes big-endian header bytes into one of
// go-qcow2reader's fixed-size header structs, whose size b matches.
func decodeHeader(b []byte, fields any) {
	if _, err := binary.Decode(b, binary.BigEndian, fields); err != nil {
		panic(err) // a programming error: b is sized for fields
	}
}

func (h *qcow2Header) validate(fileSize int64) error {
	switch {
	case h.Version != 2 && h.Version != 3:
		return fmt.Errorf("unsupported qcow2 version %d; %s", h.Version, convertAdvice)
	case h.ClusterBits < qcow2MinClusterBits || h.ClusterBits > qcow2MaxClusterBits:
		return fmt.Errorf("invalid qcow2 cluster_bits %d (must be %d..%d)", h.ClusterBits, qcow2MinClusterBits, qcow2MaxClusterBits)
	case h.CryptMethod != qcow2.CryptMethodNone:
		return fmt.Errorf("encrypted qcow2 images are not supported; decrypt it with qemu-img convert -O qcow2")
	case h.Size > qcow2MaxVirtualSize:
		return fmt.Errorf("qcow2 virtual size %d is too large", h.Size)
	case h.Version == 3 && (h.HeaderLength < qcow2V3HeaderLength || int64(h.HeaderLength) > h.clusterSize() || h.HeaderLength%8 != 0):
		return fmt.Errorf("invalid qcow2 header_length %d", h.HeaderLength)
	}
	if err := h.checkFeatures(); err != nil {
		return err
	}
	return h.checkL1(fileSize)
}

func (h *qcow2Header) checkFeatures() error {
	bit := func(n int) uint64 { return 1 << n }
	known := bit(qcow2.IncompatibleFeaturesDirtyBit) | bit(qcow2.IncompatibleFeaturesCorruptBit) |
		bit(qcow2.IncompatibleFeaturesExternalDataFileBit) | bit(qcow2.IncompatibleFeaturesCompressionTypeBit) |
		bit(qcow2.IncompatibleFeaturesExtendedL2EntriesBit)
	switch f := uint64(h.IncompatibleFeatures); {
	case f&^known != 0:
		return fmt.Errorf("qcow2 image uses unknown incompatible features 0x%x; %s", f&^known, convertAdvice)
	case f&bit(qcow2.IncompatibleFeaturesCorruptBit) != 0:
		return errors.New("qcow2 image is marked corrupt; repair it with qemu-img check -r all")
	case f&bit(qcow2.IncompatibleFeaturesExternalDataFileBit) != 0:
		return fmt.Errorf("qcow2 images with an external data file are not supported; %s", convertAdvice)
	case f&bit(qcow2.IncompatibleFeaturesExtendedL2EntriesBit) != 0:
		return fmt.Errorf("qcow2 images with extended L2 entries are not supported; %s", convertAdvice)
	}
	if h.compression != qcow2.CompressionTypeZlib && h.compression != qcow2.CompressionTypeZstd {
		return fmt.Errorf("unknown qcow2 compression type %d; %s", h.compression, convertAdvice)
	}
	return nil
}

// checkL1 makes sure the L1 table covers the virtual size, fits QEMU's
// limit and lies inside the file.
func (h *qcow2Header) checkL1(fileSize int64) error {
	l2Span := h.clusterSize() * (h.clusterSize() / 8)
	needed := (h.Size + uint64(l2Span) - 1) / uint64(l2Span)
	l1Bytes := uint64(h.L1Size) * 8
	switch {
	case uint64(h.L1Size) < needed:
		return fmt.Errorf("qcow2 L1 table has %d entries, %d needed for the virtual size %d", h.L1Size, needed, h.Size)
	case l1Bytes > qcow2MaxL1Bytes:
		return fmt.Errorf("qcow2 L1 table of %d bytes exceeds %d", l1Bytes, qcow2MaxL1Bytes)
	case h.L1Size > 0 && (h.L1TableOffset == 0 || h.L1TableOffset%uint64(h.clusterSize()) != 0):
		return fmt.Errorf("qcow2 L1 table offset %d is not cluster aligned", h.L1TableOffset)
	case h.L1TableOffset > uint64(fileSize) || l1Bytes > uint64(fileSize)-h.L1TableOffset:
		return truncatedError("L1 table", int64(h.L1TableOffset), fileSize)
	}
	return nil
}

func truncatedError(what string, offset, fileSize int64) error {
	return fmt.Errorf("qcow2 image is truncated: its %s at file offset %d lies beyond the end of the file (%d bytes); the file was probably cut short by an incomplete download or copy", what, offset, fileSize)
}

// readExtensions reads the header extensions that matter here: the backing
// file's format.
func (h *qcow2Header) readExtensions(r io.ReaderAt) error {
	off := int64(h.HeaderLength)
	end := h.clusterSize()
	var hdr [8]byte
	for i := 0; i < qcow2MaxExtensions && off+8 <= end; i++ {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return fmt.Errorf("qcow2 header extension at offset %d: %w", off, err)
		}
		typ := qcow2.HeaderExtensionType(binary.BigEndian.Uint32(hdr[:4]))
		length := int64(binary.BigEndian.Uint32(hdr[4:]))
		if typ == qcow2.HeaderExtensionTypeEnd {
			return nil
		}
		if length > end-off-8 {
			return fmt.Errorf("qcow2 header extension 0x%08x at offset %d overruns the first cluster", uint32(typ), off)
		}
		if typ == qcow2.HeaderExtensionTypeBackingFileFormatNameString {
			name := make([]byte, length)
			if _, err := r.ReadAt(name, off+8); err != nil {
				return fmt.Errorf("qcow2 backing format extension: %w", err)
			}
			h.backingFormat = string(name)
		}
		off += 8 + (length+7)/8*8
	}
	return nil
}

func (h *qcow2Header) backingName(r io.ReaderAt) (string, error) {
	if h.BackingFileOffset == 0 {
		return "", nil
	}
	if h.BackingFileSize == 0 || h.BackingFileSize > qcow2MaxBackingName ||
		h.BackingFileOffset+uint64(h.BackingFileSize) > uint64(h.clusterSize()) {
		return "", fmt.Errorf("invalid qcow2 backing file name (offset %d, length %d)", h.BackingFileOffset, h.BackingFileSize)
	}
	name := make([]byte, h.BackingFileSize)
	if _, err := r.ReadAt(name, int64(h.BackingFileOffset)); err != nil {
		return "", fmt.Errorf("qcow2 backing file name: %w", err)
	}
	return string(name), nil
}

// Cluster states in a qcow2 layer's map. Clusters absent from the map are
// unallocated: they read from the backing image, or as zeros without one.
const (
	clusterData = iota
	clusterZero
)

type extent struct {
	start, length int64
	state         int
}

// qcow2Layer is one validated image of a backing chain.
type qcow2Layer struct {
	path    string
	size    int64
	extents []extent // sorted, merged, non-overlapping
	backing layer
	bsize   int64 // virtual size of backing
	closers []func()
}

func (l *qcow2Layer) close() {
	if l == nil {
		return
	}
	for _, c := range l.closers {
		c()
	}
	l.closers = nil
}

// chainState detects backing loops, bounds the chain length and keeps
// backing files inside the allowed paths.
type chainState struct {
	seen  []chainFile
	depth int
	// allowed are the resolved directory trees and files backing files
	// may be; the top image's directory comes first.
	allowed []string
	// paths is the chain as resolved, top image first.
	paths []string
}

func newChainState(top string, allow []string) (*chainState, error) {
	topDir, err := realPath(filepath.Dir(top))
	if err != nil {
		return nil, fmt.Errorf("disk image %s: %w", top, err)
	}
	c := &chainState{allowed: []string{topDir}, paths: []string{top}}
	for _, p := range allow {
		if real, err := realPath(p); err == nil { // a missing path allows nothing
			c.allowed = append(c.allowed, real)
		}
	}
	return c, nil
}

// realPath is the absolute path with every symlink resolved, so that a
// link inside an allowed directory cannot point outside it.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// permits reports whether the resolved path lies in an allowed tree or is
// an allowed file.
func (c *chainState) permits(real string) bool {
	for _, a := range c.allowed {
		rel, err := filepath.Rel(a, real)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// chainFile is one file of the chain and the format it was validated as.
type chainFile struct {
	info   os.FileInfo
	format Format
}

// BackingPathError is a backing file outside the paths Open allows.
type BackingPathError struct {
	Image    string   // the image that names the backing file
	Name     string   // the name as written in its header
	Resolved string   // where it points, symlinks followed
	Allowed  []string // the directory trees and files it may be
}

func (e *BackingPathError) Error() string {
	return fmt.Sprintf("qcow2 image %s: backing file %q (resolved to %s) is outside the directories its backing chain may reach (%s): "+
		"a backing file must be in the image's own directory tree; flatten the image with qemu-img convert -O qcow2",
		e.Image, e.Name, e.Resolved, strings.Join(e.Allowed, ", "))
}

// enter records f, at path, as a file of the chain to be read as format.
func (c *chainState) enter(path string, f *os.File, format Format) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	for _, s := range c.seen {
		if os.SameFile(s.info, st) {
			return fmt.Errorf("backing file loop: %s appears twice in the backing chain", path)
		}
	}
	c.seen = append(c.seen, chainFile{info: st, format: format})
	c.depth++
	if c.depth > maxBackingDepth {
		return fmt.Errorf("backing chain is longer than %d images; flatten it with qemu-img convert -O qcow2", maxBackingDepth)
	}
	return nil
}

// validatedFormat returns the format f was validated as, if it is one of
// the files of the validated chain, so that the reader reads exactly what
// was checked, the way it was checked.
func (c *chainState) validatedFormat(f *os.File) (Format, bool) {
	st, err := f.Stat()
	if err != nil {
		return "", false
	}
	for _, s := range c.seen {
		if os.SameFile(s.info, st) {
			return s.format, true
		}
	}
	return "", false
}

// openQcow2Chain validates the qcow2 file f and, recursively, its backing
// files, and builds each layer's cluster map. On error the returned layer
// (possibly partial) must still be closed.
func openQcow2Chain(path string, f *os.File, chain *chainState) (*qcow2Layer, error) {
	l := &qcow2Layer{path: path}
	if err := chain.enter(path, f, FormatQcow2); err != nil {
		return l, err
	}
	st, err := f.Stat()
	if err != nil {
		return l, err
	}
	h, err := parseQcow2Header(f, st.Size())
	if err != nil {
		return l, fmt.Errorf("qcow2 image %s: %w", path, err)
	}
	l.size = int64(h.Size)
	if l.extents, err = readClusterMap(f, h, st.Size()); err != nil {
		return l, fmt.Errorf("qcow2 image %s: %w", path, err)
	}
	name, err := h.backingName(f)
	if err != nil || name == "" {
		return l, prefixErr(path, err)
	}
	return l, l.openBacking(name, h.backingFormat, chain)
}

func prefixErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("qcow2 image %s: %w", path, err)
}

func (l *qcow2Layer) openBacking(name, declared string, chain *chainState) error {
	bpath := resolveBacking(l.path, name)
	bf, err := chain.openAllowed(l.path, name, bpath)
	if err != nil {
		return err
	}
	l.closers = append(l.closers, func() { bf.Close() })
	st, err := bf.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() { // a device or FIFO could block reads forever
		return fmt.Errorf("qcow2 image %s: backing file %s is not a regular file", l.path, bpath)
	}
	format, err := backingFormat(bf, st.Size(), declared)
	if err != nil {
		return fmt.Errorf("qcow2 image %s: backing file %s: %w", l.path, bpath, err)
	}
	if format == FormatRaw {
		if err := chain.enter(bpath, bf, FormatRaw); err != nil {
			return fmt.Errorf("qcow2 image %s: %w", l.path, err)
		}
		l.backing, l.bsize = &rawLayer{f: bf, size: st.Size()}, st.Size()
		return nil
	}
	b, err := openQcow2Chain(bpath, bf, chain)
	l.closers = append(l.closers, b.close)
	l.backing, l.bsize = b, b.size
	return err
}

// openAllowed opens the backing file bpath that image names as name, if
// it is inside the allowed paths, and records it in the chain. bpath stays
// the name QEMU and go-qcow2reader use (relative names in it resolve from
// there); the check is on its real path, and the file opened must be the
// file checked.
func (c *chainState) openAllowed(image, name, bpath string) (*os.File, error) {
	real, err := realPath(bpath)
	if err != nil {
		return nil, fmt.Errorf("qcow2 image %s: backing file %q (resolved to %s) cannot be opened: %w", image, name, bpath, err)
	}
	if !c.permits(real) {
		return nil, &BackingPathError{Image: image, Name: name, Resolved: real, Allowed: c.allowed}
	}
	bf, err := os.Open(bpath)
	if err != nil {
		return nil, fmt.Errorf("qcow2 image %s: backing file %q (resolved to %s) cannot be opened: %w", image, name, bpath, err)
	}
	opened, err1 := bf.Stat()
	checked, err2 := os.Stat(real)
	if err1 != nil || err2 != nil || !os.SameFile(opened, checked) {
		bf.Close()
		return nil, fmt.Errorf("qcow2 image %s: backing file %s changed while it was opened", image, bpath)
	}
	c.paths = append(c.paths, real)
	return bf, nil
}

// resolveBacking resolves a backing file name the way QEMU does: relative
// names are relative to the directory of the image that names them.
func resolveBacking(imagePath, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(imagePath), name)
}

// backingFormat decides how a backing file is read: as the format the
// header declares, or, when none is declared, by its content.
func backingFormat(r io.ReaderAt, size int64, declared string) (Format, error) {
	switch Format(declared) {
	case FormatRaw:
		return FormatRaw, nil
	case FormatQcow2, "":
		format, err := detectFormat(r, size)
		if err == nil && Format(declared) == FormatQcow2 && format != FormatQcow2 {
			err = errors.New("declared as qcow2 but has no qcow2 header")
		}
		return format, err
	default:
		return "", fmt.Errorf("backing file format %q is not supported; %s", declared, convertAdvice)
	}
}

// readClusterMap walks the L1 and L2 tables and records every allocated or
// zero cluster, checking that each lies inside the file and that no host
// cluster serves twice (as L1, L2 table or data). QEMU never shares a
// cluster within the active tables (only snapshots share, through their
// own tables), and sharing is how a small hostile file claims a huge map:
// with it refused, each extent comes from an entry of a distinct L2 table
// in the file, so the map has at most fileSize/8 extents.
func readClusterMap(r io.ReaderAt, h *qcow2Header, fileSize int64) ([]extent, error) {
	cs := h.clusterSize()
	l1 := make([]byte, int64(h.L1Size)*8)
	if _, err := r.ReadAt(l1, int64(h.L1TableOffset)); err != nil {
		return nil, fmt.Errorf("read L1 table: %w", err)
	}
	used := newClusterSet(fileSize, cs)
	for off := int64(h.L1TableOffset); off < int64(h.L1TableOffset)+int64(len(l1)); off += cs {
		used.claim(off)
	}
	l2 := make([]byte, cs)
	l2Span := cs * (cs / 8)
	var extents []extent
	for i := int64(0); i < int64(h.L1Size) && i*l2Span < int64(h.Size); i++ {
		l2Offset := int64(binary.BigEndian.Uint64(l1[i*8:]) & 0x00fffffffffffe00)
		if l2Offset == 0 {
			continue
		}
		if l2Offset%cs != 0 || l2Offset > fileSize-cs {
			return nil, truncatedError(fmt.Sprintf("L2 table #%d", i), l2Offset, fileSize)
		}
		if !used.claim(l2Offset) {
			return nil, fmt.Errorf("L2 table #%d at file offset %d is a cluster already in use: the image is corrupt (qemu-img check reports it)", i, l2Offset)
		}
		if _, err := r.ReadAt(l2, l2Offset); err != nil {
			return nil, fmt.Errorf("read L2 table #%d at %d: %w", i, l2Offset, err)
		}
		var err error
		if extents, err = appendL2(extents, l2, h, i*l2Span, used); err != nil {
			return nil, err
		}
	}
	return extents, nil
}

// clusterSet records which host clusters of the file are in use: one bit
// per cluster, so fileSize/cs/8 bytes.
type clusterSet struct {
	bits     []uint64
	shift    uint
	fileSize int64
}

func newClusterSet(fileSize, cs int64) *clusterSet {
	n := (fileSize + cs - 1) / cs
	return &clusterSet{bits: make([]uint64, (n+63)/64), shift: uint(bits.TrailingZeros64(uint64(cs))), fileSize: fileSize}
}

// claim marks the cluster at host offset off, which lies inside the file,
// and reports whether it was free.
func (c *clusterSet) claim(off int64) bool {
	i := off >> c.shift
	word, bit := i/64, uint64(1)<<(i%64)
	if c.bits[word]&bit != 0 {
		return false
	}
	c.bits[word] |= bit
	return true
}

func appendL2(extents []extent, l2 []byte, h *qcow2Header, base int64, used *clusterSet) ([]extent, error) {
	cs := h.clusterSize()
	for j := int64(0); j < cs/8 && base+j*cs < int64(h.Size); j++ {
		entry := binary.BigEndian.Uint64(l2[j*8:])
		state, err := clusterState(entry, h, used.fileSize)
		if err != nil {
			return nil, fmt.Errorf("cluster at virtual offset %d: %w", base+j*cs, err)
		}
		if state < 0 {
			continue
		}
		start := base + j*cs
		if state == clusterData && entry&(1<<62) == 0 && !used.claim(int64(entry&0x00fffffffffffe00)) {
			return nil, fmt.Errorf("cluster at virtual offset %d: host cluster %d is already in use: the image is corrupt (qemu-img check reports it)",
				start, int64(entry&0x00fffffffffffe00))
		}
		length := min(cs, int64(h.Size)-start)
		if n := len(extents); n > 0 && extents[n-1].state == state && extents[n-1].start+extents[n-1].length == start {
			extents[n-1].length += length
			continue
		}
		extents = append(extents, extent{start: start, length: length, state: state})
	}
	return extents, nil
}

// clusterState classifies one L2 entry: clusterData, clusterZero, or -1
// for unallocated.
func clusterState(entry uint64, h *qcow2Header, fileSize int64) (int, error) {
	const compressedBit = 1 << 62
	if entry&compressedBit != 0 {
		x := 62 - (h.ClusterBits - 8)
		hostOffset := int64(entry & (1<<x - 1))
		if hostOffset == 0 || hostOffset >= fileSize {
			return 0, truncatedError("compressed cluster", hostOffset, fileSize)
		}
		return clusterData, nil
	}
	hostOffset := int64(entry & 0x00fffffffffffe00)
	switch {
	case entry&1 != 0 && h.Version == 3:
		return clusterZero, nil
	case hostOffset == 0:
		return -1, nil
	case hostOffset%h.clusterSize() != 0:
		return 0, fmt.Errorf("host offset %d is not cluster aligned", hostOffset)
	case hostOffset > fileSize-h.clusterSize():
		return 0, truncatedError("data cluster", hostOffset, fileSize)
	}
	return clusterData, nil
}

func (l *qcow2Layer) allocated(start, end int64, emit func(Range)) error {
	i := sort.Search(len(l.extents), func(i int) bool {
		e := l.extents[i]
		return e.start+e.length > start
	})
	pos := start
	for ; pos < end; i++ {
		next := end
		if i < len(l.extents) && l.extents[i].start < end {
			next = l.extents[i].start
		}
		if err := l.fromBacking(pos, next, emit); err != nil {
			return err
		}
		if next == end {
			return nil
		}
		e := l.extents[i]
		eEnd := min(e.start+e.length, end)
		if e.state == clusterData {
			emit(Range{Start: max(e.start, pos), Length: eEnd - max(e.start, pos)})
		}
		pos = eEnd
	}
	return nil
}

// fromBacking reports the backing image's data in a gap of this layer.
// Beyond the backing image's size the gap reads as zeros.
func (l *qcow2Layer) fromBacking(start, end int64, emit func(Range)) error {
	end = min(end, l.bsize)
	if l.backing == nil || start >= end {
		return nil
	}
	return l.backing.allocated(start, end, emit)
}

// openQcow2Reader opens an already validated chain for reading.
func openQcow2Reader(f *os.File, chain *chainState) (image.Image, error) {
	img, err := openQcow2File(f, chain)
	if err != nil {
		return nil, err
	}
	if err := img.Readable(); err != nil {
		_ = img.Close()
		return nil, err
	}
	return img, nil
}

// openQcow2File opens f with go-qcow2reader through a qcow2File, so its
// compressed clusters are inflated once into its own cache.
func openQcow2File(f *os.File, chain *chainState) (*qcow2.Qcow2, error) {
	file := &qcow2File{File: f, clusters: newClusterCache()}
	img, err := qcow2.Open(file, func(ra io.ReaderAt, _ image.Type) (image.Image, error) {
		return openBackingReader(ra, chain)
	})
	if err != nil {
		return nil, err
	}
	file.clusterSize = int64(1) << img.Header.ClusterBits
	return img, nil
}

// openBackingReader is the go-qcow2reader opener for backing files. The
// library opens backing files by name itself; only a file of the validated
// chain is read, so a file swapped in after validation is refused. The
// format the library passes is ignored: it is read from header extensions
// the library parses its own way (v0.6.0 does not skip an extension longer
// than 4096 bytes, and reads on from inside its data), so it can call
// qcow2 a file the validation read as raw, whose qcow2 header nothing
// checked. The file is read as the format it was validated as.
func openBackingReader(ra io.ReaderAt, chain *chainState) (image.Image, error) {
	f, ok := ra.(*os.File)
	if !ok {
		return failedImage{fmt.Errorf("backing file reader %T is not a file", ra)}, errors.New("backing file is not a file")
	}
	format, ok := chain.validatedFormat(f)
	if !ok {
		err := fmt.Errorf("backing file %s is not the one validated", f.Name())
		return failedImage{err}, err
	}
	if format == FormatRaw {
		return raw.Open(f)
	}
	img, err := openQcow2File(f, chain)
	if err != nil {
		return failedImage{err}, err
	}
	return img, nil
}

// BackingFile returns the backing file name in the header of the qcow2
// image at path, or "" for a qcow2 without one and for a raw image. It
// reads the header only and opens no backing file.
func BackingFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	format, err := detectFormat(f, st.Size())
	if err != nil || format != FormatQcow2 {
		return "", err
	}
	h, err := parseQcow2Header(f, st.Size())
	if err != nil {
		return "", fmt.Errorf("qcow2 image %s: %w", path, err)
	}
	name, err := h.backingName(f)
	return name, prefixErr(path, err)
}
