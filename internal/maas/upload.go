package maas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
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
	Filetype Filetype
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
	if req.Progress != nil {
		req.Progress = upTo(req.Size, req.Progress)
	}
	res, err := c.upload(ctx, f, req)
	res.SHA256, res.Size = req.SHA256, req.Size
	return res, err
}

func (c *Client) upload(ctx context.Context, f *os.File, req UploadRequest) (UploadResult, error) {
	sv, res, done, err := c.look(ctx, req, "2.0")
	if done || err != nil {
		return res, err
	}
	if m, ok := sv.leftover(req); ok {
		return c.resume(ctx, f, req, sv, m)
	}
	if warning := sv.keepOldWarning(req); warning != "" {
		c.opts.Logf("%s", warning)
	}
	if c.opts.Username != "" && c.opts.Password != "" {
		res, err := c.uploadV3(ctx, f, req)
		switch {
		case errors.Is(err, errNoAPIv3):
			c.opts.Logf("MAAS at %s offers no API 3; uploading through API 2.0 in chunks", c.root.Host)
		case errors.Is(err, errV3Exists):
			// An unanswered attempt may have stored the content meanwhile.
			if sv, res, done, err = c.look(ctx, req, "3"); done || err != nil {
				return res, err
			}
			c.opts.Logf("MAAS already holds %s for %s from an API 3 upload, which cannot take a new version; uploading it through API 2.0 in chunks", req.Name, req.Architecture)
		default:
			return res, err
		}
	}
	return c.uploadV2(ctx, f, req, sv)
}

// look surveys MAAS before any change: done when the content is already
// there under this name; an error when uploading it would destroy what
// MAAS stores.
func (c *Client) look(ctx context.Context, req UploadRequest, api string) (*survey, UploadResult, bool, error) {
	sv, err := c.survey(ctx, req)
	if err != nil {
		return nil, UploadResult{}, false, err
	}
	if m, ok := sv.present(req); ok {
		if api == "3" { // else the caller says it, from AlreadyPresent
			c.opts.Logf("API 3's answer was lost, but MAAS holds the upload as boot resource %d, version %s", m.Resource.ID, m.Version)
		}
		reportProgress(req.Progress, 0, req.Size)
		return sv, UploadResult{Resource: m.Resource, Version: m.Version, AlreadyPresent: api == "2.0", APIVersion: api}, true, nil
	}
	return sv, UploadResult{}, false, sv.conflict(req)
}

// prepare checks the request, fills defaults and opens the file.
func (c *Client) prepare(req *UploadRequest) (*os.File, error) {
	if req.ChunkSize == 0 {
		req.ChunkSize = DefaultChunkSize
	}
	if req.Filetype == "" {
		req.Filetype = FiletypeTGZ
	}
	for _, err := range []error{
		ValidateName(req.Name), validateMAASArchitecture(req.Architecture),
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

func (c *Client) uploadV2(ctx context.Context, f *os.File, req UploadRequest, sv *survey) (UploadResult, error) {
	res, err := c.create(ctx, req, sv)
	if err != nil {
		return UploadResult{}, c.fail(req, sv, nil, err)
	}
	version, file, ok := res.FileBySHA256(req.SHA256)
	if !ok || sv.versionBefore(version) {
		err := fmt.Errorf("MAAS created a version of boot resource %d but none of its new files has sha256 %s", res.ID, req.SHA256)
		return UploadResult{}, c.fail(req, sv, &res, err)
	}
	if file.Complete { // MAAS 3.3 and older: the content was stored already
		c.opts.Logf("MAAS already stored this content: version %s of boot resource %d is complete without an upload", version, res.ID)
		reportProgress(req.Progress, 0, req.Size)
		return UploadResult{Resource: res, Version: version, AlreadyPresent: true, APIVersion: "2.0"}, nil
	}
	if file.Progress != 0 {
		err := fmt.Errorf("MAAS reports version %s of boot resource %d at %.1f%% before any byte was sent: it shares stored content that a PUT would destroy, so nothing was sent", version, res.ID, file.Progress)
		return UploadResult{}, c.fail(req, sv, &res, err)
	}
	if err := c.sendChunks(ctx, f, req, sv.info, res.ID, file); err != nil {
		return UploadResult{}, c.fail(req, sv, &res, err)
	}
	// The last chunk's 200 means the uploading region verified size and
	// sha256; on an HA MAAS the other regions copy the file later.
	final, err := c.readFile(ctx, res.ID, req.SHA256)
	if err != nil {
		c.opts.Logf("uploaded; reading boot resource %d afterwards failed: %v", res.ID, err)
		return UploadResult{Resource: res, Version: version, APIVersion: "2.0"}, nil
	}
	return UploadResult{Resource: final.resource, Version: final.version, APIVersion: "2.0"}, nil
}

// resume goes on with an earlier upload of this content that stopped:
// a new version would share its stored bytes and append after them.
func (c *Client) resume(ctx context.Context, f *os.File, req UploadRequest, sv *survey, m contentMatch) (UploadResult, error) {
	held, _ := sv.info.heldBytes(m.File)
	c.opts.Logf("boot resource %d (%s, %s) holds an earlier, incomplete upload of this content as version %s (%d of %d bytes): going on from there",
		m.Resource.ID, req.Name, req.Architecture, m.Version, held, req.Size)
	if err := c.sendChunksFrom(ctx, f, req, sv.info, m.Resource.ID, m.File, held); err != nil {
		return UploadResult{}, c.fail(req, sv, nil, err)
	}
	final, err := c.readFile(ctx, m.Resource.ID, req.SHA256)
	if err != nil {
		c.opts.Logf("uploaded; reading boot resource %d afterwards failed: %v", m.Resource.ID, err)
		return UploadResult{Resource: m.Resource, Version: m.Version, APIVersion: "2.0"}, nil
	}
	return UploadResult{Resource: final.resource, Version: final.version, APIVersion: "2.0"}, nil
}

// createForm is the multipart create without content.
func createForm(req UploadRequest) ([]byte, string, error) {
	fields := [][2]string{
		{"name", req.Name}, {"architecture", req.Architecture}, {"sha256", req.SHA256},
		{"size", strconv.FormatInt(req.Size, 10)}, {"filetype", string(req.Filetype)},
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
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return form.Bytes(), mw.FormDataContentType(), nil
}

// create sends the create. A create is not idempotent: after one that got
// no answer (or a 5xx, which a proxy may send after MAAS acted), the
// resource is looked up by name, architecture and sha256 before another
// is sent, so a retry never adds a second version.
func (c *Client) create(ctx context.Context, req UploadRequest, sv *survey) (Resource, error) {
	form, contentType, err := createForm(req)
	if err != nil {
		return Resource{}, err
	}
	u := c.apiURL("api/2.0/boot-resources/").String()
	what := fmt.Sprintf("creating boot resource %s (%s)", req.Name, req.Architecture)
	for failures := 1; ; failures++ {
		data, err := c.send(ctx, func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(form))
			if err == nil {
				r.Header.Set("Content-Type", contentType)
			}
			return r, err
		}, true)
		if err == nil {
			return parseResource(data)
		}
		if ctx.Err() != nil {
			return Resource{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if !retryable(err) {
			return Resource{}, err
		}
		res, found, lookupErr := c.findCreated(ctx, req, sv)
		if lookupErr != nil {
			return Resource{}, &unsettledCreate{cause: err, lookup: lookupErr}
		}
		if found {
			c.opts.Logf("%s got no answer (%v), but MAAS made it: going on with boot resource %d", what, err, res.ID)
			return res, nil
		}
		if failures >= c.opts.Attempts {
			return Resource{}, err
		}
		c.opts.Logf("%s failed and MAAS made nothing (attempt %d of %d), retrying: %v", what, failures, c.opts.Attempts, err)
		if err := c.wait(ctx, failures); err != nil {
			return Resource{}, fmt.Errorf("%s: %w", what, err)
		}
	}
}

// unsettledCreate: a create got no answer and the look-up that would tell
// whether MAAS acted on it failed too.
type unsettledCreate struct{ cause, lookup error }

func (e *unsettledCreate) Error() string {
	return fmt.Sprintf("%v; looking up whether MAAS made it anyway failed too: %v", e.cause, e.lookup)
}

func (e *unsettledCreate) Unwrap() error { return e.cause }

// findCreated finds a version with the upload's sha256 that was not in
// MAAS before the upload: the one an unanswered create made.
func (c *Client) findCreated(ctx context.Context, req UploadRequest, sv *survey) (Resource, bool, error) {
	res, found, err := c.Find(ctx, req.Name, req.Architecture)
	if err != nil || !found {
		return Resource{}, false, err
	}
	version, _, ok := res.FileBySHA256(req.SHA256)
	return res, ok && !sv.versionBefore(version), nil
}

// sendChunks appends the file, one chunk per PUT. The offset is what MAAS
// answered 200 for. After a failed PUT MAAS may or may not hold that
// chunk, so the file is re-read and its progress settles which.
func (c *Client) sendChunks(ctx context.Context, f *os.File, req UploadRequest, info serverInfo, id int, file ResourceFile) error {
	return c.sendChunksFrom(ctx, f, req, info, id, file, 0)
}

// sendChunksFrom is sendChunks from a byte MAAS holds already.
func (c *Client) sendChunksFrom(ctx context.Context, f *os.File, req UploadRequest, info serverInfo, id int, file ResourceFile, offset int64) error {
	target := c.hostURL(file.UploadURI).String()
	reported := reportProgress(req.Progress, 0, offset)
	// A server that keeps failing between successes could otherwise keep
	// this loop going forever.
	chunks := int((req.Size + req.ChunkSize - 1) / req.ChunkSize)
	maxFailures, totalFailures := saturatingMul(c.opts.Attempts, chunks+1), 0
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
		if failures++; !resumable(err, info) || failures >= c.opts.Attempts {
			return fmt.Errorf("upload of %s stopped at byte %d of %d after %d attempts: %w", req.Path, offset, req.Size, failures, err)
		}
		if totalFailures++; totalFailures > maxFailures {
			return fmt.Errorf("upload of %s gave up at byte %d of %d after %d failed requests in all: %w", req.Path, offset, req.Size, totalFailures, err)
		}
		c.opts.Logf("chunk at byte %d failed (attempt %d of %d), re-reading MAAS's progress: %v", offset, failures, c.opts.Attempts, err)
		if err := c.wait(ctx, failures); err != nil {
			return fmt.Errorf("upload of %s cancelled at byte %d: %w", req.Path, offset, err)
		}
		state, err := c.readFile(ctx, id, req.SHA256)
		if err != nil {
			return err
		}
		if offset, err = settle(state.file, info, offset, n); err != nil {
			return fmt.Errorf("upload of %s stopped at byte %d of %d: %w", req.Path, offset, req.Size, err)
		}
		reported = reportProgress(req.Progress, reported, offset)
	}
	return nil
}

// settle says how many bytes MAAS holds after a PUT of n bytes at offset
// whose answer was lost: offset or offset+n, told apart by progress read
// with the number of regions (MAAS 3.4+) or over one copy (3.3). MAAS 3.3
// may also have discarded everything (after an overflow); 3.4+ cannot
// resume from anything else.
func settle(f ResourceFile, info serverInfo, offset, n int64) (int64, error) {
	if held, ok := info.heldBytes(f); ok {
		if held == offset || held == offset+n || !info.perRegion {
			return held, nil
		}
		return offset, fmt.Errorf("MAAS reports %.4g%% of the file over %d region(s), %d bytes, but this upload had %d or %d bytes accepted: it cannot resume safely",
			f.Progress, info.regions, held, offset, offset+n)
	}
	// Unknown number of regions: the held bytes that some count explains.
	var settled []int64
	for regions := 1; regions <= maxGuessedRegions; regions++ {
		if held := bytesAt(f, regions); (held == offset || held == offset+n) && !slices.Contains(settled, held) {
			settled = append(settled, held)
		}
	}
	if len(settled) == 1 {
		return settled[0], nil
	}
	return offset, fmt.Errorf("MAAS reports %.4g%% of the file and did not list its region controllers, so this upload cannot tell whether it holds %d or %d bytes", f.Progress, offset, offset+n)
}

// maxGuessedRegions bounds the region counts tried when MAAS does not
// list them.
const maxGuessedRegions = 9

func saturatingMul(a, b int) int {
	if a > 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// resumable: the failures after which re-reading the file and going on
// is safe. MAAS 3.3 discards its copy when it receives too much data or
// the wrong sha256, so it can start over; MAAS 3.4+ then keeps a record
// that no longer matches its disk, so it cannot.
func resumable(err error, info serverInfo) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
		if strings.Contains(apiErr.Message, "Cannot upload to a complete file") {
			return true // an unanswered last chunk was stored: settle says so
		}
		return !info.perRegion && (strings.Contains(apiErr.Message, "Too much data received") ||
			strings.Contains(apiErr.Message, "Saved content does not match"))
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
	var err error
	if st.resource, err = c.readRetrying(ctx, id); err != nil {
		return fileState{}, err
	}
	var ok bool
	if st.version, st.file, ok = st.resource.FileBySHA256(sum); !ok {
		return fileState{}, fmt.Errorf("boot resource %d no longer has a file with sha256 %s", id, sum)
	}
	return st, nil
}

func (c *Client) readRetrying(ctx context.Context, id int) (Resource, error) {
	var res Resource
	err := c.retry(ctx, fmt.Sprintf("reading boot resource %d", id), func(ctx context.Context) error {
		var err error
		res, err = c.Read(ctx, id)
		return err
	})
	return res, err
}

// fail cleans up after a failed or cancelled upload, with a fresh context
// so that a cancelled upload still does. Only what this upload created is
// deleted: a resource that existed before is kept (with keep_old false
// MAAS dropped its older files at the create already, and a resource
// cannot lose one version through the API), and the error says what MAAS
// now holds.
func (c *Client) fail(req UploadRequest, sv *survey, created *Resource, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), min(cleanupTimeout, c.opts.RequestTimeout))
	defer cancel()
	if sv.existing != nil {
		return c.describeKept(ctx, req, sv, cause)
	}
	id := 0
	switch {
	case created != nil:
		id = created.ID
	case !ambiguous(cause):
		return cause // MAAS refused the create: nothing was made
	default:
		res, found, err := c.Find(ctx, req.Name, req.Architecture)
		if err != nil {
			return fmt.Errorf("%w; checking whether MAAS made boot resource %s (%s) anyway failed too (%v): if `maas $PROFILE boot-resources read` lists it, delete it with `maas $PROFILE boot-resource delete ID`",
				cause, req.Name, req.Architecture, err)
		}
		if !found {
			return cause
		}
		id = res.ID
	}
	err := c.retry(ctx, fmt.Sprintf("deleting boot resource %d", id), func(ctx context.Context) error {
		return c.Delete(ctx, id)
	})
	if err != nil {
		return fmt.Errorf("%w; deleting boot resource %d (%s), which this upload created, failed too (%v): delete it with `maas $PROFILE boot-resource delete %d`",
			cause, id, req.Name, err, id)
	}
	c.opts.Logf("deleted boot resource %d (%s, %s), which this upload created", id, req.Name, req.Architecture)
	return cause
}

// describeKept is the error for a failed upload into a resource that
// existed before: kept, with what it now holds.
func (c *Client) describeKept(ctx context.Context, req UploadRequest, sv *survey, cause error) error {
	id := sv.existing.ID
	kept := fmt.Sprintf("boot resource %d (%s, %s) existed before this upload, so it was not deleted", id, req.Name, req.Architecture)
	res, err := c.Read(ctx, id)
	if err != nil {
		return fmt.Errorf("%w; %s; reading what it now holds failed (%v): see `maas $PROFILE boot-resource read %d`", cause, kept, err, id)
	}
	return fmt.Errorf("%w; %s; MAAS now holds %s; MAAS's API cannot remove one version: run the upload again, or delete the whole resource with `maas $PROFILE boot-resource delete %d`",
		cause, kept, describeSets(res, sv, req.SHA256), id)
}

// ambiguous: a failure after which MAAS may have acted on the request.
func ambiguous(err error) bool {
	var netErr *networkError
	var unsettled *unsettledCreate
	return errors.As(err, &netErr) || errors.As(err, &unsettled) || retryable(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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

// upTo passes on progress until it sums to size: a retried API 3 upload
// and the look that follows it both report bytes, a bar cannot go past.
func upTo(size int64, progress func(int64)) func(int64) {
	var sum int64
	return func(n int64) {
		n = min(n, size-sum)
		if n > 0 {
			sum += n
			progress(n)
		}
	}
}
