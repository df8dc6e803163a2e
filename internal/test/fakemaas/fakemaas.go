// Package fakemaas is an in-process MAAS that serves the part of the API
// an image upload uses, as docs/design/maas-api.md describes MAAS's
// region: OAuth PLAINTEXT with nonce and timestamp checks, 301 on a
// missing trailing slash, create validation, versioned sets, appending
// chunk PUTs with MAAS's error order, progress, delete, the region
// controller list, and the API 3 one-shot upload with bearer tokens.
// Faults (dropped connections, lost answers, 503s, slowness, lost create
// answers) can be injected to test a client's recovery.
//
// By default it is MAAS 3.4 and later: each of Regions region controllers
// holds its own copy of a file; an upload lands on the first region and
// the others copy it after SyncReads reads of the resource (or when the
// test calls SyncRegions); a file's progress and complete are over all
// regions. Stored content is shared by sha256: a new file row for content
// already stored starts incomplete, and its first PUT overflows the shared
// stored file, which MAAS then deletes. Without keep_old the create drops
// the older sets' files. MAAS33 switches to MAAS 3.3 and older: one shared
// store, progress over one copy, and a new file for stored content is
// complete at once.
//
// It keeps only a running sha256 per stored file, never the content, so
// gigabyte uploads cost it no memory.
package fakemaas

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials of the fake's single user.
const (
	ConsumerKey = "fakeconsumerkey123"
	TokenKey    = "faketokenkey123456"
	TokenSecret = "faketokensecret0123456789abcdefg"
	// APIKey is the API 2.0 key MAAS would print for that user.
	APIKey   = ConsumerKey + ":" + TokenKey + ":" + TokenSecret
	Username = "admin"
	Password = "fake-password"
)

// NginxBodyLimit is the request body cap of the nginx in front of MAAS.
const NginxBodyLimit = 10 << 20

// Faults are injected failures; every K-th request of a kind fails, so
// runs are reproducible. Zero disables a fault.
type Faults struct {
	// DropEvery: every K-th upload request (chunk PUT or API 3 POST) reads
	// DropAfterBytes of the body, then the connection is closed without an
	// answer; nothing of it is stored.
	DropEvery      int
	DropAfterBytes int64
	// LoseAnswerEvery: every K-th upload request is stored, then the
	// connection is closed without an answer.
	LoseAnswerEvery int
	// FailEvery: every K-th authenticated request answers 503 untouched.
	FailEvery int
	// SlowEvery: every K-th request is handled at once but answered only
	// after Delay (or never, if the client gives up first).
	SlowEvery int
	Delay     time.Duration
	// CreateAnswersLost: that many API 2.0 creates (the first ones) are
	// stored, then their answer is lost: the connection is dropped, or,
	// with CreateHangs, held until the client gives up, as a slow MAAS
	// does to a client with a short timeout.
	CreateAnswersLost int
	CreateHangs       bool
}

// Stats count what the fake did, so tests can check faults really fired.
type Stats struct {
	Creates, Puts, Reads, Deletes, V3Uploads int
	Dropped, LostAnswers, Failed, Slowed     int
	Unauthorized, LostCreates                int
}

// FileState is one file row, for tests to inspect.
type FileState struct {
	ResourceID         int
	Name, Architecture string
	Version, SHA256    string
	Size               int64
	// Received is what the uploading region's row records (MAAS 3.4+) or
	// the shared store holds (MAAS33).
	Received int64
	// Stored is how many bytes of this content the uploading region's
	// store holds: 0 after MAAS deleted a shared stored file.
	Stored int64
	// RegionsHolding counts the regions whose row records the whole file.
	RegionsHolding int
	// Complete is MAAS's complete: every region holds the file.
	Complete            bool
	BaseImage, Filetype string
}

// SetState is one version of a resource, files or not.
type SetState struct {
	Version string
	Files   int
}

// Server is the fake MAAS. Its exported fields may be set before the
// first request.
type Server struct {
	// URL is the MAAS root, e.g. http://127.0.0.1:PORT/MAAS.
	URL string
	// Now is the server's clock (default time.Now).
	Now func() time.Time
	// BodyLimit caps request bodies like nginx: 0 means NginxBodyLimit,
	// negative means no cap.
	BodyLimit int64
	// V3 enables API 3 (/MAAS/a/v3/...).
	V3 bool
	// NoDedupe turns off MAAS's reuse of stored content with the same
	// sha256, so the same file can be uploaded again (benchmarks).
	NoDedupe bool
	// OnCreate, when set, runs after a create is stored and before it is
	// answered: tests use it to cancel a client at that moment.
	OnCreate func()
	// Regions is the number of region controllers (default 1).
	Regions int
	// SyncReads is how many reads of a resource (GET with its sets) go by
	// after a file is whole on the uploading region before the other
	// regions hold it too; 0 copies it at once.
	SyncReads int
	// MAAS33 behaves like MAAS 3.3 and older (see the package comment).
	MAAS33 bool

	http *httptest.Server

	mu        sync.Mutex
	faults    Faults
	counters  map[string]int
	stats     Stats
	nonces    map[string]bool
	tokens    map[string]time.Time
	resources map[int]*resource
	files     map[int]*file
	store     map[string]*blob // the uploading region's disk, by sha256
	nextID    int
}

type resource struct {
	ID         int
	Name, Arch string
	Title      string
	BaseImage  string
	Sets       map[string]*set
	viaV3      bool
}

type set struct {
	Version string
	keepOld bool
	Files   map[string]*file
}

// file is a BootResourceFile row: its content lives in store[blobKey].
type file struct {
	id         int
	resourceID int
	version    string
	Filename   string
	Filetype   string
	SHA256     string
	Size       int64
	blobKey    string
	// sync is each region's BootResourceFileSync size (MAAS 3.4+).
	sync []int64
	// syncReads counts down the reads until the other regions copy it.
	syncReads int
}

// blob is stored content, shared by every row with its sha256.
type blob struct {
	mu    sync.Mutex // one body at a time; s.mu guards the fields
	size  int64
	hash  hash.Hash
	valid bool // whole, with the right sha256
}

// Start runs a fake MAAS on 127.0.0.1. Close it when done.
func Start() *Server {
	s := New()
	s.http = httptest.NewServer(s)
	s.URL = s.http.URL + "/MAAS"
	return s
}

// New returns a fake MAAS to serve with any http.Server.
func New() *Server {
	return &Server{
		Now:       time.Now,
		counters:  map[string]int{},
		nonces:    map[string]bool{},
		tokens:    map[string]time.Time{},
		resources: map[int]*resource{},
		files:     map[int]*file{},
		store:     map[string]*blob{},
		nextID:    1,
	}
}

// Close stops the server started by Start.
func (s *Server) Close() {
	if s.http != nil {
		s.http.Close()
	}
}

// SetFaults replaces the injected faults and restarts their counting.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.counters = map[string]int{}
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Files lists every stored file, ordered by resource id and version.
func (s *Server) Files() []FileState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FileState
	for _, r := range s.resources {
		for _, st := range r.Sets {
			for _, f := range st.Files {
				var stored int64
				if b := s.store[f.blobKey]; b != nil {
					stored = b.size
				}
				out = append(out, FileState{
					ResourceID: r.ID, Name: r.Name, Architecture: r.Arch, Version: st.Version,
					SHA256: f.SHA256, Size: f.Size, Received: s.received(f), Stored: stored,
					RegionsHolding: s.regionsHolding(f), Complete: s.complete(f),
					BaseImage: r.BaseImage, Filetype: f.Filetype,
				})
			}
		}
	}
	slices.SortFunc(out, func(a, b FileState) int {
		if a.ResourceID != b.ResourceID {
			return a.ResourceID - b.ResourceID
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out
}

// Sets lists a resource's versions, those whose files MAAS dropped too.
func (s *Server) Sets(resourceID int) []SetState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SetState
	if r := s.resources[resourceID]; r != nil {
		for _, st := range r.Sets {
			out = append(out, SetState{Version: st.Version, Files: len(st.Files)})
		}
	}
	slices.SortFunc(out, func(a, b SetState) int { return strings.Compare(a.Version, b.Version) })
	return out
}

// SyncRegions has every region copy each file the uploading region holds
// whole, as MAAS's sync workflow does after an upload.
func (s *Server) SyncRegions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		s.copyToRegions(f)
	}
}

// ServeHTTP routes like MAAS's region: API 2.0 under /MAAS/api/2.0/ and
// API 3 under /MAAS/a/v3/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	slow := s.hit("slow", s.faults.SlowEvery)
	if slow {
		s.stats.Slowed++
	}
	delay := s.faults.Delay
	s.mu.Unlock()
	if !slow {
		s.route(w, r)
		return
	}
	// A slow server does the work, then answers late (or never, when the
	// client gave up meanwhile).
	rec := &lateWriter{ResponseRecorder: httptest.NewRecorder()}
	s.route(rec, r)
	if rec.dropped {
		dropConnection(w)
		return
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-r.Context().Done():
		return
	case <-timer.C:
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/MAAS/api/2.0/"):
		s.serveV2(w, r, strings.TrimPrefix(path, "/MAAS/api/2.0/"))
	case path == "/MAAS/api/2.0":
		redirectSlash(w, r)
	case strings.HasPrefix(path, "/MAAS/a/v3/") && s.V3:
		s.serveV3(w, r, strings.TrimPrefix(path, "/MAAS/a/v3/"))
	default:
		http.NotFound(w, r)
	}
}

// hit counts a request of a kind and reports whether it is the K-th.
// Callers hold s.mu.
func (s *Server) hit(kind string, every int) bool {
	if every <= 0 {
		return false
	}
	s.counters[kind]++
	return s.counters[kind]%every == 0
}

func redirectSlash(w http.ResponseWriter, r *http.Request) {
	u := *r.URL
	u.Path += "/"
	http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
}

var (
	resourcePath = regexp.MustCompile(`^boot-resources/([0-9]+)/$`)
	uploadPath   = regexp.MustCompile(`^boot-resources/([0-9]+)/upload/([0-9]+)/$`)
)

func (s *Server) serveV2(w http.ResponseWriter, r *http.Request, path string) {
	// MAAS answers a path without its trailing slash before checking auth.
	if !strings.HasSuffix(path, "/") {
		redirectSlash(w, r)
		return
	}
	if path == "version/" && r.Method == http.MethodGet {
		version := "3.5.0"
		if s.MAAS33 {
			version = "3.3.5"
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": version, "subversion": "fake", "capabilities": []string{}})
		return
	}
	if !s.authorizeOAuth(w, r) {
		return
	}
	if s.injectFailure(w) {
		return
	}
	if !s.withinBodyLimit(w, r) {
		return
	}
	switch m := uploadPath.FindStringSubmatch(path); {
	case path == "users/" && r.URL.Query().Get("op") == "whoami":
		writeJSON(w, http.StatusOK, map[string]any{"username": Username, "is_superuser": true})
	case path == "regioncontrollers/" && r.Method == http.MethodGet:
		s.regionControllers(w)
	case path == "boot-resources/" && r.Method == http.MethodGet:
		s.list(w, r)
	case path == "boot-resources/" && r.Method == http.MethodPost:
		s.create(w, r)
	case m != nil && r.Method == http.MethodPut:
		id, _ := strconv.Atoi(m[1])
		fileID, _ := strconv.Atoi(m[2])
		s.put(w, r, id, fileID)
	case resourcePath.MatchString(path):
		id, _ := strconv.Atoi(resourcePath.FindStringSubmatch(path)[1])
		s.resourceCall(w, r, id)
	default:
		http.NotFound(w, r)
	}
}

// authorizeOAuth checks the OAuth 1.0 PLAINTEXT header like MAAS.
func (s *Server) authorizeOAuth(w http.ResponseWriter, r *http.Request) bool {
	params, ok := parseOAuth(r.Header.Get("Authorization"))
	reason := ""
	switch {
	case !ok:
		reason = "Missing or malformed OAuth Authorization header."
	case params["oauth_signature_method"] != "PLAINTEXT":
		reason = "Unsupported signature method."
	case params["oauth_consumer_key"] != ConsumerKey || params["oauth_token"] != TokenKey:
		reason = "Invalid consumer or access token."
	case params["oauth_signature"] != "&"+TokenSecret:
		reason = "Invalid signature."
	}
	if reason == "" {
		reason = s.checkNonce(params["oauth_nonce"], params["oauth_timestamp"])
	}
	if reason == "" {
		return true
	}
	s.mu.Lock()
	s.stats.Unauthorized++
	s.mu.Unlock()
	http.Error(w, "Authorization Error: "+reason, http.StatusUnauthorized)
	return false
}

// checkNonce rejects reused nonces and timestamps more than 300 s off.
func (s *Server) checkNonce(nonce, timestamp string) string {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || nonce == "" {
		return "Missing nonce or timestamp."
	}
	now := s.Now().Unix()
	if ts < now-300 || ts > now+300 {
		return fmt.Sprintf("Expired timestamp: given %d and now %d has a greater difference than threshold 300", ts, now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonces[nonce] {
		return "Nonce already used: " + nonce
	}
	s.nonces[nonce] = true
	return ""
}

func parseOAuth(header string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(header, "OAuth ")
	if !ok {
		return nil, false
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, false
		}
		unquoted, err := strconv.Unquote(value)
		if err != nil {
			return nil, false
		}
		if params[key], err = urlUnescape(unquoted); err != nil {
			return nil, false
		}
	}
	return params, true
}

func (s *Server) injectFailure(w http.ResponseWriter) bool {
	s.mu.Lock()
	fail := s.hit("fail", s.faults.FailEvery)
	if fail {
		s.stats.Failed++
	}
	s.mu.Unlock()
	if fail {
		http.Error(w, "503 Service Unavailable (injected)", http.StatusServiceUnavailable)
	}
	return fail
}

func (s *Server) withinBodyLimit(w http.ResponseWriter, r *http.Request) bool {
	limit := s.BodyLimit
	if limit == 0 {
		limit = NginxBodyLimit
	}
	if limit > 0 && r.ContentLength > limit {
		http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return false
	}
	return true
}

func (s *Server) resourceCall(w http.ResponseWriter, r *http.Request, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, ok := s.resources[id]
	if !ok {
		http.Error(w, "No BootResource matches the given query.", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.stats.Reads++
		s.countSyncRead(res)
		writeJSON(w, http.StatusOK, s.render(res, true))
	case http.MethodDelete:
		s.stats.Deletes++
		s.deleteResource(res)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) deleteResource(res *resource) {
	for _, st := range res.Sets {
		s.dropFiles(st)
	}
	delete(s.resources, res.ID)
}

// dropFiles deletes a set's file rows, and the stored content no other
// row uses (MAAS's filestore_remove_files). Callers hold s.mu.
func (s *Server) dropFiles(st *set) {
	for name, f := range st.Files {
		delete(s.files, f.id)
		delete(st.Files, name)
		if !s.blobShared(f.blobKey) {
			delete(s.store, f.blobKey)
		}
	}
}

func (s *Server) blobShared(key string) bool {
	for _, f := range s.files {
		if f.blobKey == key {
			return true
		}
	}
	return false
}

func (s *Server) regionControllers(w http.ResponseWriter) {
	out := []map[string]any{}
	for i := 1; i <= s.regions(); i++ {
		out = append(out, map[string]any{
			"system_id": fmt.Sprintf("reg%03d", i), "hostname": fmt.Sprintf("region-%d", i),
			"node_type_name": "Region controller",
			"resource_uri":   fmt.Sprintf("/MAAS/api/2.0/regioncontrollers/reg%03d/", i),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) regions() int { return max(1, s.Regions) }

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := r.URL.Query().Get("type")
	out := []map[string]any{}
	for _, id := range sortedKeys(s.resources) {
		if kind == "" || kind == "uploaded" {
			out = append(out, s.render(s.resources[id], false))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// render is the API's JSON for a resource; callers hold s.mu. As MAAS,
// progress and upload_uri are shown only while a file is incomplete.
func (s *Server) render(res *resource, withSets bool) map[string]any {
	out := map[string]any{
		"id": res.ID, "type": "Uploaded", "name": res.Name, "architecture": res.Arch,
		"resource_uri":  fmt.Sprintf("/MAAS/api/2.0/boot-resources/%d/", res.ID),
		"last_deployed": nil, "subarches": "generic", "title": res.Title,
	}
	if res.BaseImage != "" {
		out["base_image"] = res.BaseImage
	}
	if !withSets {
		return out
	}
	sets := map[string]any{}
	for version, st := range res.Sets {
		files := map[string]any{}
		var size int64
		var done float64
		for name, f := range st.Files {
			size += f.Size
			file := map[string]any{
				"filename": f.Filename, "filetype": f.Filetype, "sha256": f.SHA256, "size": f.Size,
				"filename_on_disk": f.SHA256[:7], "complete": s.complete(f),
			}
			progress := s.progress(f)
			done += progress * float64(f.Size)
			if !s.complete(f) {
				file["progress"] = progress
				file["upload_uri"] = fmt.Sprintf("/MAAS/api/2.0/boot-resources/%d/upload/%d/", res.ID, f.id)
			}
			files[name] = file
		}
		set := map[string]any{"version": version, "label": "uploaded", "size": size, "files": files}
		progress := 0.0
		if size > 0 {
			progress = done / float64(size)
		}
		set["complete"] = progress == 100
		if progress != 100 {
			set["progress"] = progress
		}
		sets[version] = set
	}
	out["sets"] = sets
	return out
}

// countSyncRead counts a read towards the other regions' copy of each
// file the uploading region holds whole. Callers hold s.mu.
func (s *Server) countSyncRead(res *resource) {
	for _, st := range res.Sets {
		for _, f := range st.Files {
			if f.sync[0] == f.Size && f.syncReads > 0 {
				if f.syncReads--; f.syncReads == 0 {
					s.copyToRegions(f)
				}
			}
		}
	}
}

// copyToRegions gives every region the whole file, when the uploading
// region holds it whole and valid. Callers hold s.mu.
func (s *Server) copyToRegions(f *file) {
	if b := s.store[f.blobKey]; b == nil || !b.valid || f.sync[0] != f.Size {
		return
	}
	for i := range f.sync {
		f.sync[i] = f.Size
	}
	f.syncReads = 0
}

// received is what MAAS records of the upload: the uploading region's
// sync row (3.4+) or the shared store (3.3). Callers hold s.mu.
func (s *Server) received(f *file) int64 {
	if !s.MAAS33 {
		return f.sync[0]
	}
	if b := s.store[f.blobKey]; b != nil {
		return b.size
	}
	return 0
}

// progress is MAAS's file progress: all regions' bytes over size ×
// regions (3.4+), or the one store's bytes over size (3.3).
func (s *Server) progress(f *file) float64 {
	if s.MAAS33 {
		if b := s.store[f.blobKey]; b != nil && b.valid {
			return 100
		}
		return 100 * float64(s.received(f)) / float64(f.Size)
	}
	var sum int64
	for _, n := range f.sync {
		sum += n
	}
	return 100 * float64(sum) / float64(f.Size*int64(len(f.sync)))
}

func (s *Server) complete(f *file) bool { return s.progress(f) == 100 }

func (s *Server) regionsHolding(f *file) int {
	if s.MAAS33 {
		if s.complete(f) {
			return s.regions()
		}
		return 0
	}
	n := 0
	for _, got := range f.sync {
		if got == f.Size {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lateWriter holds a slow request's answer until it is due.
type lateWriter struct {
	*httptest.ResponseRecorder
	dropped bool
}

// AuthHeader returns an API 2.0 Authorization header with a fresh nonce,
// for tests that talk to the fake without a client.
func AuthHeader() string {
	return fmt.Sprintf(`OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key=%q, oauth_token=%q, oauth_signature="%%26%s", oauth_nonce=%q, oauth_timestamp="%d"`,
		ConsumerKey, TokenKey, TokenSecret, randomToken(), time.Now().Unix())
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if late, ok := w.(*lateWriter); ok {
		late.dropped = true
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("fakemaas: cannot hijack the connection to drop it: %v", err))
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // a reset, like a crashed proxy
	}
	conn.Close()
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newHash() hash.Hash { return sha256.New() }
