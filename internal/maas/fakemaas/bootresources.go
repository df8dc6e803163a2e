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
	s.stats.Creates++
	res, _ := s.addSet(p, false)
	answer := s.render(res, true)
	s.mu.Unlock()
	if s.OnCreate != nil {
		s.OnCreate()
	}
	writeJSON(w, http.StatusCreated, answer)
}

// addSet adds a new version to the resource with this name and
// architecture, creating the resource when needed. Callers hold s.mu.
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
		SHA256: p.sha, Size: p.size, hash: newHash(),
	}
	s.nextID++
	st := &set{Version: version, keepOld: p.keepOld, Files: map[string]*file{filename: f}}
	res.Sets[version] = st
	s.files[f.id] = f
	if s.done[p.sha] && !s.NoDedupe {
		f.received, f.complete = f.Size, true
		s.finishSet(res, st)
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

// finishSet marks the sync delay and, unless keep_old, drops the other
// versions. Callers hold s.mu.
func (s *Server) finishSet(res *resource, st *set) {
	st.syncReads = s.SyncReads
	if st.keepOld {
		return
	}
	for version, other := range res.Sets {
		if other != st {
			for _, f := range other.Files {
				delete(s.files, f.id)
			}
			delete(res.Sets, version)
		}
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

// appendChunk streams the body into the file's hash. A body that does not
// arrive whole is not stored, as MAAS only sees complete requests.
func (s *Server) appendChunk(r *http.Request, f *file) (int, string) {
	f.mu.Lock() // one body at a time per file; s.mu stays free meanwhile
	defer f.mu.Unlock()
	s.mu.Lock()
	if f.complete {
		s.mu.Unlock()
		return http.StatusBadRequest, "Cannot upload to a complete file."
	}
	if f.received+r.ContentLength > f.Size {
		f.received, f.hash = 0, newHash()
		s.mu.Unlock()
		return http.StatusBadRequest, "Too much data received."
	}
	s.mu.Unlock()
	saved, _ := f.hash.(encoding.BinaryMarshaler).MarshalBinary()
	n, err := io.Copy(f.hash, r.Body)
	if err != nil || n != r.ContentLength {
		_ = f.hash.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved)
		return http.StatusBadRequest, "Incomplete body."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f.received += n
	if f.received < f.Size {
		return http.StatusOK, ""
	}
	if hex.EncodeToString(f.hash.Sum(nil)) != f.SHA256 {
		f.received, f.hash = 0, newHash()
		return http.StatusBadRequest, "Saved content does not match given SHA256 value."
	}
	s.completeFile(f)
	return http.StatusOK, ""
}

// completeFile marks a file complete; callers hold s.mu.
func (s *Server) completeFile(f *file) {
	f.complete = true
	s.done[f.SHA256] = true
	if res := s.resources[f.resourceID]; res != nil {
		s.finishSet(res, res.Sets[f.version])
	}
}

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }
