// Package maas uploads MAAS image files as custom boot resources, reliably
// and without holding the file in memory. It knows nothing of Packer.
//
// What comes from gomaasclient and why the rest is here: gomaasclient (and
// the juju gomaasapi client beneath it, which it exposes as
// APIClient.AuthClient) provides the OAuth 1.0 PLAINTEXT signer, the
// resource read and the delete. Its BootResources.Create returns "not
// implemented" and its file calls hold the whole file in memory, and its
// entity type drops upload_uri and progress, so this package:
//   - signs its own create (multipart, no content) and chunk PUT requests
//     with gomaasapi's signer, right before each request is sent, so every
//     request and every retry carries a fresh nonce and timestamp;
//   - reads resources through gomaasapi's Get to keep the raw JSON;
//   - never follows redirects on POST/PUT (MAAS answers 301 to a path
//     without a trailing slash and Go would replay a POST as a GET);
//   - before creating anything, looks for the file's sha256 among the
//     uploaded resources: MAAS 3.4+ stores content once per sha256 and
//     deletes it when a PUT overflows it, so identical content under the
//     same name is not sent again and under another name is refused;
//   - streams each chunk from the file with an io.SectionReader, retries
//     network errors and 5xx with backoff, and after any failed chunk
//     re-reads the server's progress and settles, with the number of
//     region controllers, whether the chunk was stored, so no chunk is
//     ever appended twice;
//   - looks a create up by name, architecture and sha256 before sending
//     it again, as a create is not idempotent;
//   - deletes the resource when the upload finally fails or is cancelled
//     only if this upload created it, and otherwise says what MAAS holds.
//
// With a username and password and a MAAS offering API 3, Upload sends the
// whole file in one streamed request instead (/MAAS/a/v3/custom_images).
package maas

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gmclient "github.com/canonical/gomaasclient/client"
	"github.com/juju/gomaasapi/v2"
)

// Options configure a Client. Zero values get the defaults named below.
type Options struct {
	// URL is the MAAS root, e.g. http://maas.example:5240/MAAS.
	URL string
	// APIKey is CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET.
	APIKey string
	// Username and Password, when both set, enable the API 3 upload.
	Username, Password string
	// TLSConfig for https MAAS URLs (CA, insecure skip verify).
	TLSConfig *tls.Config
	// RequestTimeout bounds each HTTP request, body included (default 5m).
	RequestTimeout time.Duration
	// Attempts is how often one request is tried before giving up (default 5).
	Attempts int
	// Backoff is the wait between attempts (default 1s doubling to 30s).
	Backoff Backoff
	// PollInterval is the longest wait between reads in WaitComplete
	// (default 5s; the first waits are 1s, 2s, 4s).
	PollInterval time.Duration
	// Logf receives retry and cleanup notes (default: discarded).
	Logf func(format string, args ...any)
	// URLSetting and APIKeySetting name where URL and APIKey came from,
	// for messages (default "maas_url" and "api_key (or MAAS_API_KEY)").
	URLSetting, APIKeySetting string
}

// Backoff is an exponential backoff: Initial, doubling up to Max.
type Backoff struct {
	Initial, Max time.Duration
}

func (b Backoff) delay(failures int) time.Duration {
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Client talks to one MAAS region.
type Client struct {
	opts      Options
	root      *url.URL // MAAS root with a trailing slash
	auth      *gomaasapi.Client
	transport *http.Transport
	// raw sends the requests this package builds itself; it never follows
	// redirects.
	raw *http.Client
	// info is MAAS's version and region count, read once.
	info *serverInfo
}

// NewClient checks the options and builds a client. It sends nothing.
func NewClient(opts Options) (*Client, error) {
	if err := ValidateURL(opts.URL); err != nil {
		return nil, err
	}
	if err := ValidateAPIKey(opts.APIKey); err != nil {
		return nil, err
	}
	setDefaults(&opts)
	root, err := url.Parse(gomaasapi.EnsureTrailingSlash(opts.URL))
	if err != nil {
		return nil, fmt.Errorf("maas_url %q: %w", opts.URL, err)
	}
	auth, err := gomaasapi.NewAuthenticatedClient(gomaasapi.AddAPIVersionToURL(root.String(), "2.0"), opts.APIKey)
	if err != nil {
		return nil, errors.New("api_key is not a MAAS API key CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = opts.TLSConfig
	// Large write buffers: chunk bodies are megabytes.
	transport.WriteBufferSize = 256 << 10
	return &Client{
		opts:      opts,
		root:      root,
		auth:      auth,
		transport: transport,
		raw: &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func setDefaults(o *Options) {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff.Initial <= 0 {
		o.Backoff.Initial = time.Second
	}
	if o.Backoff.Max < o.Backoff.Initial {
		o.Backoff.Max = max(30*time.Second, o.Backoff.Initial)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.URLSetting == "" {
		o.URLSetting = "maas_url"
	}
	if o.APIKeySetting == "" {
		o.APIKeySetting = "api_key (or MAAS_API_KEY)"
	}
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// APIError is a non-2xx answer from MAAS.
type APIError struct {
	Method, URL string
	StatusCode  int
	// Message is MAAS's own answer body, made printable and cut short.
	Message string
	// Hint says what to check, when the answer suggests it.
	Hint string
}

func (e *APIError) Error() string {
	var msg string
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		msg = fmt.Sprintf("MAAS refused the credentials (401 on %s %s: %s)", e.Method, e.URL, e.Message)
	case e.StatusCode >= 300 && e.StatusCode < 400:
		msg = fmt.Sprintf("MAAS answered %d to %s %s (redirect to %s)", e.StatusCode, e.Method, e.URL, e.Message)
	default:
		msg = fmt.Sprintf("MAAS answered %d %s to %s %s: %s",
			e.StatusCode, http.StatusText(e.StatusCode), e.Method, e.URL, e.Message)
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// apiError builds an APIError with a hint for the answers that point at
// a setting.
func (c *Client) apiError(method, u string, status int, body string) *APIError {
	e := &APIError{Method: method, URL: u, StatusCode: status, Message: printable(body)}
	switch {
	case status == http.StatusUnauthorized:
		e.Hint = "check " + c.opts.APIKeySetting + " and, for API 3, username and password"
	case status >= 300 && status < 400:
		e.Hint = "check that " + c.opts.URLSetting + " is the MAAS root such as http://host:5240/MAAS"
	case status == http.StatusNotFound && !strings.HasSuffix(c.root.Path, "/MAAS/") && !strings.Contains(body, "matches the given query"):
		e.Hint = fmt.Sprintf("%s %s does not end in /MAAS: it is probably %s",
			c.opts.URLSetting, c.opts.URL, strings.TrimSuffix(c.opts.URL, "/")+"/MAAS")
	}
	return e
}

// maxMessage bounds how much of an answer body an error shows.
const maxMessage = 300

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// printable makes an answer body fit for an error message: tags of an
// HTML page removed, control characters (terminal escapes) dropped,
// whitespace folded, at most maxMessage characters.
func printable(body string) string {
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		body = htmlTag.ReplaceAllString(body, " ")
	}
	body = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, body)
	body = strings.Join(strings.Fields(body), " ")
	if runes := []rune(body); len(runes) > maxMessage {
		body = string(runes[:maxMessage]) + fmt.Sprintf("... (%d more characters)", len(runes)-maxMessage)
	}
	return body
}

// retryable reports whether another attempt may succeed: network errors,
// timeouts of a single request and 5xx answers.
func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode >= 500 || apiErr.StatusCode == http.StatusTooManyRequests
	}
	var netErr *networkError
	return errors.As(err, &netErr)
}

// networkError is a request that got no complete answer: the server may or
// may not have acted on it.
type networkError struct {
	method, url, setting string
	err                  error
}

func (e *networkError) Error() string {
	return fmt.Sprintf("%s %s: no answer from MAAS (check %s and that MAAS is reachable): %v", e.method, e.url, e.setting, e.err)
}

func (e *networkError) Unwrap() error { return e.err }

// maxAnswer bounds how much of an answer body is read: MAAS's answers
// to these calls are small JSON documents.
const maxAnswer = 4 << 20

// send signs and sends one request built by this package and returns the
// answer body of a 2xx answer; other answers become *APIError.
func (c *Client) send(ctx context.Context, build func(ctx context.Context) (*http.Request, error), sign bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return nil, err
	}
	if sign {
		// Signed here, per request: a fresh nonce and timestamp every time.
		if err := c.auth.Signer.OAuthSign(req); err != nil {
			return nil, fmt.Errorf("signing %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	resp, err := c.raw.Do(req)
	if err != nil {
		return nil, &networkError{req.Method, req.URL.Redacted(), c.opts.URLSetting, err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, &networkError{req.Method, req.URL.Redacted(), c.opts.URLSetting, err}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, c.apiError(req.Method, req.URL.Redacted(), resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.apiError(req.Method, req.URL.Redacted(), resp.StatusCode, string(body))
	}
	return body, nil
}

// retry runs call until it succeeds, fails for good, or Attempts run out.
func (c *Client) retry(ctx context.Context, what string, call func(ctx context.Context) error) error {
	for failures := 1; ; failures++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if !retryable(err) || failures >= c.opts.Attempts {
			return err
		}
		c.opts.Logf("%s failed (attempt %d of %d), retrying: %v", what, failures, c.opts.Attempts, err)
		if err := c.wait(ctx, failures); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

func (c *Client) wait(ctx context.Context, failures int) error {
	return sleep(ctx, c.opts.Backoff.delay(failures))
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// apiURL is a path under the MAAS root, e.g. "api/2.0/boot-resources/".
func (c *Client) apiURL(path string) *url.URL {
	return c.root.ResolveReference(&url.URL{Path: path})
}

// hostURL joins a server-given absolute path (upload_uri) with the
// server's scheme and host.
func (c *Client) hostURL(path string) *url.URL {
	return &url.URL{Scheme: c.root.Scheme, Host: c.root.Host, Path: path}
}

// apiClient returns a copy of the gomaasapi client whose requests obey
// ctx and the per-request timeout.
func (c *Client) apiClient(ctx context.Context) gomaasapi.Client {
	a := *c.auth
	a.HTTPClient = &http.Client{Transport: c.contextTransport(ctx)}
	return a
}

func (c *Client) contextTransport(ctx context.Context) http.RoundTripper {
	return &contextTransport{ctx: ctx, base: c.transport, timeout: c.opts.RequestTimeout}
}

// Read returns a boot resource with its sets and files.
func (c *Client) Read(ctx context.Context, id int) (Resource, error) {
	a := c.apiClient(ctx)
	path := fmt.Sprintf("boot-resources/%d/", id)
	data, err := a.Get(&url.URL{Path: path}, "", nil)
	if err != nil {
		return Resource{}, c.gomaasError(ctx, "GET", path, err)
	}
	return parseResource(data)
}

// listUploaded lists the uploaded boot resources, without their sets.
func (c *Client) listUploaded(ctx context.Context) ([]Resource, error) {
	var list []Resource
	err := c.retry(ctx, "listing MAAS's uploaded boot resources", func(ctx context.Context) error {
		a := c.apiClient(ctx)
		data, err := a.Get(&url.URL{Path: "boot-resources/"}, "", url.Values{"type": {"uploaded"}})
		if err != nil {
			return c.gomaasError(ctx, "GET", "boot-resources/", err)
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("MAAS sent a boot resource list that is not valid JSON: %w", err)
		}
		return nil
	})
	return list, err
}

// Find returns the uploaded boot resource with this name and
// architecture, with its sets, if MAAS has one.
func (c *Client) Find(ctx context.Context, name, arch string) (Resource, bool, error) {
	list, err := c.listUploaded(ctx)
	if err != nil {
		return Resource{}, false, err
	}
	for _, r := range list {
		if r.Name == name && r.Architecture == arch {
			full, err := c.Read(ctx, r.ID)
			return full, err == nil, err
		}
	}
	return Resource{}, false, nil
}

// Delete removes a boot resource; one that is already gone is no error.
func (c *Client) Delete(ctx context.Context, id int) error {
	gm, err := gmclient.GetClientWithTransport(c.opts.URL, c.opts.APIKey, "2.0", c.contextTransport(ctx))
	if err != nil {
		return fmt.Errorf("building the gomaasclient client: %w", err)
	}
	err = gm.BootResource.Delete(id)
	var apiErr *APIError
	if err = c.gomaasError(ctx, "DELETE", fmt.Sprintf("boot-resources/%d/", id), err); errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	return err
}

// gomaasError turns gomaasapi's errors into this package's kinds so that
// retry and the messages treat them alike.
func (c *Client) gomaasError(ctx context.Context, method, path string, err error) error {
	if err == nil {
		return nil
	}
	u := c.apiURL("api/2.0/" + path).Redacted()
	if serverErr, ok := gomaasapi.GetServerError(err); ok {
		return c.apiError(method, u, serverErr.StatusCode, serverErr.BodyMessage)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", method, u, ctx.Err())
	}
	return &networkError{method, u, c.opts.URLSetting, err}
}

// contextTransport ties gomaasapi's requests, which carry no context, to
// the caller's context and the per-request timeout.
type contextTransport struct {
	ctx     context.Context
	base    http.RoundTripper
	timeout time.Duration
}

func (t *contextTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, limited: io.LimitReader(resp.Body, maxListAnswer), cancel: cancel}
	return resp, nil
}

// maxListAnswer bounds what gomaasapi, which reads answers whole, reads of
// one: the list of uploaded boot resources is the largest; a longer
// answer is cut and then fails to parse.
const maxListAnswer = 64 << 20

type cancelOnClose struct {
	io.ReadCloser
	limited io.Reader
	cancel  context.CancelFunc
}

func (b *cancelOnClose) Read(p []byte) (int, error) { return b.limited.Read(p) }

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
