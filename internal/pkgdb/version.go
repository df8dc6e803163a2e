package pkgdb

import (
	"strconv"
	"strings"
)

// compareVersions orders two versions of a format's packages: dpkg's
// rules for dpkg (and, close enough for telling an upgrade from a
// downgrade, apk), rpm's for rpm.
func compareVersions(format, a, b string) int {
	if format == FormatRPM {
		return compareRPMEVR(a, b)
	}
	return compareDpkgVersions(a, b)
}

// splitEpoch splits "[epoch:]rest", a missing or bad epoch being 0.
func splitEpoch(v string) (int, string) {
	e, rest, ok := strings.Cut(v, ":")
	if !ok {
		return 0, v
	}
	n, err := strconv.Atoi(e)
	if err != nil {
		return 0, v
	}
	return n, rest
}

func compareInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareDpkgVersions compares as dpkg --compare-versions: epoch, then
// upstream version, then Debian revision (after the last '-').
func compareDpkgVersions(a, b string) int {
	ea, ra := splitEpoch(a)
	eb, rb := splitEpoch(b)
	if c := compareInts(ea, eb); c != 0 {
		return c
	}
	ua, reva := splitRevision(ra)
	ub, revb := splitRevision(rb)
	if c := dpkgVerRevCmp(ua, ub); c != 0 {
		return c
	}
	return dpkgVerRevCmp(reva, revb)
}

func splitRevision(v string) (string, string) {
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// dpkgOrder ranks a non-digit character: '~' before the end, the end
// before letters, letters before everything else.
func dpkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	}
	return int(c) + 256
}

// dpkgVerRevCmp compares alternating non-digit and digit runs.
func dpkgVerRevCmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			if c := compareInts(dpkgOrder(a, i), dpkgOrder(b, j)); c != 0 {
				return c
			}
			i, j = i+1, j+1
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = compareInts(int(a[i]), int(b[j]))
			}
			i, j = i+1, j+1
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
	}
	return 0
}

// compareRPMEVR compares "[epoch:]version-release" as rpm does: epoch,
// version, release, each with rpmvercmp.
func compareRPMEVR(a, b string) int {
	ea, ra := splitEpoch(a)
	eb, rb := splitEpoch(b)
	if c := compareInts(ea, eb); c != 0 {
		return c
	}
	va, relA := splitRevision(ra)
	vb, relB := splitRevision(rb)
	if c := rpmVerCmp(va, vb); c != 0 {
		return c
	}
	return rpmVerCmp(relA, relB)
}

func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// rpmVerCmp compares alphanumeric segments, '~' sorting before anything
// and '^' after the end but before anything else, as rpm's rpmvercmp.
func rpmVerCmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		at, bt := i < len(a), j < len(b)
		if (at && a[i] == '~') || (bt && b[j] == '~') {
			if !at || a[i] != '~' {
				return 1
			}
			if !bt || b[j] != '~' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if (at && a[i] == '^') || (bt && b[j] == '^') {
			switch {
			case !at:
				return -1
			case !bt:
				return 1
			case a[i] != '^':
				return 1
			case b[j] != '^':
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if !at || !bt {
			break
		}
		class := isAlpha
		if isDigit(a[i]) {
			class = isDigit
		}
		si, sj := i, j
		for i < len(a) && class(a[i]) {
			i++
		}
		for j < len(b) && class(b[j]) {
			j++
		}
		segA, segB := a[si:i], b[sj:j]
		if segB == "" {
			if isDigit(a[si]) {
				return 1
			}
			return -1
		}
		if isDigit(a[si]) {
			segA, segB = strings.TrimLeft(segA, "0"), strings.TrimLeft(segB, "0")
			if c := compareInts(len(segA), len(segB)); c != 0 {
				return c
			}
		}
		if c := strings.Compare(segA, segB); c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}
