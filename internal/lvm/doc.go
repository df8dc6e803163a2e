// Package lvm reads LVM2 volume groups from disk images, read-only and
// without device-mapper, so that filesystems on logical volumes (the
// default layout of RHEL-family installs and of Oracle Linux's images) can
// be exported without root.
//
// It reads what lvm2 itself reads: the PV label (LABELONE in one of the
// first four sectors), the PV header with its data and metadata areas, each
// metadata area's header and the text metadata it points to, checksums
// checked at every step. Of the copies found on all PVs of a group the
// newest valid one (highest seqno) wins; a copy that fails its checksum is
// skipped, as lvm2 skips it, and when no valid copy is left the group is an
// error. Linear logical volumes (any number of segments, on any of the
// group's PVs that were handed in) are readable as an io.ReaderAt; every
// other segment type (striped, mirror, raid, thin, cache, vdo...) and a
// segment on a PV that was not found are errors naming the LV.
//
// It is our own because no well-kept Go library reads LVM2 metadata: the Go
// LVM packages found (lvm2go and others) drive lvm2's command-line tools,
// which need root and device-mapper; the one on-disk reader found, a
// subpackage of an unrelated UDF module, handles a single PV only.
//
// The image is untrusted: sizes and offsets are checked against the device
// before anything is read or allocated, metadata text is capped
// (maxMetadataBytes) and its parser bounds nesting depth, so a hostile
// image yields an error, never a panic or an unbounded allocation.
package lvm
