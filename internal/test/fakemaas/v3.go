package fakemaas

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// tokenLifetime is how long an API 3 access token is valid.
const tokenLifetime = 10 * time.Minute

func (s *Server) serveV3(w http.ResponseWriter, r *http.Request, path string) {
	switch {
	case path == "auth/login" && r.Method == http.MethodPost:
		s.login(w, r)
	case path == "custom_images" && r.Method == http.MethodPost:
		if !s.authorizeBearer(w, r) || s.injectFailure(w) {
			return
		}
		s.customImage(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("username") != Username || r.FormValue("password") != Password {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"kind": "Error", "code": 401, "message": "The credentials are not matching or the user does not exist."})
		return
	}
	token := randomToken()
	s.mu.Lock()
	s.tokens[token] = s.Now().Add(tokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"kind": "AccessToken", "token_type": "bearer", "access_token": token})
}

func (s *Server) authorizeBearer(w http.ResponseWriter, r *http.Request) bool {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	expiry, ok := s.tokens[token]
	valid := ok && s.Now().Before(expiry)
	if !valid {
		s.stats.Unauthorized++
	}
	s.mu.Unlock()
	if !valid {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"kind": "Error", "code": 401, "message": "Invalid or expired token."})
	}
	return valid
}

// customImage takes the whole file in one request, parameters in headers.
func (s *Server) customImage(w http.ResponseWriter, r *http.Request) {
	p := uploadParams{
		name: r.Header.Get("name"), arch: r.Header.Get("architecture"), sha: r.Header.Get("sha256"),
		title: r.Header.Get("title"), filetype: r.Header.Get("file-type"), baseImage: r.Header.Get("base-image"),
		size: r.ContentLength,
	}
	if errs := p.validate(false); len(errs) > 0 || r.ContentLength <= 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"kind": "Error", "code": 422, "message": "Invalid headers.", "details": errs})
		return
	}
	s.mu.Lock()
	for _, res := range s.resources {
		if res.viaV3 && res.Name == p.name && res.Arch == p.arch {
			s.mu.Unlock()
			writeJSON(w, http.StatusConflict, map[string]any{"kind": "Error", "code": 409, "message": "A custom image with this name and architecture already exists."})
			return
		}
	}
	drop := s.hit("drop", s.faults.DropEvery)
	lose := s.hit("lose", s.faults.LoseAnswerEvery)
	dropAfter := s.faults.DropAfterBytes
	s.stats.V3Uploads++
	s.mu.Unlock()
	if drop {
		s.dropMidBody(w, r, dropAfter)
		return
	}
	h := newHash()
	if n, err := io.Copy(h, r.Body); err != nil || n != r.ContentLength {
		return // the client went away; nothing is stored
	}
	if hex.EncodeToString(h.Sum(nil)) != p.sha {
		writeJSON(w, http.StatusBadRequest, map[string]any{"kind": "Error", "code": 400, "message": "The sha256 of the uploaded content does not match."})
		return
	}
	s.mu.Lock()
	res, f := s.addSet(p, true)
	b := s.blobOf(f)
	b.size, b.valid = f.Size, true
	f.sync[0] = f.Size
	s.completeFile(f, b)
	if lose {
		s.stats.LostAnswers++
		s.mu.Unlock()
		dropConnection(w)
		return
	}
	body := renderImage(res)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, body)
}

// renderImage is API 3's answer to an upload, maasapiserver's ImageResponse
// for a boot resource: its id (the same as API 2.0's), its name split into
// os and release ("custom" when it has no os), the architecture without
// subarchitecture, and no sets or files.
func renderImage(res *resource) map[string]any {
	osName, release, ok := strings.Cut(res.Name, "/")
	if !ok {
		osName, release = "custom", res.Name
	}
	arch, _, _ := strings.Cut(res.Arch, "/")
	title := res.Title
	if title == "" {
		title = release
	}
	return map[string]any{
		"kind": "Image", "id": res.ID, "os": osName, "release": release, "title": title, "architecture": arch,
		"_links": map[string]any{"self": map[string]any{"href": fmt.Sprintf("/MAAS/a/v3/custom_images/%d", res.ID)}},
	}
}
