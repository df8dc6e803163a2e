package fakemaas_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
)

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var nonceCounter int

func oauthHeader(nonce string, ts time.Time, secret string) string {
	return fmt.Sprintf(`OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key=%q, oauth_token=%q, oauth_signature="%%26%s", oauth_nonce=%q, oauth_timestamp="%d"`,
		fakemaas.ConsumerKey, fakemaas.TokenKey, secret, nonce, ts.Unix())
}

// call sends a signed request with a fresh nonce.
func call(t *testing.T, method, url string, body io.Reader, contentType string) (int, string) {
	t.Helper()
	nonceCounter++
	return callWith(t, method, url, body, contentType, oauthHeader(strconv.Itoa(nonceCounter), time.Now(), fakemaas.TokenSecret))
}

func callWith(t *testing.T, method, url string, body io.Reader, contentType, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func createForm(t *testing.T, fields map[string]string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

type created struct {
	ID   int `json:"id"`
	Sets map[string]struct {
		Files map[string]struct {
			UploadURI string  `json:"upload_uri"`
			Complete  bool    `json:"complete"`
			Progress  float64 `json:"progress"`
		} `json:"files"`
	} `json:"sets"`
}

// create makes a resource for content and returns its upload URL.
func create(t *testing.T, fake *fakemaas.Server, name string, content []byte) (created, string) {
	t.Helper()
	sum := sha256.Sum256(content)
	body, ct := createForm(t, map[string]string{
		"name": name, "architecture": "amd64/generic", "sha256": hex.EncodeToString(sum[:]),
		"size": strconv.Itoa(len(content)), "filetype": "tgz", "base_image": "ubuntu/noble",
	})
	status, answer := call(t, "POST", fake.URL+"/api/2.0/boot-resources/", body, ct)
	require.Equal(t, http.StatusCreated, status, answer)
	var res created
	require.NoError(t, json.Unmarshal([]byte(answer), &res))
	for _, set := range res.Sets {
		for _, f := range set.Files {
			return res, strings.TrimSuffix(fake.URL, "/MAAS") + f.UploadURI
		}
	}
	t.Fatalf("created resource has no file: %s", answer)
	return created{}, ""
}

func TestOAuthChecks(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	url := fake.URL + "/api/2.0/users/?op=whoami"
	now := time.Now()

	status, _ := callWith(t, "GET", url, nil, "", oauthHeader("n1", now, fakemaas.TokenSecret))
	assert.Equal(t, http.StatusOK, status)
	status, body := callWith(t, "GET", url, nil, "", oauthHeader("n1", now, fakemaas.TokenSecret))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, "Nonce already used")
	status, body = callWith(t, "GET", url, nil, "", oauthHeader("n2", now.Add(-301*time.Second), fakemaas.TokenSecret))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, "Expired timestamp")
	status, _ = callWith(t, "GET", url, nil, "", oauthHeader("n3", now, "wrong"))
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = callWith(t, "GET", url, nil, "", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = callWith(t, "GET", fake.URL+"/api/2.0/version/", nil, "", "")
	assert.Equal(t, http.StatusOK, status, "version needs no auth")
}

func TestMissingTrailingSlashRedirectsBeforeAuth(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	req, err := http.NewRequest("POST", fake.URL+"/api/2.0/boot-resources", nil)
	require.NoError(t, err)
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "/MAAS/api/2.0/boot-resources/", resp.Header.Get("Location"))
}

func TestCreateValidation(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	good := map[string]string{
		"name": "custom/img", "architecture": "amd64/generic", "sha256": strings.Repeat("a", 64), "size": "10",
	}
	cases := map[string]struct {
		field, value, wantField string
	}{
		"reserved series":    {"name", "custom/noble", "name"},
		"reserved os":        {"name", "ubuntu", "name"},
		"unknown os":         {"name", "debian/img", "name"},
		"bad architecture":   {"architecture", "amd64", "architecture"},
		"bad sha256":         {"sha256", "ABC", "sha256"},
		"missing size":       {"size", "", "size"},
		"bad filetype":       {"filetype", "qcow2", "filetype"},
		"ubuntu version":     {"base_image", "ubuntu/24.04", "base_image"},
		"non-Linux base":     {"base_image", "windows/2022", "base_image"},
		"base without slash": {"base_image", "noble", "base_image"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fields := map[string]string{}
			for k, v := range good {
				fields[k] = v
			}
			fields[tc.field] = tc.value
			body, ct := createForm(t, fields)
			status, answer := call(t, "POST", fake.URL+"/api/2.0/boot-resources/", body, ct)
			assert.Equal(t, http.StatusBadRequest, status)
			var errs map[string][]string
			require.NoError(t, json.Unmarshal([]byte(answer), &errs), answer)
			assert.Contains(t, errs, tc.wantField)
		})
	}
	assert.Empty(t, fake.Files())
}

// TestChunkPutErrorOrder runs as MAAS 3.3, whose store discards an
// overflowing upload and takes it again from the start.
func TestChunkPutErrorOrder(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.MAAS33 = true
	content := []byte("0123456789")
	_, upload := create(t, fake, "custom/order", content)

	status, body := call(t, "PUT", upload, bytes.NewReader(nil), "application/octet-stream")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Missing data.")

	status, _ = call(t, "PUT", upload, bytes.NewReader(content[:4]), "application/octet-stream")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, int64(4), fake.Files()[0].Received)

	status, body = call(t, "PUT", upload, bytes.NewReader(content), "application/octet-stream")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Too much data received.")
	assert.Zero(t, fake.Files()[0].Received, "overflow discards what was stored")

	status, body = call(t, "PUT", upload, bytes.NewReader([]byte("9876543210")), "application/octet-stream")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Saved content does not match given SHA256 value.")

	for _, part := range [][]byte{content[:3], content[3:]} {
		status, body = call(t, "PUT", upload, bytes.NewReader(part), "application/octet-stream")
		require.Equal(t, http.StatusOK, status, body)
	}
	assert.True(t, fake.Files()[0].Complete)
	status, body = call(t, "PUT", upload, bytes.NewReader(content), "application/octet-stream")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Cannot upload to a complete file.")

	status, _ = call(t, "PUT", strings.Replace(upload, "/upload/", "/upload/9", 1), bytes.NewReader(content), "application/octet-stream")
	assert.Equal(t, http.StatusNotFound, status)
}

func put(t *testing.T, upload string, body []byte) (int, string) {
	t.Helper()
	return call(t, "PUT", upload, bytes.NewReader(body), "application/octet-stream")
}

func read(t *testing.T, fake *fakemaas.Server, id int) string {
	t.Helper()
	status, body := call(t, "GET", fmt.Sprintf("%s/api/2.0/boot-resources/%d/", fake.URL, id), nil, "")
	require.Equal(t, http.StatusOK, status, body)
	return body
}

// MAAS 3.4+: an overflow deletes the stored file but not the region's
// record of it, so the file can never be completed.
func TestOverflowBreaksTheFile(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := []byte("0123456789")
	_, upload := create(t, fake, "custom/order", content)
	status, _ := put(t, upload, content[:4])
	require.Equal(t, http.StatusOK, status)
	status, body := put(t, upload, content)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Too much data received.")
	f := fake.Files()[0]
	assert.Equal(t, int64(4), f.Received, "the region's record keeps the bytes")
	assert.Zero(t, f.Stored, "the stored file is gone")
	status, _ = put(t, upload, content[4:])
	assert.Equal(t, http.StatusOK, status, "6 bytes land in an empty file")
	status, body = put(t, upload, content[:4])
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Cannot upload to a complete file.", "the record counts 10 bytes, the disk holds 6")
	assert.Equal(t, int64(6), fake.Files()[0].Stored)
}

func TestRegionsProgressAndSync(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.Regions, fake.SyncReads = 3, 2
	status, body := call(t, "GET", fake.URL+"/api/2.0/regioncontrollers/", nil, "")
	require.Equal(t, http.StatusOK, status)
	var regions []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &regions))
	assert.Len(t, regions, 3)

	content := bytes.Repeat([]byte("x"), 1000)
	res, upload := create(t, fake, "custom/ha", content)
	status, _ = put(t, upload, content[:600])
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, read(t, fake, res.ID), `"progress":20,`, "600 bytes on one of 3 regions")
	status, _ = put(t, upload, content[600:])
	require.Equal(t, http.StatusOK, status)
	f := fake.Files()[0]
	assert.False(t, f.Complete, "the other regions copy it later")
	assert.Equal(t, 1, f.RegionsHolding)
	status, body = put(t, upload, content[:1])
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Cannot upload to a complete file.", "the uploading region's copy is whole")
	assert.Contains(t, read(t, fake, res.ID), `"progress":33.33`)
	assert.Contains(t, read(t, fake, res.ID), `"complete":true`, "copied after two reads")
	assert.Equal(t, 3, fake.Files()[0].RegionsHolding)

	again, upload2 := create(t, fake, "custom/ha2", []byte("abc"))
	status, _ = put(t, upload2, []byte("abc"))
	require.Equal(t, http.StatusOK, status)
	assert.NotContains(t, read(t, fake, again.ID), `"complete":true`)
	fake.SyncRegions()
	assert.Contains(t, read(t, fake, again.ID), `"complete":true`)
}

// MAAS 3.3 shares stored content: the same content again is complete at once.
func TestSharedContentMAAS33(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.MAAS33 = true
	content := bytes.Repeat([]byte("x"), 1000)
	res, upload := create(t, fake, "custom/progress", content)
	status, _ := put(t, upload, content[:250])
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, read(t, fake, res.ID), `"progress":25`)

	status, _ = put(t, upload, content[250:])
	require.Equal(t, http.StatusOK, status)
	again, _ := create(t, fake, "custom/other-name", content)
	for _, set := range again.Sets {
		for _, f := range set.Files {
			assert.True(t, f.Complete, "same content again is complete at once")
		}
	}
}

// MAAS 3.4+ shares stored content too, but the new row starts empty with
// an upload_uri, and its first PUT deletes the shared file.
func TestSharedContentIsDestroyedByAPut(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := bytes.Repeat([]byte("y"), 1000)
	_, upload := create(t, fake, "custom/first", content)
	status, _ := put(t, upload, content)
	require.Equal(t, http.StatusOK, status)
	again, upload2 := create(t, fake, "custom/second", content)
	for _, set := range again.Sets {
		for _, f := range set.Files {
			assert.False(t, f.Complete)
			assert.Zero(t, f.Progress)
		}
	}
	status, body := put(t, upload2, content[:100])
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Too much data received.")
	first := fake.Files()[0]
	assert.True(t, first.Complete, "MAAS still lists the first image as complete")
	assert.Zero(t, first.Stored, "but its data is gone")

	form, ct := createForm(t, map[string]string{
		"name": "custom/third", "architecture": "amd64/generic", "sha256": first.SHA256, "size": "5",
	})
	status, answer := call(t, "POST", fake.URL+"/api/2.0/boot-resources/", form, ct)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, answer, "File already exists with sha256 that is of different size.")
}

// Without keep_old, the create itself drops the older sets' files.
func TestKeepOldAtCreate(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	first, upload := create(t, fake, "custom/rebuilt", []byte("one"))
	status, _ := put(t, upload, []byte("one"))
	require.Equal(t, http.StatusOK, status)
	second, _ := create(t, fake, "custom/rebuilt", []byte("two"))
	require.Equal(t, first.ID, second.ID)
	files := fake.Files()
	require.Len(t, files, 1, "the old version's file is dropped before any byte of the new one")
	assert.False(t, files[0].Complete)
	sets := fake.Sets(first.ID)
	require.Len(t, sets, 2, "the old set stays, empty")
	assert.Zero(t, sets[0].Files)
}

func TestLostCreateAnswer(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.SetFaults(fakemaas.Faults{CreateAnswersLost: 1})
	body, ct := createForm(t, map[string]string{
		"name": "custom/lost", "architecture": "amd64/generic", "sha256": strings.Repeat("c", 64), "size": "3",
	})
	req, err := http.NewRequest("POST", fake.URL+"/api/2.0/boot-resources/", body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", fakemaas.AuthHeader())
	resp, err := noRedirects.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the answer is lost")
	assert.Len(t, fake.Files(), 1, "but the create was stored")
	assert.Equal(t, 1, fake.Stats().LostCreates)
}

func TestBodyLimit(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := make([]byte, fakemaas.NginxBodyLimit+1)
	_, upload := create(t, fake, "custom/big", content)
	status, _ := call(t, "PUT", upload, bytes.NewReader(content), "application/octet-stream")
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
}

func TestDeleteAndList(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	res, _ := create(t, fake, "custom/gone", []byte("abc"))
	status, body := call(t, "GET", fake.URL+"/api/2.0/boot-resources/?type=uploaded", nil, "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `"name":"custom/gone"`)
	status, _ = call(t, "DELETE", fmt.Sprintf("%s/api/2.0/boot-resources/%d/", fake.URL, res.ID), nil, "")
	assert.Equal(t, http.StatusNoContent, status)
	assert.Empty(t, fake.Files())
	status, _ = call(t, "GET", fmt.Sprintf("%s/api/2.0/boot-resources/%d/", fake.URL, res.ID), nil, "")
	assert.Equal(t, http.StatusNotFound, status)
}

func TestAPIv3(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.V3 = true
	login := func(password string) (int, string) {
		return callWith(t, "POST", fake.URL+"/a/v3/auth/login",
			strings.NewReader("username=admin&password="+password), "application/x-www-form-urlencoded", "")
	}
	status, _ := login("wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body := login(fakemaas.Password)
	require.Equal(t, http.StatusOK, status)
	var token struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &token))

	content := []byte("v3 content")
	sum := sha256.Sum256(content)
	var answer string
	upload := func(auth, sha string) int {
		req, err := http.NewRequest("POST", fake.URL+"/a/v3/custom_images", bytes.NewReader(content))
		require.NoError(t, err)
		for k, v := range map[string]string{
			"Authorization": auth, "name": "custom/v3", "sha256": sha,
			"architecture": "amd64/generic", "file-type": "tgz",
		} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		answer = string(data)
		return resp.StatusCode
	}
	good := hex.EncodeToString(sum[:])
	assert.Equal(t, http.StatusUnauthorized, upload("Bearer nope", good))
	assert.Equal(t, http.StatusUnprocessableEntity, upload("Bearer "+token.AccessToken, "xyz"))
	assert.Equal(t, http.StatusBadRequest, upload("Bearer "+token.AccessToken, strings.Repeat("0", 64)))
	assert.Equal(t, http.StatusCreated, upload("Bearer "+token.AccessToken, good))
	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	// maasapiserver's ImageResponse: the boot resource id, no sets.
	assert.JSONEq(t, fmt.Sprintf(`{"kind": "Image", "id": %d, "os": "custom", "release": "v3", "title": "v3",
		"architecture": "amd64", "_links": {"self": {"href": "/MAAS/a/v3/custom_images/%d"}}}`,
		files[0].ResourceID, files[0].ResourceID), answer)
	assert.Equal(t, http.StatusConflict, upload("Bearer "+token.AccessToken, good))

	fake.Now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	assert.Equal(t, http.StatusUnauthorized, upload("Bearer "+token.AccessToken, good), "tokens last 10 minutes")
}
