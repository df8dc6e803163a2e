package diskimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/lima-vm/go-qcow2reader/image/qcow2"
)

const qcow2Magic = qcow2.Magic

// foreignFormat is an image or archive format recognised only to be
// rejected with advice, rather than misread as a raw disk.
type foreignFormat struct {
	name   string
	offset int64 // negative: from the end of the file
	magic  string
	advice string
}

const convertAdvice = "convert it with qemu-img convert -O qcow2"

var foreignFormats = []foreignFormat{
	{"VMDK", 0, "KDMV", convertAdvice},
	{"VMDK (COWD)", 0, "COWD", convertAdvice},
	{"VMDK descriptor", 0, "# Disk DescriptorFile", convertAdvice},
	{"VHDX", 0, "vhdxfile", convertAdvice},
	{"VHD", 0, "conectix", convertAdvice},
	{"VHD", -512, "conectix", convertAdvice},
	{"VDI", 0x40, "\x7f\x10\xda\xbe", convertAdvice},
	{"Parallels", 0, "WithoutFreeSpace", convertAdvice},
	{"Parallels", 0, "WithouFreSpacExt", convertAdvice},
	{"QED", 0, "QED\x00", convertAdvice},
	{"gzip-compressed file", 0, "\x1f\x8b", "decompress it first"},
	{"xz-compressed file", 0, "\xfd7zXZ\x00", "decompress it first"},
	{"zstd-compressed file", 0, "\x28\xb5\x2f\xfd", "decompress it first"},
	{"bzip2-compressed file", 0, "BZh", "decompress it first"},
}

// detectFormat tells qcow2 from raw by content and rejects other formats.
func detectFormat(r io.ReaderAt, size int64) (Format, error) {
	if size == 0 {
		return "", fmt.Errorf("the file is empty")
	}
	var head [512]byte
	n, err := r.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	if bytes.HasPrefix(head[:n], []byte(qcow2Magic)) {
		if n >= 8 && binary.BigEndian.Uint32(head[4:8]) < 2 {
			return "", fmt.Errorf("qcow version 1 images are not supported; %s", convertAdvice)
		}
		return FormatQcow2, nil
	}
	for _, ff := range foreignFormats {
		if hasMagicAt(r, size, ff.offset, ff.magic) {
			return "", fmt.Errorf("this is a %s image, not qcow2 or raw: %s", ff.name, ff.advice)
		}
	}
	return FormatRaw, nil
}

func hasMagicAt(r io.ReaderAt, size, offset int64, magic string) bool {
	if offset < 0 {
		offset += size
	}
	if offset < 0 || offset+int64(len(magic)) > size {
		return false
	}
	buf := make([]byte, len(magic))
	if _, err := r.ReadAt(buf, offset); err != nil {
		return false
	}
	return string(buf) == magic
}

// DetectFormat reads just enough of the file at path to tell its format
// (FormatQcow2 or FormatRaw), without validating the image as Open does.
func DetectFormat(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	return detectFormat(f, info.Size())
}
