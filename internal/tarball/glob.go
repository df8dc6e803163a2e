package tarball

import (
	"fmt"
	"path"
	"strings"
)

// glob matches absolute image paths such as "/var/cache/apt/pkgcache.bin".
// Each "/"-separated segment of the pattern is a path.Match pattern
// ("*", "?", "[a-z]", "\\*"), except "**", which matches any number of
// whole segments. A pattern ending in "/**" matches what lies below the
// directory, not the directory itself.
type glob struct {
	pattern  string
	segments []string
}

func compileGlob(pattern string) (glob, error) {
	if !strings.HasPrefix(pattern, "/") {
		return glob{}, fmt.Errorf("exclude pattern %q: must be an absolute image path such as \"/var/cache/apt/*.bin\"", pattern)
	}
	segments := strings.Split(strings.Trim(pattern, "/"), "/")
	for _, s := range segments {
		if s == "" {
			return glob{}, fmt.Errorf("exclude pattern %q: empty path segment", pattern)
		}
		if _, err := path.Match(s, ""); err != nil {
			return glob{}, fmt.Errorf("exclude pattern %q: bad segment %q: %w", pattern, s, err)
		}
	}
	if segments[len(segments)-1] == "**" {
		// "/a/**" is "/a/*" followed by any number of segments.
		segments = append(segments[:len(segments)-1], "*", "**")
	}
	return glob{pattern: pattern, segments: segments}, nil
}

// match reports whether the absolute path p matches. It runs in time
// proportional to pattern segments times path segments, whatever the
// number of "**": reachable[j] says whether the pattern so far matches
// the first j segments of p.
func (g glob) match(p string) bool {
	segments := strings.Split(strings.TrimPrefix(p, "/"), "/")
	reachable := make([]bool, len(segments)+1)
	next := make([]bool, len(segments)+1)
	reachable[0] = true
	for _, ps := range g.segments {
		anyReachable := false
		if ps == "**" {
			for j := range next {
				anyReachable = anyReachable || reachable[j]
				next[j] = anyReachable
			}
		} else {
			next[0] = false
			for j := 1; j <= len(segments); j++ {
				ok := false
				if reachable[j-1] {
					ok, _ = path.Match(ps, segments[j-1])
				}
				next[j] = ok
				anyReachable = anyReachable || ok
			}
		}
		if !anyReachable {
			return false
		}
		reachable, next = next, reachable
	}
	return reachable[len(segments)]
}
