package maas_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
)

// BenchmarkUpload1GiB compares the chunked upload, run in a child process
// so that its peak RSS is its own, with one raw HTTP PUT of the same file
// to the same fake server.
func BenchmarkUpload1GiB(b *testing.B) {
	const size = 1 << 30
	fake := startFake(b)
	fake.BodyLimit = -1 // the raw PUT sends the whole file at once
	fake.NoDedupe = true
	path, sum := writeImage(b, size, 42)

	for i := 0; i < b.N; i++ {
		raw := rawPut(b, fake, path, sum, size)
		child := uploadInChild(b, fake, path, sum, size)
		b.ReportMetric(raw.Seconds()/child.Seconds, "rel-throughput")
		b.ReportMetric(size/child.Seconds/1e6, "upload-MB/s")
		b.ReportMetric(size/raw.Seconds()/1e6, "rawput-MB/s")
		b.ReportMetric(float64(child.PeakRSSKiB)/1024, "peak-RSS-MiB")
	}
}

// rawPut creates a resource and PUTs the whole file in one request.
func rawPut(b *testing.B, fake *fakemaas.Server, path, sum string, size int64) time.Duration {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range map[string]string{
		"name": "custom/raw-put", "architecture": "amd64/generic", "sha256": sum, "size": strconv.FormatInt(size, 10),
	} {
		require.NoError(b, mw.WriteField(k, v))
	}
	require.NoError(b, mw.Close())
	var created maas.Resource
	answer := fakeCall(b, "POST", fake.URL+"/api/2.0/boot-resources/", &form, mw.FormDataContentType(), -1)
	require.NoError(b, json.Unmarshal(answer, &created))
	_, file, ok := created.FileBySHA256(sum)
	require.True(b, ok)

	f, err := os.Open(path)
	require.NoError(b, err)
	defer f.Close()
	start := time.Now()
	fakeCall(b, "PUT", strings.TrimSuffix(fake.URL, "/MAAS")+file.UploadURI, io.NewSectionReader(f, 0, size), "application/octet-stream", size)
	elapsed := time.Since(start)
	// Gone before the measured upload, which refuses content stored under
	// another name.
	fakeCall(b, "DELETE", fmt.Sprintf("%s/api/2.0/boot-resources/%d/", fake.URL, created.ID), nil, "", -1)
	return elapsed
}

func fakeCall(b *testing.B, method, url string, body io.Reader, contentType string, length int64) []byte {
	req, err := http.NewRequest(method, url, body)
	require.NoError(b, err)
	if length >= 0 {
		req.ContentLength = length
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", fakemaas.AuthHeader())
	resp, err := rawClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	require.Less(b, resp.StatusCode, 300, "%s %s: %s", method, url, data)
	return data
}

// rawClient sends the baseline PUT with the client's transport tuning, so
// the comparison measures the chunked protocol, not buffer sizes.
var rawClient = &http.Client{Transport: func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.WriteBufferSize = 256 << 10
	return t
}()}

type childResult struct {
	Seconds    float64
	PeakRSSKiB int64
}

// uploadInChild re-runs this test binary as TestUploadChildProcess.
func uploadInChild(b *testing.B, fake *fakemaas.Server, path, sum string, size int64) childResult {
	cmd := exec.Command(os.Args[0], "-test.run=^TestUploadChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"MAAS_UPLOAD_CHILD=1", "MAAS_UPLOAD_CHILD_URL="+fake.URL, "MAAS_UPLOAD_CHILD_PATH="+path,
		"MAAS_UPLOAD_CHILD_SHA256="+sum, "MAAS_UPLOAD_CHILD_SIZE="+strconv.FormatInt(size, 10))
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "child upload: %s", out)
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "CHILD-RESULT "); ok {
			var res childResult
			require.NoError(b, json.Unmarshal([]byte(rest), &res))
			return res
		}
	}
	b.Fatalf("child upload printed no result: %s", out)
	return childResult{}
}

// TestUploadChildProcess is the benchmark's child; run alone it does
// nothing.
func TestUploadChildProcess(t *testing.T) {
	if os.Getenv("MAAS_UPLOAD_CHILD") != "1" {
		return
	}
	size, err := strconv.ParseInt(os.Getenv("MAAS_UPLOAD_CHILD_SIZE"), 10, 64)
	require.NoError(t, err)
	client, err := maas.NewClient(maas.Options{URL: os.Getenv("MAAS_UPLOAD_CHILD_URL"), APIKey: fakemaas.APIKey})
	require.NoError(t, err)
	start := time.Now()
	_, err = client.Upload(context.Background(), maas.UploadRequest{
		Name: "custom/bench", Architecture: "amd64/generic", Filetype: "tgz",
		Path: os.Getenv("MAAS_UPLOAD_CHILD_PATH"), SHA256: os.Getenv("MAAS_UPLOAD_CHILD_SHA256"), Size: size,
	})
	require.NoError(t, err)
	res, err := json.Marshal(childResult{Seconds: time.Since(start).Seconds(), PeakRSSKiB: peakRSSKiB(t)})
	require.NoError(t, err)
	fmt.Printf("CHILD-RESULT %s\n", res)
}

// peakRSSKiB reads VmHWM, the process's peak resident set size.
func peakRSSKiB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kib
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
