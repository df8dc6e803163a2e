package maascurtinhook

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
)

// hostFile is a host file bound for /curtin.
type hostFile struct {
	name string // in /curtin
	path string // on the host
}

// sourceFiles lists what a `source` setting puts into /curtin.
func sourceFiles(source string) ([]hostFile, error) {
	info, err := os.Stat(source)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if info.Mode().IsRegular() {
		return []hostFile{{curtinhook.HookName, source}}, nil
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("source %s is neither a file nor a directory", source)
	}
	entries, err := os.ReadDir(source)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	var files []hostFile
	hasHook := false
	for _, e := range entries {
		path := filepath.Join(source, e.Name())
		if err := regularFile("source", path); err != nil {
			return nil, fmt.Errorf("%w: a source directory holds only the files for /curtin/", err)
		}
		hasHook = hasHook || e.Name() == curtinhook.HookName
		files = append(files, hostFile{e.Name(), path})
	}
	if !hasHook {
		return nil, fmt.Errorf("source directory %s has no %s: put the hook there, or give the hook file itself as source",
			source, curtinhook.HookName)
	}
	return files, nil
}

func regularFile(what, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", what, path)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
