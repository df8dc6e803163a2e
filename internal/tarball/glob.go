package tarball

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrExclude is matched (errors.Is) by CheckExclude's errors.
var ErrExclude = errors.New("bad exclude pattern")

// CheckExclude checks an exclude pattern as the tar writer compiles it:
// an absolute image path of non-empty segments, each a path.Match
// pattern or "**". The exclude setting is validated with it (exportcfg),
// so packer validate and the writer accept the same patterns.
func CheckExclude(pattern string) error {
	_, err := compileGlob(pattern)
	return err
}

// excludeError is a pattern CheckExclude refuses.
type excludeError struct {
	pattern, problem string
	err              error // the path.Match error, if any
}

func (e *excludeError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("exclude %q: %s: %v", e.pattern, e.problem, e.err)
	}
	return fmt.Sprintf("exclude %q %s", e.pattern, e.problem)
}

func (e *excludeError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrExclude}
	}
	return []error{ErrExclude, e.err}
}

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
		return glob{}, &excludeError{pattern: pattern, problem: `must be an absolute image path, like "/var/cache/apt/*.bin"`}
	}
	segments := strings.Split(strings.Trim(pattern, "/"), "/")
	for _, s := range segments {
		if s == "" {
			return glob{}, &excludeError{pattern: pattern, problem: "has an empty path segment"}
		}
		if _, err := path.Match(s, ""); err != nil {
			return glob{}, &excludeError{pattern: pattern, problem: fmt.Sprintf("segment %q", s), err: err}
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
