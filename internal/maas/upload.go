package maas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// UploadRequest describes one image file to upload.
type UploadRequest struct {
	// Name is NAME or OS/NAME, e.g. custom/noble-web.
	Name string
	// Title is optional.
	Title string
	// Architecture is e.g. amd64/generic.
	Architecture string
	// BaseImage is e.g. ubuntu/noble; optional.
	BaseImage string
	// Filetype is a MAAS filetype, e.g. tgz or ddgz.
	Filetype string
	// Path is the file to upload.
	Path string
	// SHA256 and Size describe the file; when SHA256 is empty both are
	// computed in one pass over the file.
	SHA256 string
	Size   int64
	// ChunkSize is the body size of each PUT (default 4 MiB, at most 8 MiB).
	ChunkSize int64
	// KeepOld keeps older versions of the same name and architecture.
	KeepOld bool
	// Progress, when set, receives the number of bytes newly accepted by
	// MAAS; the sum reaches Size when the upload completes.
	Progress func(n int64)
}

// UploadResult is what Upload did.
type UploadResult struct {
	Resource Resource
	// Version is the set that holds the file (empty through API 3).
	Version string
	// AlreadyPresent is true when MAAS already held identical content and
	// nothing was sent.
	AlreadyPresent bool
	// APIVersion is "2.0" or "3".
	APIVersion string
	// SHA256 and Size describe the file sent: the request's, or computed
	// from the file when the request had none.
	SHA256 string
	Size   int64
}

// cleanupTimeout bounds the delete after a failed or cancelled upload.
const cleanupTimeout = 30 * time.Second

// Upload uploads req.Path as a custom boot resource.
func (c *Client) Upload(ctx context.Context, req UploadRequest) (UploadResult, error) {
	f, err := c.prepare(&req)
	if err != nil {
		return UploadResult{}, err
	}
	defer f.Close()
	res, err := c.upload(ctx, f, req)
	res.SHA256, res.Size = req.SHA256, req.Size
	return res, err
}

func (c *Client) upload(ctx context.Context, f *os.File, req UploadRequest) (UploadResult, error) {
	if c.opts.Username != "" && c.opts.Password != "" {
		res, err := c.uploadV3(ctx, f, req)
		switch {
		case errors.Is(err, errNoAPIv3):
			c.opts.Logf("MAAS at %s offers no API 3; uploading through API 2.0 in chunks", c.root.Host)
		case errors.Is(err, errV3Exists):
			c.opts.Logf("MAAS already holds %s for %s from an API 3 upload, which cannot take a new version; uploading it through API 2.0 in chunks", req.Name, req.Architecture)
		default:
			return res, err
		}
	}
	return c.uploadV2(ctx, f, req)
}

// prepare checks the request, fills defaults and opens the file.
func (c *Client) prepare(req *UploadRequest) (*os.File, error) {
	if req.ChunkSize == 0 {
		req.ChunkSize = DefaultChunkSize
	}
	if req.Filetype == "" {
		req.Filetype = "tgz"
	}
	for _, err := range []error{
		ValidateName(req.Name), ValidateArchitecture(req.Architecture),
		ValidateFiletype(req.Filetype), ValidateChunkSize(req.ChunkSize),
	} {
		if err != nil {
			return nil, err
		}
	}
	if req.BaseImage != "" {
		if err := ValidateBaseImage(req.BaseImage); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(req.Path)
	if err != nil {
		return nil, fmt.Errorf("opening the image to upload: %w", err)
	}
	if err := describeFile(f, req); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// describeFile fills or checks SHA256 and Size.
func describeFile(f *os.File, req *UploadRequest) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", req.Path, err)
	}
	if !info.Mode().IsRegular() || info.Size() == 0 {
		return fmt.Errorf("%s is not a non-empty regular file", req.Path)
	}
	if req.SHA256 == "" {
		h := sha256.New()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, info.Size()), make([]byte, 1<<20)); err != nil {
			return fmt.Errorf("computing the sha256 of %s: %w", req.Path, err)
		}
		req.SHA256, req.Size = hex.EncodeToString(h.Sum(nil)), info.Size()
	}
	if err := ValidateSHA256(req.SHA256); err != nil {
		return fmt.Errorf("%s: %w", req.Path, err)
	}
	if req.Size != info.Size() {
		return fmt.Errorf("%s is %d bytes but its producer recorded %d: the file changed after it was written", req.Path, info.Size(), req.Size)
	}
	return nil
}

func (c *Client) uploadV2(ctx context.Context, f *os.File, req UploadRequest) (UploadResult, error) {
	res, err := c.create(ctx, req)
	if err != nil {
		return UploadResult{}, c.abandonUnanswered(req, err)
	}
	version, file, ok := res.FileBySHA256(req.SHA256)
	if !ok {
		err := fmt.Errorf("MAAS created boot resource %d but none of its files has sha256 %s", res.ID, req.SHA256)
		return UploadResult{}, c.abandon(res, req.SHA256, err)
	}
	if file.Complete {
		reportProgress(req.Progress, 0, req.Size)
		return UploadResult{Resource: res, Version: version, AlreadyPresent: true, APIVersion: "2.0"}, nil
	}
	if err := c.sendChunks(ctx, f, req, res.ID, file); err != nil {
		return UploadResult{}, c.abandon(res, req.SHA256, err)
	}
	final, err := c.readFile(ctx, res.ID, req.SHA256)
	if err == nil && !final.file.Complete {
		err = fmt.Errorf("MAAS holds %d of %d bytes of boot resource %d after the last chunk", final.file.Offset(), req.Size, res.ID)
	}
	if err != nil {
		return UploadResult{}, c.abandon(res, req.SHA256, err)
	}
	return UploadResult{Resource: final.resource, Version: final.version, APIVersion: "2.0"}, nil
}

// create sends the multipart create without content.
func (c *Client) create(ctx context.Context, req UploadRequest) (Resource, error) {
	fields := [][2]string{
		{"name", req.Name}, {"architecture", req.Architecture}, {"sha256", req.SHA256},
		{"size", strconv.FormatInt(req.Size, 10)}, {"filetype", req.Filetype},
	}
	for _, optional := range [][2]string{{"title", req.Title}, {"base_image", req.BaseImage}} {
		if optional[1] != "" {
			fields = append(fields, optional)
		}
	}
	if req.KeepOld {
		fields = append(fields, [2]string{"keep_old", "true"})
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, kv := range fields {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			return Resource{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return Resource{}, err
	}
	u := c.apiURL("api/2.0/boot-resources/").String()
	var data []byte
	err := c.retry(ctx, "creating boot resource "+req.Name, func(ctx context.Context) error {
		var err error
		data, err = c.send(ctx, func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(form.Bytes()))
			if err == nil {
				r.Header.Set("Content-Type", mw.FormDataContentType())
			}
			return r, err
		}, true)
		return err
	})
	if err != nil {
		return Resource{}, err
	}
	return parseResource(data)
}

// sendChunks appends the file from the server's offset on, one chunk per
// PUT. After a failed PUT the server may or may not hold the chunk, so the
// offset is re-read before anything more is sent.
func (c *Client) sendChunks(ctx context.Context, f *os.File, req UploadRequest, id int, file ResourceFile) error {
	target := c.hostURL(file.UploadURI).String()
	offset := file.Offset()
	reported := reportProgress(req.Progress, 0, offset)
	ambiguous := false // a request failed that MAAS may still act on
	// A server that keeps failing between successes could otherwise keep
	// this loop going forever.
	chunks := int((req.Size + req.ChunkSize - 1) / req.ChunkSize)
	maxFailures, totalFailures := c.opts.Attempts*(chunks+1), 0
	for failures := 0; offset < req.Size; {
		n := min(req.ChunkSize, req.Size-offset)
		err := c.putChunk(ctx, target, io.NewSectionReader(f, offset, n), n)
		if err == nil {
			offset += n
			reported = reportProgress(req.Progress, reported, offset)
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("upload of %s cancelled at byte %d of %d: %w", req.Path, offset, req.Size, ctx.Err())
		}
		if failures++; !resumable(err, ambiguous) || failures >= c.opts.Attempts {
			return fmt.Errorf("upload of %s stopped at byte %d of %d after %d attempts: %w", req.Path, offset, req.Size, failures, err)
		}
		if totalFailures++; totalFailures > maxFailures {
			return fmt.Errorf("upload of %s gave up at byte %d of %d after %d failed requests in all: %w", req.Path, offset, req.Size, totalFailures, err)
		}
		ambiguous = true
		c.opts.Logf("chunk at byte %d failed (attempt %d of %d), re-reading MAAS's progress: %v", offset, failures, c.opts.Attempts, err)
		if err := c.wait(ctx, failures); err != nil {
			return fmt.Errorf("upload of %s cancelled at byte %d: %w", req.Path, offset, err)
		}
		state, err := c.readFile(ctx, id, req.SHA256)
		if err != nil {
			return err
		}
		offset = state.file.Offset()
		reported = reportProgress(req.Progress, reported, offset)
	}
	return nil
}

// resumable: the failures after which re-reading the offset and going on
// is safe. MAAS discards what it stored when it receives too much data or
// content with the wrong sha256; after an ambiguous failure both can mean
// that a timed-out request was applied late, so starting over can work.
func resumable(err error, afterAmbiguous bool) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
		return strings.Contains(apiErr.Message, "Too much data received") ||
			afterAmbiguous && strings.Contains(apiErr.Message, "Saved content does not match")
	}
	return retryable(err)
}

func (c *Client) putChunk(ctx context.Context, target string, chunk io.Reader, n int64) error {
	_, err := c.send(ctx, func(ctx context.Context) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodPut, target, chunk)
		if err == nil {
			r.ContentLength = n
			r.Header.Set("Content-Type", "application/octet-stream")
		}
		return r, err
	}, true)
	return err
}

type fileState struct {
	resource Resource
	version  string
	file     ResourceFile
}

// readFile reads the resource (with retries) and finds the file.
func (c *Client) readFile(ctx context.Context, id int, sum string) (fileState, error) {
	var st fileState
	err := c.retry(ctx, fmt.Sprintf("reading boot resource %d", id), func(ctx context.Context) error {
		var err error
		st.resource, err = c.Read(ctx, id)
		return err
	})
	if err != nil {
		return fileState{}, err
	}
	var ok bool
	if st.version, st.file, ok = st.resource.FileBySHA256(sum); !ok {
		return fileState{}, fmt.Errorf("boot resource %d no longer has a file with sha256 %s", id, sum)
	}
	return st, nil
}

// abandon deletes the resource after a failed upload when this upload
// created it, with a fresh context so that a cancelled upload still
// cleans up. A resource that held other versions is kept: deleting it
// would destroy them.
func (c *Client) abandon(res Resource, sum string, cause error) error {
	if !ownedBy(res, sum) {
		return fmt.Errorf("%w (boot resource %d holds other versions, so it was kept; its incomplete new version stays until an upload succeeds)", cause, res.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(cleanupTimeout, c.opts.RequestTimeout))
	defer cancel()
	err := c.retry(ctx, fmt.Sprintf("deleting incomplete boot resource %d", res.ID), func(ctx context.Context) error {
		return c.Delete(ctx, res.ID)
	})
	if err != nil {
		return fmt.Errorf("%w; deleting the incomplete boot resource %d also failed (%v): delete it with `maas $PROFILE boot-resource delete %d`", cause, res.ID, err, res.ID)
	}
	c.opts.Logf("deleted incomplete boot resource %d", res.ID)
	return cause
}

// abandonUnanswered cleans up after a create that got no answer (network
// error, timeout, cancellation): MAAS may have created the resource, so
// it is looked up by name and architecture and deleted if it is ours.
func (c *Client) abandonUnanswered(req UploadRequest, cause error) error {
	var netErr *networkError
	if !errors.As(cause, &netErr) && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(cleanupTimeout, c.opts.RequestTimeout))
	defer cancel()
	res, found, err := c.Find(ctx, req.Name, req.Architecture)
	if err != nil {
		return fmt.Errorf("%w; checking whether MAAS created %s anyway also failed: %v", cause, req.Name, err)
	}
	if !found {
		return cause
	}
	return c.abandon(res, req.SHA256, cause)
}

// ownedBy: every set of the resource is an incomplete one for this
// content, i.e. made by this upload (a retried create can make two).
func ownedBy(res Resource, sum string) bool {
	for _, set := range res.Sets {
		for _, f := range set.Files {
			if f.SHA256 != sum || f.Complete {
				return false
			}
		}
	}
	return true
}

// reportProgress reports the growth of offset beyond what was reported
// and returns the new high-water mark; the offset may move back after a
// resumed upload, and a progress bar cannot.
func reportProgress(progress func(int64), reported, offset int64) int64 {
	if offset <= reported {
		return reported
	}
	if progress != nil {
		progress(offset - reported)
	}
	return offset
}
