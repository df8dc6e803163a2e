package tarball

import (
	"fmt"
	"strconv"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// sparseMap is a sparse member's layout in GNU tar's PAX sparse format
// 1.0: the member data starts with the map as decimal lines (the number
// of segments, then offset and length of each), padded to a block, and
// goes on with the data segments back to back.
type sparseMap struct {
	realSize int64
	// segments end, as GNU tar writes them, with {realSize, 0}.
	segments []fstree.Range
}

// dataPlan says which byte ranges of a regular file go into the archive.
type dataPlan struct {
	ranges []fstree.Range // data to copy, in order
	sparse *sparseMap     // nil: ranges is the whole file
}

// planData checks a file's data ranges against its size and decides
// whether it is worth storing as a sparse member: when its holes add up
// to at least one tar block. The ranges come from an untrusted image, so
// each must lie inside the file, in order and without overlap.
func planData(size int64, ranges []fstree.Range) (dataPlan, error) {
	merged := make([]fstree.Range, 0, len(ranges))
	var end, dataBytes int64
	for i, r := range ranges {
		if r.Offset < end || r.Length <= 0 || r.Length > size-r.Offset {
			return dataPlan{}, fmt.Errorf("data range %d (offset %d, length %d) is out of order or outside the file of %d bytes", i, r.Offset, r.Length, size)
		}
		if n := len(merged); n > 0 && merged[n-1].Offset+merged[n-1].Length == r.Offset {
			merged[n-1].Length += r.Length
		} else {
			merged = append(merged, r)
		}
		end = r.Offset + r.Length
		dataBytes += r.Length
	}
	if size-dataBytes < blockSize {
		whole := []fstree.Range{{Offset: 0, Length: size}}
		if size == 0 {
			whole = nil
		}
		return dataPlan{ranges: whole}, nil
	}
	segments := append(merged, fstree.Range{Offset: size, Length: 0})
	return dataPlan{ranges: merged, sparse: &sparseMap{realSize: size, segments: segments}}, nil
}

// encode returns the map's text, padded with zeros to whole blocks.
func (m *sparseMap) encode() []byte {
	buf := strconv.AppendInt(nil, int64(len(m.segments)), 10)
	buf = append(buf, '\n')
	for _, s := range m.segments {
		buf = strconv.AppendInt(buf, s.Offset, 10)
		buf = append(buf, '\n')
		buf = strconv.AppendInt(buf, s.Length, 10)
		buf = append(buf, '\n')
	}
	return appendPadding(buf, int64(len(buf)))
}
