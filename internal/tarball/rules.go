package tarball

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
)

// rules decide, per image path, what goes into the archive.
type rules struct {
	exclude         []glob
	generalizeGlobs []glob
	// generalizeKept are what generalizeGlobs match but must keep.
	generalizeKept []glob
	fileActions    map[string]action
	overlay        overlay
}

// overlay places Options.Include in the tree.
type overlay struct {
	files map[string]*Include // by Dest
	// dirs holds every directory an include needs, but "/".
	dirs map[string]struct{}
	// children lists, per directory, the names of the include files and
	// needed directories in it.
	children map[string][]string
}

func newRules(opts Options) (*rules, error) {
	r := &rules{fileActions: opts.Generalize.fileActions()}
	for _, p := range opts.Exclude {
		g, err := compileGlob(p)
		if err != nil {
			return nil, err
		}
		r.exclude = append(r.exclude, g)
	}
	for _, p := range opts.Generalize.patterns() {
		g, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("generalization rule: %w", err)
		}
		r.generalizeGlobs = append(r.generalizeGlobs, g)
	}
	for _, p := range opts.Generalize.keptPatterns() {
		g, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("generalization rule: %w", err)
		}
		r.generalizeKept = append(r.generalizeKept, g)
	}
	ov, err := newOverlay(opts.Include)
	if err != nil {
		return nil, err
	}
	r.overlay = ov
	return r, nil
}

func newOverlay(includes []Include) (overlay, error) {
	ov := overlay{
		files:    map[string]*Include{},
		dirs:     map[string]struct{}{},
		children: map[string][]string{},
	}
	addChild := func(p string) {
		dir, name := path.Split(p)
		if dir != "/" {
			dir = strings.TrimSuffix(dir, "/")
		}
		ov.children[dir] = append(ov.children[dir], name)
	}
	for i := range includes {
		inc := &includes[i]
		if err := checkInclude(inc); err != nil {
			return overlay{}, err
		}
		if _, dup := ov.files[inc.Dest]; dup {
			return overlay{}, fmt.Errorf("include: two files go to %s", inc.Dest)
		}
		ov.files[inc.Dest] = inc
		addChild(inc.Dest)
		for dir := path.Dir(inc.Dest); dir != "/"; dir = path.Dir(dir) {
			if _, seen := ov.dirs[dir]; seen {
				break
			}
			ov.dirs[dir] = struct{}{}
			addChild(dir)
		}
	}
	for dir := range ov.dirs {
		if _, clash := ov.files[dir]; clash {
			return overlay{}, fmt.Errorf("include: %s is both a file and the directory of another include", dir)
		}
	}
	for dir := range ov.children {
		slices.Sort(ov.children[dir])
	}
	return ov, nil
}

// ErrIncludeDestination is matched (errors.Is) by
// CheckIncludeDestination's errors.
var ErrIncludeDestination = errors.New("bad include destination")

// CheckIncludeDestination checks where an included host file goes: a
// clean absolute file path in the image, without NUL. The include
// setting is validated with it (exportcfg).
func CheckIncludeDestination(dest string) error {
	switch {
	case !strings.HasPrefix(dest, "/") || path.Clean(dest) != dest || dest == "/":
		return destinationError{dest, "must be a clean absolute file path in the image, like /curtin/curtin-hooks"}
	case strings.IndexByte(dest, 0) >= 0:
		return destinationError{dest, "holds a NUL byte"}
	}
	return nil
}

type destinationError struct{ dest, problem string }

func (e destinationError) Error() string { return fmt.Sprintf("destination %q %s", e.dest, e.problem) }

func (destinationError) Is(target error) bool { return target == ErrIncludeDestination }

func checkInclude(inc *Include) error {
	switch {
	case inc.Source == "":
		return fmt.Errorf("include to %q: source is empty", inc.Dest)
	case CheckIncludeDestination(inc.Dest) != nil:
		return fmt.Errorf("include %s: %w", inc.Source, CheckIncludeDestination(inc.Dest))
	case inc.Mode&^fstree.ModePerm != 0:
		return fmt.Errorf("include %s: mode %o has bits beyond the permission bits (07777)", inc.Source, inc.Mode)
	}
	return nil
}

// excluded reports whether the image entry at p is left out, and counts
// it.
func (r *rules) excluded(p string, stats *Stats) bool {
	for _, g := range r.exclude {
		if g.match(p) {
			stats.Excluded++
			return true
		}
	}
	for _, g := range r.generalizeKept {
		if g.match(p) {
			return false
		}
	}
	for _, g := range r.generalizeGlobs {
		if g.match(p) {
			stats.Generalized++
			return true
		}
	}
	return false
}

// writeInclude writes the host file inc as the member p.
func (t *tarWriter) writeInclude(p string, inc *Include) error {
	f, err := dirfs.OpenPath(inc.Source)
	if err != nil {
		return fmt.Errorf("include %s: %w", inc.Source, err)
	}
	defer f.Close()
	mode := inc.Mode
	if mode == 0 {
		mode = f.Info.Mode & fstree.ModePerm
	}
	h := &header{
		name:  memberName(p),
		mode:  mode,
		uid:   inc.UID,
		gid:   inc.GID,
		mtime: t.mtime(f.Info.Mtime),
	}
	if err := t.writeFile(h, f); err != nil {
		return fmt.Errorf("include %s as %s: %w", inc.Source, p, err)
	}
	t.stats.Included++
	return nil
}

// writeIncludeDir writes a directory that only includes need and what
// goes into it.
func (t *tarWriter) writeIncludeDir(p string, depth int) error {
	mtime, err := t.rules.overlay.dirMtime(p)
	if err != nil {
		return err
	}
	h := &header{
		name:     memberName(p) + "/",
		typeflag: typeDir,
		mode:     0o755,
		mtime:    t.mtime(mtime),
	}
	t.stats.Dirs++
	if err := t.writeHeader(h); err != nil {
		return err
	}
	return t.walk(p, 0, false, depth+1)
}

// dirMtime is the mtime of the directory p that only includes need: the
// newest of the included files below it, so that the same files give the
// same archive whenever it is written.
func (ov overlay) dirMtime(p string) (time.Time, error) {
	var newest time.Time
	for dest, inc := range ov.files {
		if !strings.HasPrefix(dest, p+"/") {
			continue
		}
		info, err := os.Stat(inc.Source)
		if err != nil {
			return time.Time{}, fmt.Errorf("include %s: %w", inc.Source, err)
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
	}
	return newest, nil
}
