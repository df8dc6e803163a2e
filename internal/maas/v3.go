package maas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// errNoAPIv3 means the server has no API 3 login; Upload falls back to 2.0.
var errNoAPIv3 = errors.New("MAAS offers no API 3")

// errV3Exists means API 3 refused the upload (409) because the name and
// architecture were uploaded through it before. API 3 cannot add a version
// to that resource; API 2.0 can, so Upload falls back to it.
var errV3Exists = errors.New("MAAS API 3 holds this name and architecture already")

// loginV3 trades username and password for a bearer token.
func (c *Client) loginV3(ctx context.Context) (string, error) {
	form := url.Values{"username": {c.opts.Username}, "password": {c.opts.Password}}.Encode()
	target := c.apiURL("a/v3/auth/login").String()
	var data []byte
	err := c.retry(ctx, "logging in to MAAS API 3", func(ctx context.Context) error {
		var err error
		data, err = c.send(ctx, func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form))
			if err == nil {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return r, err
		}, false)
		return err
	})
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusMethodNotAllowed) {
		return "", errNoAPIv3
	}
	if err != nil {
		return "", err
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(data, &answer); err != nil || answer.AccessToken == "" {
		return "", fmt.Errorf("MAAS API 3 login at %s answered without an access_token", target)
	}
	return answer.AccessToken, nil
}

// uploadV3 sends the whole file in one streamed request. A failed attempt
// leaves nothing behind on the server, so retrying resends from the start.
func (c *Client) uploadV3(ctx context.Context, f *os.File, req UploadRequest) (UploadResult, error) {
	token, err := c.loginV3(ctx)
	if err != nil {
		return UploadResult{}, err
	}
	target := c.apiURL("a/v3/custom_images").String()
	var reported atomic.Int64
	var data []byte
	err = c.retry(ctx, "uploading "+req.Name+" through API 3", func(ctx context.Context) error {
		body := &countingReader{r: io.NewSectionReader(f, 0, req.Size), progress: func(sent int64) {
			if prev := reported.Load(); sent > prev && reported.CompareAndSwap(prev, sent) && req.Progress != nil {
				req.Progress(sent - prev)
			}
		}}
		var err error
		data, err = c.send(ctx, func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
			if err != nil {
				return nil, err
			}
			r.ContentLength = req.Size
			h := r.Header
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Authorization", "Bearer "+token)
			h.Set("name", req.Name)
			h.Set("sha256", req.SHA256)
			h.Set("architecture", req.Architecture)
			h.Set("file-type", string(req.Filetype))
			if req.Title != "" {
				h.Set("title", req.Title)
			}
			if req.BaseImage != "" {
				h.Set("base-image", req.BaseImage)
			}
			return r, nil
		}, false)
		return err
	})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict {
		// Upload looks again: an earlier attempt whose answer was lost
		// may have stored the content.
		return UploadResult{}, errV3Exists
	}
	if err != nil {
		return UploadResult{}, err
	}
	// The answer is an Image (maasapiserver's ImageResponse): the boot
	// resource's id, the same as API 2.0's, but no sets or files.
	var image struct {
		ID int `json:"id"`
	}
	if err := json.Unmarshal(data, &image); err != nil || image.ID <= 0 {
		return UploadResult{}, fmt.Errorf("MAAS API 3 answered the upload without a boot resource id: %.200s", data)
	}
	res := Resource{ID: image.ID, Name: req.Name, Architecture: req.Architecture}
	return UploadResult{Resource: res, APIVersion: "3"}, nil
}

// countingReader reports the running total of bytes read.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(total int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress(c.n)
	return n, err
}

// WaitStatus is how far MAAS's regions have copied a file.
type WaitStatus struct {
	// Progress is MAAS's percentage over all regions.
	Progress float64
	// Holding is how many regions hold the whole file, of Regions (0
	// when MAAS did not list them).
	Holding, Regions int
}

// WaitComplete polls the resource through API 2.0 until the file with
// this sha256 is complete, which on MAAS 3.4+ means every region
// controller holds it (the upload itself lands on one; the others copy
// it afterwards), and returns the resource and the file's version. It
// works after either API's upload: both name the resource by the same
// id. report, when set, gets each change of the status.
func (c *Client) WaitComplete(ctx context.Context, id int, sum string, report func(WaitStatus)) (Resource, string, error) {
	info, err := c.serverInfo(ctx)
	if err != nil {
		return Resource{}, "", fmt.Errorf("waiting for boot resource %d to become complete: %w", id, err)
	}
	var last WaitStatus
	for polls := 1; ; polls++ {
		st, err := c.readFile(ctx, id, sum)
		if err != nil {
			return Resource{}, "", fmt.Errorf("waiting for boot resource %d to become complete: %w", id, err)
		}
		status := WaitStatus{Progress: st.file.Progress}
		if info.perRegion { // MAAS 3.3's progress is over its one store
			status.Holding, status.Regions = info.regionsHolding(st.file), info.regions
		}
		if st.file.Complete {
			status.Progress = 100
		}
		if report != nil && (polls == 1 || status != last) {
			report(status)
		}
		last = status
		if st.file.Complete && st.resource.Sets[st.version].Complete {
			return st.resource, st.version, nil
		}
		// Quick first polls for a small image, then every PollInterval.
		if err := sleep(ctx, Backoff{Initial: min(time.Second, c.opts.PollInterval), Max: c.opts.PollInterval}.delay(polls)); err != nil {
			return Resource{}, "", fmt.Errorf("waiting for boot resource %d (version %s) to become complete on every region, %d polls, %s: %w",
				id, st.version, polls, status, err)
		}
	}
}

func (s WaitStatus) String() string {
	if s.Regions <= 0 {
		return fmt.Sprintf("%.1f%% copied", s.Progress)
	}
	return fmt.Sprintf("%d of %d regions hold it (%.1f%%)", s.Holding, s.Regions, s.Progress)
}
