package fakemaas

import (
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	knownOSes       = []string{"ubuntu", "ubuntu-core", "centos", "rhel", "custom", "windows", "suse", "esxi", "ol"}
	baseOSes        = []string{"ubuntu", "centos", "rhel", "ol"}
	syncedSeries    = []string{"trusty", "xenial", "bionic", "focal", "jammy", "noble", "oracular", "plucky", "questing"}
	filetypes       = []string{"tgz", "tbz", "txz", "ddtgz", "ddtbz", "ddtxz", "ddtar", "ddbz2", "ddgz", "ddxz", "ddraw"}
	archPattern     = regexp.MustCompile(`^(amd64|arm64|armhf|i386|ppc64el|s390x|riscv64)/[a-z0-9._-]+$`)
	shaPattern      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	centosReserved  = regexp.MustCompile(`^centos[0-9]+$`)
	ubuntuVersionRe = regexp.MustCompile(`^[0-9.]+$`)
)

// uploadParams are the create fields (API 2.0 form, API 3 headers).
type uploadParams struct {
	name, arch, sha, title, filetype, baseImage string
	size                                        int64
	keepOld                                     bool
}

// validate returns MAAS-style field errors.
func (p *uploadParams) validate(sizeRequired bool) map[string][]string {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }
	if p.name == "" {
		add("name", "This field is required.")
	} else if reason := nameProblem(p.name); reason != "" {
		add("name", reason)
	}
	if !archPattern.MatchString(p.arch) {
		add("architecture", fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", p.arch))
	}
	if !shaPattern.MatchString(p.sha) {
		add("sha256", "This field is required and must be a lowercase hex sha256.")
	}
	if sizeRequired && p.size <= 0 {
		add("size", "This field is required.")
	}
	if p.filetype == "" {
		p.filetype = "tgz"
	}
	if !slices.Contains(filetypes, p.filetype) {
		add("filetype", fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", p.filetype))
	}
	if p.baseImage != "" {
		osName, series, ok := strings.Cut(p.baseImage, "/")
		if !ok || series == "" || !slices.Contains(baseOSes, osName) || (osName == "ubuntu" && ubuntuVersionRe.MatchString(series)) {
			add("base_image", fmt.Sprintf("Unsupported base image %s.", p.baseImage))
		}
	}
	return errs
}

func nameProblem(name string) string {
	osName, short, hasOS := strings.Cut(name, "/")
	if !hasOS {
		short = name
	} else if !slices.Contains(knownOSes, osName) {
		return fmt.Sprintf("Unsupported operating system %s.", osName)
	}
	if short == "" || strings.Contains(short, "/") {
		return "Invalid name."
	}
	if slices.Contains(knownOSes, short) || slices.Contains(syncedSeries, short) || centosReserved.MatchString(short) {
		return fmt.Sprintf("%s is a reserved name.", short)
	}
	return ""
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		http.Error(w, "Malformed form: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.MultipartForm != nil && len(r.MultipartForm.File) > 0 {
		// The client under test must create without content.
		http.Error(w, "fakemaas: unexpected content in create", http.StatusBadRequest)
		return
	}
	size, _ := strconv.ParseInt(r.FormValue("size"), 10, 64)
	p := uploadParams{
		name: r.FormValue("name"), arch: r.FormValue("architecture"), sha: r.FormValue("sha256"),
		title: r.FormValue("title"), filetype: r.FormValue("filetype"), baseImage: r.FormValue("base_image"),
		size: size, keepOld: r.FormValue("keep_old") == "true",
	}
	if errs := p.validate(true); len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	s.mu.Lock()
	if msg := s.sizeConflict(p); msg != "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string][]string{"__all__": {msg}})
		return
	}
	s.stats.Creates++
	res, _ := s.addSet(p, false)
	answer := s.render(res, true)
	lost := s.faults.CreateAnswersLost > 0
	if lost {
		s.faults.CreateAnswersLost--
		s.stats.LostCreates++
	}
	hang := s.faults.CreateHangs
	s.mu.Unlock()
	if s.OnCreate != nil {
		s.OnCreate()
	}
	if lost && hang {
		<-r.Context().Done() // answered after the client gave up: never
		return
	}
	if lost {
		dropConnection(w)
		return
	}
	writeJSON(w, http.StatusCreated, answer)
}

// sizeConflict is MAAS's refusal of a sha256 stored with another size.
// Callers hold s.mu.
func (s *Server) sizeConflict(p uploadParams) string {
	for _, f := range s.files {
		if f.SHA256 == p.sha && f.Size != p.size {
			return "File already exists with sha256 that is of different size."
		}
	}
	return ""
}

// addSet adds a new version to the resource with this name and
// architecture, creating the resource when needed. Unless keep_old, the
// older sets' files are dropped now, at the create, as MAAS's
// BootResourceForm.save does; their sets stay, empty. Callers hold s.mu.
func (s *Server) addSet(p uploadParams, viaV3 bool) (*resource, *file) {
	var res *resource
	for _, r := range s.resources {
		if r.Name == p.name && r.Arch == p.arch {
			res = r
		}
	}
	if res == nil {
		res = &resource{ID: s.nextID, Name: p.name, Arch: p.arch, Sets: map[string]*set{}, viaV3: viaV3}
		s.nextID++
		s.resources[res.ID] = res
	}
	if res.BaseImage == "" {
		res.BaseImage = p.baseImage // set once, never changed
	}
	if p.title != "" {
		res.Title = p.title
	}
	version := s.Now().Format("20060102")
	for n := 1; res.Sets[version] != nil; n++ {
		version = fmt.Sprintf("%s.%d", s.Now().Format("20060102"), n)
	}
	filename, filetype := fileNames(p.filetype)
	f := &file{
		id: s.nextID, resourceID: res.ID, version: version, Filename: filename, Filetype: filetype,
		SHA256: p.sha, Size: p.size, blobKey: p.sha, sync: make([]int64, s.regions()),
	}
	if s.NoDedupe {
		f.blobKey = fmt.Sprintf("%s#%d", p.sha, f.id)
	}
	s.nextID++
	st := &set{Version: version, keepOld: p.keepOld, Files: map[string]*file{filename: f}}
	res.Sets[version] = st
	s.files[f.id] = f
	if !p.keepOld {
		for _, other := range res.Sets {
			if other != st {
				s.dropFiles(other)
			}
		}
	}
	return res, f
}

// fileNames maps an upload filetype to MAAS's file name and file type.
func fileNames(filetype string) (string, string) {
	switch {
	case strings.HasPrefix(filetype, "t"):
		return "root." + filetype, "root-" + filetype
	case filetype == "ddraw":
		return "root-dd.raw", "root-dd.raw"
	default:
		suffix := strings.TrimPrefix(filetype, "dd")
		return "root-dd." + suffix, "root-dd." + suffix
	}
}

// put appends one chunk, checking in MAAS's order.
func (s *Server) put(w http.ResponseWriter, r *http.Request, resourceID, fileID int) {
	s.mu.Lock()
	s.stats.Puts++
	f, ok := s.files[fileID]
	if !ok || f.resourceID != resourceID {
		s.mu.Unlock()
		http.Error(w, "No BootResourceFile matches the given query.", http.StatusNotFound)
		return
	}
	drop := s.hit("drop", s.faults.DropEvery)
	lose := s.hit("lose", s.faults.LoseAnswerEvery)
	dropAfter := s.faults.DropAfterBytes
	s.mu.Unlock()
	switch {
	case r.ContentLength == 0:
		http.Error(w, "Missing data.", http.StatusBadRequest)
		return
	case r.ContentLength < 0:
		http.Error(w, "Length Required", http.StatusLengthRequired)
		return
	}
	if drop {
		s.dropMidBody(w, r, dropAfter)
		return
	}
	status, msg := s.appendChunk(r, f)
	if lose && status == http.StatusOK {
		s.mu.Lock()
		s.stats.LostAnswers++
		s.mu.Unlock()
		dropConnection(w)
		return
	}
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) dropMidBody(w http.ResponseWriter, r *http.Request, after int64) {
	_, _ = io.CopyN(io.Discard, r.Body, min(after, r.ContentLength-1))
	s.mu.Lock()
	s.stats.Dropped++
	s.mu.Unlock()
	dropConnection(w)
}

// appendChunk streams the body into the stored content, checking as
// MAAS's upload handler does. A body that does not arrive whole is not
// stored, as MAAS only sees complete requests.
func (s *Server) appendChunk(r *http.Request, f *file) (int, string) {
	s.mu.Lock()
	b := s.blobOf(f)
	s.mu.Unlock()
	b.mu.Lock() // one body at a time per stored file; s.mu stays free
	defer b.mu.Unlock()
	s.mu.Lock()
	if s.MAAS33 && b.valid || !s.MAAS33 && f.sync[0] == f.Size {
		s.mu.Unlock()
		return http.StatusBadRequest, "Cannot upload to a complete file."
	}
	if b.size+r.ContentLength > f.Size {
		s.overflow(f)
		s.mu.Unlock()
		return http.StatusBadRequest, "Too much data received."
	}
	s.mu.Unlock()
	saved, _ := b.hash.(encoding.BinaryMarshaler).MarshalBinary()
	n, err := io.Copy(b.hash, r.Body)
	if err != nil || n != r.ContentLength {
		_ = b.hash.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved)
		return http.StatusBadRequest, "Incomplete body."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.size += n
	if b.size < f.Size {
		f.sync[0] += n
		return http.StatusOK, ""
	}
	if hex.EncodeToString(b.hash.Sum(nil)) != f.SHA256 {
		if s.MAAS33 {
			b.size, b.hash = 0, newHash()
		} // 3.4+: the request's transaction is rolled back, the full file stays on disk
		return http.StatusBadRequest, "Saved content does not match given SHA256 value."
	}
	f.sync[0] += n
	s.completeFile(f, b)
	return http.StatusOK, ""
}

// blobOf is the stored content of a file row, created empty when MAAS
// holds none. Callers hold s.mu.
func (s *Server) blobOf(f *file) *blob {
	b := s.store[f.blobKey]
	if b == nil {
		b = &blob{hash: newHash()}
		s.store[f.blobKey] = b
	}
	return b
}

// overflow is MAAS's answer to too much data: 3.4+ deletes the stored
// file, whichever rows share it, and leaves the sync rows as they were;
// 3.3 discards what was stored. Callers hold s.mu.
func (s *Server) overflow(f *file) {
	if s.MAAS33 {
		s.store[f.blobKey] = &blob{hash: newHash()}
		return
	}
	delete(s.store, f.blobKey)
}

// completeFile marks the stored content whole; the other regions copy it
// after SyncReads reads. Callers hold s.mu.
func (s *Server) completeFile(f *file, b *blob) {
	b.valid = true
	f.syncReads = s.SyncReads
	if f.syncReads == 0 {
		s.copyToRegions(f)
	}
}

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }
