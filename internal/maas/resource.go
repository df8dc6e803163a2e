package maas

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Resource is a MAAS boot resource as the API 2.0 read call returns it.
// gomaasclient's entity type drops the fields an upload needs
// (upload_uri, progress), hence this one.
type Resource struct {
	ID           int                    `json:"id"`
	Type         string                 `json:"type"`
	Name         string                 `json:"name"`
	Architecture string                 `json:"architecture"`
	Title        string                 `json:"title"`
	BaseImage    string                 `json:"base_image"`
	ResourceURI  string                 `json:"resource_uri"`
	Sets         map[string]ResourceSet `json:"sets"`
}

// ResourceSet is one version of a boot resource.
type ResourceSet struct {
	Version  string                  `json:"version"`
	Label    string                  `json:"label"`
	Size     int64                   `json:"size"`
	Complete bool                    `json:"complete"`
	Progress float64                 `json:"progress"`
	Files    map[string]ResourceFile `json:"files"`
}

// ResourceFile is one file of a set.
type ResourceFile struct {
	Filename  string  `json:"filename"`
	Filetype  string  `json:"filetype"`
	SHA256    string  `json:"sha256"`
	Size      int64   `json:"size"`
	Complete  bool    `json:"complete"`
	Progress  float64 `json:"progress"`
	UploadURI string  `json:"upload_uri"`
}

func parseResource(data []byte) (Resource, error) {
	var r Resource
	if err := json.Unmarshal(data, &r); err != nil {
		return Resource{}, fmt.Errorf("MAAS sent a boot resource that is not valid JSON: %w", err)
	}
	return r, nil
}

// FileBySHA256 finds the file with this sha256 in the newest set that has
// it (MAAS may hold several versions of the same content).
func (r Resource) FileBySHA256(sum string) (version string, file ResourceFile, ok bool) {
	for v, set := range r.Sets {
		for _, f := range set.Files {
			if f.SHA256 == sum && (!ok || versionLess(version, v)) {
				version, file, ok = v, f, true
			}
		}
	}
	return version, file, ok
}

// OtherSets counts the sets other than the given version.
func (r Resource) OtherSets(version string) int {
	n := len(r.Sets)
	if _, ok := r.Sets[version]; ok {
		n--
	}
	return n
}

// Offset is how many bytes of the file MAAS holds: the API shows only a
// percentage, exact enough in float64 for any file size MAAS can store.
func (f ResourceFile) Offset() int64 {
	if f.Complete {
		return f.Size
	}
	offset := int64(math.Round(f.Progress / 100 * float64(f.Size)))
	return max(0, min(offset, f.Size)) // whatever the server says
}

// versionLess orders set versions YYYYMMDD[.N] numerically, because as
// strings "20260102.10" sorts before "20260102.9".
func versionLess(a, b string) bool {
	ad, an := splitVersion(a)
	bd, bn := splitVersion(b)
	if ad != bd {
		return ad < bd
	}
	return an < bn
}

func splitVersion(v string) (date string, n int) {
	date, suffix, _ := strings.Cut(v, ".")
	n, _ = strconv.Atoi(suffix)
	return date, n
}
