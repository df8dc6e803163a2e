package fstab

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("LABEL=\"a b\" /x\\040y ext4 nofail\n/dev/disk/by-label/a\\x2 /z\n"))
	f.Add([]byte("PARTUUID='q' / auto\n\\777 \\0 \\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _ := Parse(data)
		for _, e := range entries {
			if e.Line < 1 || strings.TrimSpace(e.Text) == "" {
				t.Fatalf("entry %+v has no line", e)
			}
			_ = e.Source()
			_ = e.NotLocal()
			_ = e.String()
		}
	})
}
