package maas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// serverInfo is what decides how MAAS stores an upload.
type serverInfo struct {
	// version is MAAS's own, e.g. 3.5.0; "" when it did not say.
	version string
	// perRegion: MAAS 3.4 and later (or a version it did not tell) keep
	// a copy of each file per region controller, report progress over
	// size × regions, and share stored content by sha256 in a way that a
	// PUT destroys. MAAS 3.3 and older keep one copy for all regions.
	perRegion bool
	// regions is the number of region controllers; 0 when unknown.
	regions int
}

// serverInfo reads MAAS's version and its region controllers once.
func (c *Client) serverInfo(ctx context.Context) (serverInfo, error) {
	if c.info != nil {
		return *c.info, nil
	}
	info := serverInfo{perRegion: true}
	var data []byte
	target := c.apiURL("api/2.0/version/").String()
	err := c.retry(ctx, "reading MAAS's version", func(ctx context.Context) error {
		var err error
		data, err = c.send(ctx, func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		}, false)
		return err
	})
	if err != nil {
		return info, err
	}
	var answer struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(data, &answer) == nil {
		info.version = answer.Version
	}
	if major, minor, ok := majorMinor(info.version); ok {
		info.perRegion = major > 3 || major == 3 && minor >= 4
	} else {
		c.opts.Logf("MAAS did not say which version it is (%q); assuming 3.4 or later, which keeps a copy per region", info.version)
	}
	if info.regions, err = c.regionCount(ctx); err != nil {
		if !info.perRegion {
			err = nil // MAAS 3.3's progress does not depend on it
		} else if apiErr := (*APIError)(nil); errors.As(err, &apiErr) && apiErr.StatusCode != http.StatusUnauthorized {
			c.opts.Logf("could not list MAAS's region controllers (%v); a lost answer will be settled without their number", err)
			err = nil
		}
	}
	if err != nil {
		return info, err
	}
	c.info = &info
	return info, nil
}

func majorMinor(version string) (int, int, bool) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimLeft(parts[1], "~"))
	return major, minor, err1 == nil && err2 == nil
}

// regionCount lists the region controllers (GET regioncontrollers/).
func (c *Client) regionCount(ctx context.Context) (int, error) {
	var data []byte
	err := c.retry(ctx, "listing MAAS's region controllers", func(ctx context.Context) error {
		a := c.apiClient(ctx)
		var err error
		data, err = a.Get(&url.URL{Path: "regioncontrollers/"}, "", nil)
		return c.gomaasError(ctx, "GET", "regioncontrollers/", err)
	})
	if err != nil {
		return 0, err
	}
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		return 0, fmt.Errorf("MAAS sent a region controller list that is not valid JSON: %w", err)
	}
	return len(list), nil
}

// heldBytes is how many bytes of the file the region that took the
// upload holds, from MAAS's progress: over size × regions on MAAS 3.4+
// (the others copy only a whole file), over one copy on 3.3. ok is false
// when the number of regions is unknown.
func (i serverInfo) heldBytes(f ResourceFile) (int64, bool) {
	if f.Complete {
		return f.Size, true
	}
	copies := 1
	if i.perRegion {
		if i.regions <= 0 {
			return 0, false
		}
		copies = i.regions
	}
	return bytesAt(f, copies), true
}

func bytesAt(f ResourceFile, copies int) int64 {
	held := int64(math.Round(f.Progress / 100 * float64(f.Size) * float64(copies)))
	return max(0, min(held, f.Size))
}

// regionsHolding is how many regions hold the whole file.
func (i serverInfo) regionsHolding(f ResourceFile) int {
	switch {
	case f.Complete:
		return max(1, i.regions)
	case !i.perRegion || i.regions <= 0:
		return 0
	}
	return int(math.Floor(f.Progress/100*float64(i.regions) + 1e-9))
}

// contentMatch is a file with the upload's sha256 already in MAAS.
type contentMatch struct {
	Resource Resource
	Version  string
	File     ResourceFile
}

// survey is what MAAS holds before this upload changes anything.
type survey struct {
	info serverInfo
	// existing is the resource with the upload's name and architecture,
	// nil if there is none: then this upload creates it.
	existing *Resource
	// same lists every uploaded file with the upload's sha256.
	same []contentMatch
}

// survey lists the uploaded resources and reads each with its sets.
func (c *Client) survey(ctx context.Context, req UploadRequest) (*survey, error) {
	info, err := c.serverInfo(ctx)
	if err != nil {
		return nil, err
	}
	sv := &survey{info: info}
	list, err := c.listUploaded(ctx)
	if err != nil {
		return nil, err
	}
	for _, entry := range list {
		res, err := c.readRetrying(ctx, entry.ID)
		if err != nil {
			return nil, err
		}
		if res.Name == req.Name && res.Architecture == req.Architecture {
			sv.existing = &res
		}
		for _, v := range sortedVersions(res) {
			for _, f := range res.Sets[v].Files {
				if f.SHA256 == req.SHA256 {
					sv.same = append(sv.same, contentMatch{Resource: res, Version: v, File: f})
				}
			}
		}
	}
	return sv, nil
}

// present is the newest version of this content under the upload's
// name and architecture that the uploading region holds whole.
func (sv *survey) present(req UploadRequest) (contentMatch, bool) {
	var found contentMatch
	ok := false
	for _, m := range sv.same {
		if m.Resource.Name == req.Name && m.Resource.Architecture == req.Architecture && sv.holdsWhole(m.File) &&
			(!ok || versionLess(found.Version, m.Version)) {
			found, ok = m, true
		}
	}
	return found, ok
}

func (sv *survey) holdsWhole(f ResourceFile) bool {
	held, ok := sv.info.heldBytes(f)
	return f.Complete || ok && held == f.Size
}

// conflict refuses an upload whose content MAAS already stores where a
// PUT would destroy it: under another name (MAAS 3.4+), or as an
// incomplete earlier upload under this one.
func (sv *survey) conflict(req UploadRequest) error {
	for _, m := range sv.same {
		r := m.Resource
		if r.Name == req.Name && r.Architecture == req.Architecture {
			if _, ok := sv.leftover(req); ok {
				continue // resumed where it stopped
			}
			return fmt.Errorf("MAAS holds an incomplete earlier upload of this content (sha256 %s) as version %s of boot resource %d (%s, %s, %.1f%%); "+
				"sending into it could destroy what MAAS stores: if no other upload is running, delete it with `maas $PROFILE boot-resource delete %d` and run again",
				req.SHA256, m.Version, r.ID, r.Name, r.Architecture, m.File.Progress, r.ID)
		}
		if !sv.info.perRegion && m.File.Complete {
			continue // MAAS 3.3 shares the stored content safely
		}
		return fmt.Errorf("MAAS already stores this content (sha256 %s) as boot resource %d (%s, %s), version %s; "+
			"MAAS %s keeps one stored file per content and deletes it when an upload overflows it, so uploading it as %s (%s) would destroy that image: "+
			"deploy boot resource %d as it is, set image_name to %q to update that image, or delete it first with `maas $PROFILE boot-resource delete %d`",
			req.SHA256, r.ID, r.Name, r.Architecture, m.Version, orNewer(sv.info.version), req.Name, req.Architecture, r.ID, r.Name, r.ID)
	}
	return nil
}

// leftover is an incomplete earlier upload of this content under this
// name and architecture whose stored bytes progress tells exactly: the
// upload goes on from there. Only that file stores this content (another
// one would be a conflict), so nothing else is at risk.
func (sv *survey) leftover(req UploadRequest) (contentMatch, bool) {
	var found contentMatch
	ok := false
	for _, m := range sv.same {
		if m.Resource.Name != req.Name || m.Resource.Architecture != req.Architecture {
			if sv.info.perRegion || !m.File.Complete {
				return contentMatch{}, false
			}
			continue
		}
		if _, known := sv.info.heldBytes(m.File); !known || ok || m.File.UploadURI == "" {
			return contentMatch{}, false // several, or not exactly known
		}
		found, ok = m, true
	}
	return found, ok
}

func orNewer(version string) string {
	if version == "" {
		return "3.4 and later"
	}
	return version
}

// keepOldWarning says what a create without keep_old drops, or "".
func (sv *survey) keepOldWarning(req UploadRequest) string {
	if req.KeepOld || sv.existing == nil {
		return ""
	}
	var versions []string
	for _, v := range sortedVersions(*sv.existing) {
		if len(sv.existing.Sets[v].Files) > 0 {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		return ""
	}
	return fmt.Sprintf("keep_old is false: MAAS drops the files of boot resource %d (%s) version %s when this upload creates its new version, before any byte is sent; if the upload then fails, that resource has no usable version left",
		sv.existing.ID, req.Name, strings.Join(versions, ", "))
}

// versionsBefore says whether version existed before the upload.
func (sv *survey) versionBefore(version string) bool {
	if sv.existing == nil {
		return false
	}
	_, ok := sv.existing.Sets[version]
	return ok
}

// sortedVersions lists a resource's set versions, oldest first.
func sortedVersions(r Resource) []string {
	versions := make([]string, 0, len(r.Sets))
	for v := range r.Sets {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, func(a, b string) int {
		switch {
		case versionLess(a, b):
			return -1
		case versionLess(b, a):
			return 1
		}
		return 0
	})
	return versions
}

// describeSets says what a resource holds, version by version.
func describeSets(r Resource, sv *survey, sum string) string {
	var parts []string
	for _, v := range sortedVersions(r) {
		set := r.Sets[v]
		var desc string
		switch {
		case len(set.Files) == 0 && sv.versionBefore(v) && len(sv.existing.Sets[v].Files) > 0:
			desc = "no file (MAAS dropped it at this upload's create, as keep_old is false)"
		case len(set.Files) == 0:
			desc = "no file"
		case set.Complete:
			desc = "complete"
		default:
			desc = fmt.Sprintf("incomplete, %.1f%%", set.Progress)
		}
		if _, f, ok := r.FileBySHA256(sum); ok && !sv.versionBefore(v) && set.Files[f.Filename].SHA256 == sum {
			desc += ", this upload's"
		}
		parts = append(parts, "version "+v+": "+desc)
	}
	if len(parts) == 0 {
		return "no version"
	}
	return strings.Join(parts, "; ")
}
