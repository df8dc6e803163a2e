package pkgdb

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Change is one line of a change list.
type Change struct {
	// Kind is "added", "removed", "upgraded" or "downgraded".
	Kind string
	// ID names the package as the manifest does.
	ID string
	// Old and New are the versions before and after ("" when added or
	// removed).
	Old, New string
}

// Changes is what changed between a base image's packages and an image's.
type Changes []Change

// Diff compares two inventories of the same format. A name installed in
// several versions (rpm's kernels) compares as a set: versions only in
// base are removed, only in image added.
func Diff(base, image *Inventory) Changes {
	before, after := versionsByID(base), versionsByID(image)
	var changes Changes
	for id, old := range before {
		cur, ok := after[id]
		switch {
		case !ok:
			for _, v := range old {
				changes = append(changes, Change{Kind: "removed", ID: id, Old: v})
			}
		case len(old) == 1 && len(cur) == 1:
			if old[0] != cur[0] {
				kind := "upgraded"
				if compareVersions(image.Format, cur[0], old[0]) < 0 {
					kind = "downgraded"
				}
				changes = append(changes, Change{Kind: kind, ID: id, Old: old[0], New: cur[0]})
			}
		default:
			changes = append(changes, setChanges(id, old, cur)...)
		}
	}
	for id, cur := range after {
		if _, ok := before[id]; !ok {
			for _, v := range cur {
				changes = append(changes, Change{Kind: "added", ID: id, New: v})
			}
		}
	}
	sort.Slice(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Old+"\x00"+a.New < b.Old+"\x00"+b.New
	})
	return changes
}

func versionsByID(inv *Inventory) map[string][]string {
	m := map[string][]string{}
	if inv == nil {
		return m
	}
	for _, p := range inv.Packages {
		m[p.ID] = append(m[p.ID], p.Version)
	}
	return m
}

func setChanges(id string, old, cur []string) []Change {
	in := func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	var changes []Change
	for _, v := range old {
		if !in(cur, v) {
			changes = append(changes, Change{Kind: "removed", ID: id, Old: v})
		}
	}
	for _, v := range cur {
		if !in(old, v) {
			changes = append(changes, Change{Kind: "added", ID: id, New: v})
		}
	}
	return changes
}

// summaryNames is how many package names the summary shows.
const summaryNames = 5

// Summary sums the changes up in one line: "2 added, 1 removed, 3
// upgraded: a, b, c, d, e, ..." (downgrades are counted only when there
// are some), or "no package changes".
func (c Changes) Summary() string {
	counts := map[string]int{}
	var names []string
	seen := map[string]bool{}
	for _, ch := range c {
		counts[ch.Kind]++
		if !seen[ch.ID] {
			seen[ch.ID] = true
			names = append(names, ch.ID)
		}
	}
	if len(c) == 0 {
		return "no package changes"
	}
	s := fmt.Sprintf("%d added, %d removed, %d upgraded", counts["added"], counts["removed"], counts["upgraded"])
	if counts["downgraded"] > 0 {
		s += fmt.Sprintf(", %d downgraded", counts["downgraded"])
	}
	more := ""
	if len(names) > summaryNames {
		names, more = names[:summaryNames], ", ..."
	}
	return s + ": " + strings.Join(names, ", ") + more
}

// Write writes the change list, one tab-separated line per package:
// "added NAME NEW", "removed NAME OLD", "upgraded NAME OLD NEW" (or
// downgraded), sorted by name.
func (c Changes) Write(w io.Writer) error {
	for _, ch := range c {
		var err error
		switch ch.Kind {
		case "added":
			_, err = fmt.Fprintf(w, "added\t%s\t%s\n", ch.ID, ch.New)
		case "removed":
			_, err = fmt.Fprintf(w, "removed\t%s\t%s\n", ch.ID, ch.Old)
		default:
			_, err = fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ch.Kind, ch.ID, ch.Old, ch.New)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
