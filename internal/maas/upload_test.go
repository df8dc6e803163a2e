package maas_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
)

const mib = 1 << 20

func startFake(t testing.TB) *fakemaas.Server {
	t.Helper()
	fake := fakemaas.Start()
	t.Cleanup(fake.Close)
	return fake
}

// newClient returns a client with fast retries, so fault tests run quickly.
func newClient(t testing.TB, fake *fakemaas.Server, change func(*maas.Options)) *maas.Client {
	t.Helper()
	opts := maas.Options{
		URL: fake.URL, APIKey: fakemaas.APIKey,
		RequestTimeout: 10 * time.Second, Attempts: 8,
		Backoff:      maas.Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond},
		PollInterval: time.Millisecond,
		Logf:         t.Logf,
	}
	if change != nil {
		change(&opts)
	}
	c, err := maas.NewClient(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// writeImage writes size pseudo-random bytes (no sparse holes, nothing
// compressible) and returns the path and sha256.
func writeImage(t testing.TB, size int64, seed uint64) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.tgz")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	h := sha256.New()
	buf := make([]byte, mib)
	for left := size; left > 0; left -= int64(len(buf)) {
		part := buf[:min(int64(len(buf)), left)]
		_, _ = rng.Read(part)
		h.Write(part)
		_, err := f.Write(part)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	return path, hex.EncodeToString(h.Sum(nil))
}

func request(path, sum string, size int64) maas.UploadRequest {
	return maas.UploadRequest{
		Name: "custom/test-image", Title: "Test image", Architecture: "amd64/generic",
		BaseImage: "ubuntu/noble", Filetype: "tgz", Path: path, SHA256: sum, Size: size,
		ChunkSize: 4 * mib,
	}
}

// requireOnlyComplete checks that the fake holds exactly one file, complete
// with this content, and nothing incomplete.
func requireOnlyComplete(t *testing.T, fake *fakemaas.Server, sum string, size int64) fakemaas.FileState {
	t.Helper()
	files := fake.Files()
	require.Len(t, files, 1, "the fake should hold exactly one file: %+v", files)
	f := files[0]
	assert.True(t, f.Complete, "file not complete: %+v", f)
	assert.Equal(t, sum, f.SHA256)
	assert.Equal(t, size, f.Received)
	return f
}

func TestUploadMultiChunk(t *testing.T) {
	fake := startFake(t)
	size := int64(21*mib + 12345)
	path, sum := writeImage(t, size, 1)
	client := newClient(t, fake, nil)
	var progressed int64
	req := request(path, sum, size)
	req.Progress = func(n int64) { progressed += n }

	res, err := client.Upload(context.Background(), req)
	require.NoError(t, err)

	f := requireOnlyComplete(t, fake, sum, size)
	assert.Equal(t, f.ResourceID, res.Resource.ID)
	assert.Equal(t, "custom/test-image", res.Resource.Name)
	assert.Equal(t, "ubuntu/noble", f.BaseImage)
	assert.Equal(t, "2.0", res.APIVersion)
	assert.False(t, res.AlreadyPresent)
	assert.Equal(t, size, progressed, "progress must add up to the file size")
	stats := fake.Stats()
	assert.Equal(t, 6, stats.Puts, "21 MiB in 4 MiB chunks is 6 PUTs")
	assert.Equal(t, 1, stats.Creates)
	assert.Zero(t, stats.Unauthorized, "every request must carry a fresh nonce")
}

func TestUploadComputesDigestWhenNotGiven(t *testing.T) {
	fake := startFake(t)
	path, sum := writeImage(t, 3*mib+1, 2)
	req := request(path, "", 0)
	_, err := newClient(t, fake, nil).Upload(context.Background(), req)
	require.NoError(t, err)
	requireOnlyComplete(t, fake, sum, 3*mib+1)
}

func TestUploadRejectsSizeMismatch(t *testing.T) {
	fake := startFake(t)
	path, sum := writeImage(t, mib, 3)
	_, err := newClient(t, fake, nil).Upload(context.Background(), request(path, sum, mib+1))
	require.ErrorContains(t, err, "the file changed after it was written")
	assert.Empty(t, fake.Files())
}

// A rebuild that changed nothing: MAAS 3.4+ would share the stored file
// with a new version and delete it at the first PUT; nothing is created.
func TestUploadIdenticalRebuildSendsNothing(t *testing.T) {
	fake := startFake(t)
	size := int64(5 * mib)
	path, sum := writeImage(t, size, 4)
	client := newClient(t, fake, nil)
	first, err := client.Upload(context.Background(), request(path, sum, size))
	require.NoError(t, err)
	before := fake.Stats()

	var progressed int64
	req := request(path, sum, size)
	req.Progress = func(n int64) { progressed += n }
	res, err := client.Upload(context.Background(), req)
	require.NoError(t, err)

	assert.True(t, res.AlreadyPresent)
	assert.Equal(t, first.Resource.ID, res.Resource.ID)
	assert.Equal(t, first.Version, res.Version)
	assert.Equal(t, before.Creates, fake.Stats().Creates, "no new version")
	assert.Equal(t, before.Puts, fake.Stats().Puts)
	assert.Equal(t, size, progressed)
	f := requireOnlyComplete(t, fake, sum, size)
	assert.Equal(t, size, f.Stored, "the image keeps its data")
}

// MAAS 3.3 shares stored content safely: a new file for it is complete at
// once, under any name, and nothing is sent.
func TestUploadSharedContentMAAS33(t *testing.T) {
	fake := startFake(t)
	fake.MAAS33 = true
	size := int64(3 * mib)
	path, sum := writeImage(t, size, 4)
	client := newClient(t, fake, nil)
	_, err := client.Upload(context.Background(), request(path, sum, size))
	require.NoError(t, err)
	puts := fake.Stats().Puts

	req := request(path, sum, size)
	req.Name = "custom/same-content"
	res, err := client.Upload(context.Background(), req)
	require.NoError(t, err)
	assert.True(t, res.AlreadyPresent)
	assert.Equal(t, puts, fake.Stats().Puts)
	files := fake.Files()
	require.Len(t, files, 2)
	for _, f := range files {
		assert.True(t, f.Complete)
		assert.Equal(t, size, f.Stored)
	}
}

// MAAS 3.4+: the same content under another name would share the stored
// file and the first PUT would delete it under the other image.
func TestUploadSameContentUnderAnotherNameStops(t *testing.T) {
	fake := startFake(t)
	size := int64(2 * mib)
	path, sum := writeImage(t, size, 4)
	client := newClient(t, fake, nil)
	first, err := client.Upload(context.Background(), request(path, sum, size))
	require.NoError(t, err)
	before := fake.Stats()

	req := request(path, sum, size)
	req.Name = "custom/same-content"
	_, err = client.Upload(context.Background(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("MAAS already stores this content (sha256 %s) as boot resource %d (custom/test-image, amd64/generic)", sum, first.Resource.ID))
	assert.Contains(t, err.Error(), `set image_name to "custom/test-image"`)
	assert.Equal(t, before.Creates, fake.Stats().Creates, "stopped before any change")
	assert.Equal(t, before.Puts, fake.Stats().Puts)
	f := requireOnlyComplete(t, fake, sum, size)
	assert.Equal(t, size, f.Stored, "the first image keeps its data")
}

func TestUploadKeepOld(t *testing.T) {
	fake := startFake(t)
	client := newClient(t, fake, nil)
	for seed := uint64(1); seed <= 2; seed++ {
		path, sum := writeImage(t, mib, seed)
		req := request(path, sum, mib)
		req.KeepOld = true
		_, err := client.Upload(context.Background(), req)
		require.NoError(t, err)
	}
	files := fake.Files()
	require.Len(t, files, 2, "keep_old keeps both versions")
	assert.Equal(t, files[0].ResourceID, files[1].ResourceID, "same name and architecture: one resource")
	assert.NotEqual(t, files[0].Version, files[1].Version)
}

func TestUploadWrongKey(t *testing.T) {
	fake := startFake(t)
	path, sum := writeImage(t, mib, 5)
	const secret = "notthesecret0123456789abcdefghij"
	client := newClient(t, fake, func(o *maas.Options) {
		o.APIKey = fakemaas.ConsumerKey + ":" + fakemaas.TokenKey + ":" + secret
	})
	_, err := client.Upload(context.Background(), request(path, sum, mib))
	require.Error(t, err)
	var apiErr *maas.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "MAAS refused the credentials")
	assert.NotContains(t, err.Error(), secret, "the key must never appear in errors")
	assert.Equal(t, 1, fake.Stats().Unauthorized, "a 401 is not retried")
	assert.Empty(t, fake.Files())
}

func TestUploadUnreachable(t *testing.T) {
	fake := fakemaas.Start()
	url := fake.URL
	fake.Close()
	path, sum := writeImage(t, mib, 6)
	client, err := maas.NewClient(maas.Options{
		URL: url, APIKey: fakemaas.APIKey, Attempts: 2,
		Backoff: maas.Backoff{Initial: time.Millisecond, Max: time.Millisecond},
	})
	require.NoError(t, err)
	_, err = client.Upload(context.Background(), request(path, sum, mib))
	require.ErrorContains(t, err, "no answer from MAAS (check maas_url and that MAAS is reachable)")
}

func TestUploadWrongDigestShowsMAASMessage(t *testing.T) {
	fake := startFake(t)
	path, _ := writeImage(t, 2*mib, 7)
	wrong := strings.Repeat("ab", 32)
	_, err := newClient(t, fake, nil).Upload(context.Background(), request(path, wrong, 2*mib))
	require.ErrorContains(t, err, "Saved content does not match given SHA256 value.")
	assert.Empty(t, fake.Files(), "the rejected upload's resource must be deleted")
}

func TestUploadSurvivesFaults(t *testing.T) {
	cases := []struct {
		name   string
		faults fakemaas.Faults
		fired  func(fakemaas.Stats) int
		change func(*maas.Options)
	}{
		{
			name:   "connection dropped mid-body",
			faults: fakemaas.Faults{DropEvery: 3, DropAfterBytes: 300 << 10},
			fired:  func(s fakemaas.Stats) int { return s.Dropped },
		},
		{
			name:   "chunk stored, answer lost",
			faults: fakemaas.Faults{LoseAnswerEvery: 3},
			fired:  func(s fakemaas.Stats) int { return s.LostAnswers },
		},
		{
			name:   "503 every 4th request",
			faults: fakemaas.Faults{FailEvery: 4},
			fired:  func(s fakemaas.Stats) int { return s.Failed },
		},
		{
			name:   "slow server beyond the request timeout",
			faults: fakemaas.Faults{SlowEvery: 9, Delay: 3 * time.Second},
			fired:  func(s fakemaas.Stats) int { return s.Slowed },
			change: func(o *maas.Options) { o.RequestTimeout = time.Second },
		},
		{
			name: "all at once",
			faults: fakemaas.Faults{
				DropEvery: 5, DropAfterBytes: 100 << 10, LoseAnswerEvery: 4, FailEvery: 7,
				SlowEvery: 11, Delay: 3 * time.Second,
			},
			fired: func(s fakemaas.Stats) int {
				return min(s.Dropped, s.LostAnswers, s.Failed, s.Slowed)
			},
			change: func(o *maas.Options) { o.RequestTimeout = time.Second },
		},
	}
	size := int64(20*mib + 777)
	path, sum := writeImage(t, size, 8)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t)
			fake.SetFaults(tc.faults)
			var progressed int64
			req := request(path, sum, size)
			req.ChunkSize = mib
			req.Progress = func(n int64) { progressed += n }
			_, err := newClient(t, fake, tc.change).Upload(context.Background(), req)
			require.NoError(t, err)
			requireOnlyComplete(t, fake, sum, size)
			assert.Positive(t, tc.fired(fake.Stats()), "the fault never fired: %+v", fake.Stats())
			assert.Equal(t, size, progressed)
		})
	}
}

func TestUploadCancelledMidwayLeavesNothing(t *testing.T) {
	fake := startFake(t)
	size := int64(12 * mib)
	path, sum := writeImage(t, size, 9)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := request(path, sum, size)
	req.ChunkSize = mib
	var progressed int64
	req.Progress = func(n int64) {
		if progressed += n; progressed >= 5*mib {
			cancel() // as Ctrl-C would, between chunks
		}
	}
	_, err := newClient(t, fake, nil).Upload(ctx, req)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, fake.Files(), "the incomplete resource must be deleted")
	assert.Equal(t, 1, fake.Stats().Deletes)
}

func TestUploadFinalFailureDeletesResource(t *testing.T) {
	fake := startFake(t)
	fake.SetFaults(fakemaas.Faults{DropEvery: 1, DropAfterBytes: 1000})
	path, sum := writeImage(t, 2*mib, 10)
	_, err := newClient(t, fake, func(o *maas.Options) { o.Attempts = 3 }).Upload(context.Background(), request(path, sum, 2*mib))
	require.ErrorContains(t, err, "stopped at byte 0 of 2097152 after 3 attempts")
	assert.Empty(t, fake.Files())
	assert.Equal(t, 3, fake.Stats().Dropped)
}

// A failed rebuild without keep_old: MAAS dropped the old version's file
// at the create, but the resource, which this upload did not create, is
// kept, and the error says what MAAS holds.
func TestUploadFailedRebuildKeepsTheResource(t *testing.T) {
	fake := startFake(t)
	var logged []string
	client := newClient(t, fake, func(o *maas.Options) {
		o.Attempts = 2
		o.Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	})
	path, sum := writeImage(t, mib, 11)
	first, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)

	fake.SetFaults(fakemaas.Faults{DropEvery: 1, DropAfterBytes: 1000})
	path2, sum2 := writeImage(t, mib, 12)
	_, err = client.Upload(context.Background(), request(path2, sum2, mib))
	require.Error(t, err)
	id := first.Resource.ID
	assert.Contains(t, err.Error(), fmt.Sprintf("boot resource %d (custom/test-image, amd64/generic) existed before this upload, so it was not deleted", id))
	assert.Contains(t, err.Error(), fmt.Sprintf("version %s: no file (MAAS dropped it at this upload's create, as keep_old is false)", first.Version))
	assert.Contains(t, err.Error(), "incomplete, 0.0%, this upload's")
	assert.Contains(t, strings.Join(logged, "\n"), fmt.Sprintf("keep_old is false: MAAS drops the files of boot resource %d (custom/test-image) version %s when this upload creates its new version", id, first.Version))
	assert.Zero(t, fake.Stats().Deletes)
	assert.Len(t, fake.Sets(id), 2, "the resource and its history stay")
}

// Run again after a rebuild stopped midway, the upload goes on where it
// stopped instead of creating a version that would share (and append to)
// the stored partial file.
func TestUploadResumesAnEarlierIncompleteUpload(t *testing.T) {
	fake := startFake(t)
	fake.Regions = 2
	client := newClient(t, fake, func(o *maas.Options) { o.Attempts = 1 })
	path, sum := writeImage(t, mib, 11)
	_, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)

	size := int64(5 * mib)
	path2, sum2 := writeImage(t, size, 12)
	req := request(path2, sum2, size)
	req.ChunkSize = mib
	fake.SetFaults(fakemaas.Faults{DropEvery: 3, DropAfterBytes: 1000})
	_, err = client.Upload(context.Background(), req)
	require.ErrorContains(t, err, "stopped at byte 2097152")
	fake.SetFaults(fakemaas.Faults{})
	before := fake.Stats()

	var progressed int64
	req.Progress = func(n int64) { progressed += n }
	_, err = client.Upload(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, before.Creates, fake.Stats().Creates, "no new version")
	assert.Equal(t, 3, fake.Stats().Puts-before.Puts, "the three chunks MAAS lacked")
	files := fake.Files()
	require.Len(t, files, 1)
	assert.Equal(t, sum2, files[0].SHA256)
	assert.Equal(t, size, files[0].Stored)
	assert.True(t, files[0].Complete)
	assert.Equal(t, size, progressed)
}

func TestUploadFailedRebuildWithKeepOldKeepsTheOldVersion(t *testing.T) {
	fake := startFake(t)
	client := newClient(t, fake, func(o *maas.Options) { o.Attempts = 2 })
	path, sum := writeImage(t, mib, 11)
	_, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)

	fake.SetFaults(fakemaas.Faults{DropEvery: 1, DropAfterBytes: 1000})
	path2, sum2 := writeImage(t, mib, 12)
	req := request(path2, sum2, mib)
	req.KeepOld = true
	_, err = client.Upload(context.Background(), req)
	require.ErrorContains(t, err, "existed before this upload, so it was not deleted")
	assert.Contains(t, err.Error(), ": complete; version")
	files := fake.Files()
	require.Len(t, files, 2)
	assert.True(t, files[0].Complete, "the earlier version survives")
	assert.Equal(t, sum, files[0].SHA256)
	assert.Equal(t, int64(mib), files[0].Stored)
	assert.Zero(t, fake.Stats().Deletes)
}

// An HA MAAS: after the last chunk the file is on one region of three,
// complete false and progress 33.3, and that is a finished upload.
func TestUploadHARegions(t *testing.T) {
	fake := startFake(t)
	fake.Regions, fake.SyncReads = 3, 1000
	size := int64(9*mib + 3)
	path, sum := writeImage(t, size, 30)
	res, err := newClient(t, fake, nil).Upload(context.Background(), request(path, sum, size))
	require.NoError(t, err)
	assert.False(t, res.AlreadyPresent)
	files := fake.Files()
	require.Len(t, files, 1)
	assert.Equal(t, size, files[0].Stored)
	assert.Equal(t, 1, files[0].RegionsHolding)
	assert.False(t, files[0].Complete, "the other regions copy it later")
	assert.Zero(t, fake.Stats().Deletes)
}

// Lost answers on an HA MAAS, the last chunk's included: the offset is
// settled from progress with the number of regions, so no byte is sent
// twice (which would make MAAS delete the stored file).
func TestUploadHALostAnswersResume(t *testing.T) {
	fake := startFake(t)
	fake.Regions, fake.SyncReads = 3, 1000
	fake.SetFaults(fakemaas.Faults{LoseAnswerEvery: 2})
	size := int64(6 * mib)
	path, sum := writeImage(t, size, 31)
	req := request(path, sum, size)
	req.ChunkSize = mib
	var progressed int64
	req.Progress = func(n int64) { progressed += n }
	_, err := newClient(t, fake, nil).Upload(context.Background(), req)
	require.NoError(t, err)
	files := fake.Files()
	require.Len(t, files, 1)
	assert.Equal(t, size, files[0].Stored)
	assert.Equal(t, size, files[0].Received)
	assert.Equal(t, 3, fake.Stats().LostAnswers, "chunks 2, 4 and 6 (the last) lost their answers")
	assert.Equal(t, 6, fake.Stats().Puts, "no chunk sent twice")
	assert.Equal(t, size, progressed)
}

// MAAS 3.3 with several regions reports progress over its one store:
// lost answers are settled over one copy there.
func TestUploadMAAS33LostAnswersResume(t *testing.T) {
	fake := startFake(t)
	fake.MAAS33, fake.Regions = true, 3
	fake.SetFaults(fakemaas.Faults{LoseAnswerEvery: 2})
	size := int64(6 * mib)
	path, sum := writeImage(t, size, 38)
	req := request(path, sum, size)
	req.ChunkSize = mib
	_, err := newClient(t, fake, nil).Upload(context.Background(), req)
	require.NoError(t, err)
	requireOnlyComplete(t, fake, sum, size)
	assert.Equal(t, 6, fake.Stats().Puts, "no chunk sent twice")
}

// A create whose answer is lost (dropped, or held past the client's
// timeout by a slow MAAS) is looked up before it is sent again: one version.
func TestUploadLostCreateAnswerMakesOneVersion(t *testing.T) {
	for _, hangs := range []bool{false, true} {
		t.Run(fmt.Sprintf("hangs=%v", hangs), func(t *testing.T) {
			fake := startFake(t)
			fake.SetFaults(fakemaas.Faults{CreateAnswersLost: 3, CreateHangs: hangs})
			path, sum := writeImage(t, 2*mib, 32)
			res, err := newClient(t, fake, func(o *maas.Options) {
				if hangs {
					o.RequestTimeout = 300 * time.Millisecond
				}
			}).Upload(context.Background(), request(path, sum, 2*mib))
			require.NoError(t, err)
			requireOnlyComplete(t, fake, sum, 2*mib)
			assert.Equal(t, 1, fake.Stats().Creates, "the create is not sent again")
			assert.Len(t, fake.Sets(res.Resource.ID), 1, "one version")
		})
	}
}

// When the look-up after a lost create fails too, the error says what
// MAAS may hold and how to delete it.
func TestUploadLostCreateAndFailedLookupSaysWhatToDelete(t *testing.T) {
	fake := startFake(t)
	fake.SetFaults(fakemaas.Faults{CreateAnswersLost: 1})
	fake.OnCreate = func() { fake.SetFaults(fakemaas.Faults{FailEvery: 1}) }
	path, sum := writeImage(t, mib, 33)
	_, err := newClient(t, fake, func(o *maas.Options) { o.Attempts = 2 }).Upload(context.Background(), request(path, sum, mib))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checking whether MAAS made boot resource custom/test-image (amd64/generic) anyway failed too")
	assert.Contains(t, err.Error(), "delete it with `maas $PROFILE boot-resource delete ID`")
	assert.Equal(t, 1, fake.Stats().Creates)
}

// An API 3 upload checks for the same content elsewhere first, too.
func TestUploadAPIv3SameContentUnderAnotherNameStops(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	path, sum := writeImage(t, mib, 34)
	client := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
	})
	_, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)
	req := request(path, sum, mib)
	req.Name = "custom/other"
	_, err = client.Upload(context.Background(), req)
	require.ErrorContains(t, err, "MAAS already stores this content")
	assert.Equal(t, 1, fake.Stats().V3Uploads)
	assert.Len(t, fake.Files(), 1)
}

func TestUploadHugeRetries(t *testing.T) {
	fake := startFake(t)
	fake.SetFaults(fakemaas.Faults{FailEvery: 3})
	size := int64(5 * mib)
	path, sum := writeImage(t, size, 35)
	req := request(path, sum, size)
	req.ChunkSize = mib
	_, err := newClient(t, fake, func(o *maas.Options) { o.Attempts = math.MaxInt }).Upload(context.Background(), req)
	require.NoError(t, err)
	requireOnlyComplete(t, fake, sum, size)
}

// A hostile or broken server: its answer is shown once, printable and short.
func TestUploadHostileErrorBody(t *testing.T) {
	const marker = "BROKEN-PROXY"
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/version/") {
			_, _ = w.Write([]byte(`{"version": "3.5.0"}`))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(marker + " \x1b[2J\x1b]0;pwned\x07\r\n" + strings.Repeat("A", 200_000)))
	}))
	defer server.Close()
	path, sum := writeImage(t, mib, 36)
	client, err := maas.NewClient(maas.Options{URL: server.URL + "/MAAS", APIKey: fakemaas.APIKey, Attempts: 1})
	require.NoError(t, err)
	_, err = client.Upload(context.Background(), request(path, sum, mib))
	require.Error(t, err)
	msg := err.Error()
	assert.Equal(t, 1, strings.Count(msg, marker), "shown once: %s", msg)
	assert.Less(t, len(msg), 1000)
	assert.NotContains(t, msg, "\x1b")
	assert.NotContains(t, msg, "\x07")
	assert.NotContains(t, msg, "\r")
	assert.Contains(t, msg, "more characters)")
}

// A URL without /MAAS gets the web server's 404 page: the error says
// what the URL probably is.
func TestUploadURLWithoutMAASSaysWhatItShouldBe(t *testing.T) {
	fake := startFake(t)
	root := strings.TrimSuffix(fake.URL, "/MAAS")
	path, sum := writeImage(t, mib, 37)
	_, err := newClient(t, fake, func(o *maas.Options) { o.URL = root; o.URLSetting = "MAAS_URL" }).
		Upload(context.Background(), request(path, sum, mib))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("MAAS_URL %s does not end in /MAAS: it is probably %s/MAAS", root, root))
}

func TestUploadReportsTheDigestItComputed(t *testing.T) {
	fake := startFake(t)
	path, sum := writeImage(t, mib, 12)
	req := request(path, sum, mib)
	req.SHA256, req.Size = "", 0 // as from a builder that records neither
	res, err := newClient(t, fake, nil).Upload(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, sum, res.SHA256)
	assert.Equal(t, int64(mib), res.Size)
	requireOnlyComplete(t, fake, sum, mib)
}

func TestUploadAPIv3(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	size := int64(9*mib + 5)
	path, sum := writeImage(t, size, 13)
	var progressed int64
	req := request(path, sum, size)
	req.Progress = func(n int64) { progressed += n }
	res, err := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
	}).Upload(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "3", res.APIVersion)
	f := requireOnlyComplete(t, fake, sum, size)
	assert.Equal(t, f.ResourceID, res.Resource.ID)
	assert.Equal(t, req.Name, res.Resource.Name)
	assert.Equal(t, 1, fake.Stats().V3Uploads)
	assert.Zero(t, fake.Stats().Puts, "API 3 sends the file in one request")
	assert.Equal(t, size, progressed)
}

func TestUploadAPIv3LostAnswerIsNotAnError(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	fake.SetFaults(fakemaas.Faults{LoseAnswerEvery: 1})
	path, sum := writeImage(t, 2*mib, 14)
	res, err := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
	}).Upload(context.Background(), request(path, sum, 2*mib))
	require.NoError(t, err, "the retry's 409 must be recognised as the earlier attempt's success")
	requireOnlyComplete(t, fake, sum, 2*mib)
	assert.Equal(t, "3", res.APIVersion)
}

// On an HA MAAS, a lost API 3 answer leaves the file on one region of
// three, incomplete: the retry's 409 is still recognised as its success,
// and nothing goes through API 2.0 into the shared stored file.
func TestUploadAPIv3LostAnswerOnHA(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	fake.Regions, fake.SyncReads = 3, 1000
	fake.SetFaults(fakemaas.Faults{LoseAnswerEvery: 1})
	path, sum := writeImage(t, 2*mib, 14)
	req := request(path, sum, 2*mib)
	var progressed int64
	req.Progress = func(n int64) { progressed += n }
	res, err := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
	}).Upload(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "3", res.APIVersion)
	assert.Zero(t, fake.Stats().Creates)
	assert.Zero(t, fake.Stats().Puts)
	files := fake.Files()
	require.Len(t, files, 1)
	assert.Equal(t, int64(2*mib), files[0].Stored)
	assert.Equal(t, int64(2*mib), progressed)
}

// API 3 refuses (409) a name and architecture it has uploaded before, even
// with new content; API 2.0 adds the new content as a version of that
// resource, as a rebuild of the same image needs.
func TestUploadAPIv3NewContentForTheSameNameGoesThroughAPIv2(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	var logged []string
	client := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
		o.Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	})
	first, firstSum := writeImage(t, mib, 20)
	res1, err := client.Upload(context.Background(), request(first, firstSum, mib))
	require.NoError(t, err)
	require.Equal(t, "3", res1.APIVersion)

	second, secondSum := writeImage(t, 2*mib, 21)
	res2, err := client.Upload(context.Background(), request(second, secondSum, 2*mib))
	require.NoError(t, err)
	assert.Equal(t, "2.0", res2.APIVersion)
	assert.Equal(t, res1.Resource.ID, res2.Resource.ID, "a new version of the same resource")
	assert.NotEmpty(t, res2.Version)
	assert.Equal(t, 1, fake.Stats().V3Uploads)
	f := requireOnlyComplete(t, fake, secondSum, 2*mib)
	assert.Equal(t, res2.Version, f.Version)
	assert.Contains(t, strings.Join(logged, "\n"), "from an API 3 upload, which cannot take a new version")
}

func TestUploadAPIv3WrongPassword(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	path, sum := writeImage(t, mib, 15)
	_, err := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, "wrong"
	}).Upload(context.Background(), request(path, sum, mib))
	require.ErrorContains(t, err, "MAAS refused the credentials")
	assert.Empty(t, fake.Files())
}

func TestUploadFallsBackWithoutAPIv3(t *testing.T) {
	fake := startFake(t) // V3 off: /MAAS/a/v3 answers 404
	path, sum := writeImage(t, 2*mib, 16)
	res, err := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
	}).Upload(context.Background(), request(path, sum, 2*mib))
	require.NoError(t, err)
	assert.Equal(t, "2.0", res.APIVersion)
	requireOnlyComplete(t, fake, sum, 2*mib)
}

// On an HA MAAS, WaitComplete waits until every region holds the file
// and says how many do meanwhile.
func TestWaitComplete(t *testing.T) {
	fake := startFake(t)
	fake.Regions, fake.SyncReads = 3, 3
	path, sum := writeImage(t, mib, 17)
	client := newClient(t, fake, nil)
	res, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)

	var seen []string
	done, version, err := client.WaitComplete(context.Background(), res.Resource.ID, sum, func(s maas.WaitStatus) {
		seen = append(seen, s.String())
	})
	require.NoError(t, err)
	assert.Equal(t, res.Version, version)
	assert.True(t, done.Sets[version].Complete)
	assert.Equal(t, []string{"1 of 3 regions hold it (33.3%)", "3 of 3 regions hold it (100.0%)"}, seen)
	assert.Equal(t, 3, fake.Files()[0].RegionsHolding)
}

// API 3 answers with the boot resource's id only (no sets); API 2.0 reads
// the same resource by that id, so waiting works after either upload.
func TestWaitCompleteAfterAPIv3(t *testing.T) {
	fake := startFake(t)
	fake.V3 = true
	fake.Regions, fake.SyncReads = 3, 3
	path, sum := writeImage(t, mib, 16)
	client := newClient(t, fake, func(o *maas.Options) {
		o.Username, o.Password = fakemaas.Username, fakemaas.Password
	})
	res, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)
	require.Equal(t, "3", res.APIVersion)
	assert.Empty(t, res.Version, "API 3 does not say which version it made")

	done, version, err := client.WaitComplete(context.Background(), res.Resource.ID, sum, nil)
	require.NoError(t, err)
	f := requireOnlyComplete(t, fake, sum, mib)
	assert.Equal(t, f.ResourceID, done.ID)
	assert.NotEmpty(t, version)
	assert.True(t, done.Sets[version].Complete)
}

func TestWaitCompleteHonoursContext(t *testing.T) {
	fake := startFake(t)
	fake.Regions, fake.SyncReads = 2, 1<<30
	path, sum := writeImage(t, mib, 18)
	client := newClient(t, fake, nil)
	res, err := client.Upload(context.Background(), request(path, sum, mib))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = client.WaitComplete(ctx, res.Resource.ID, sum, nil)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	assert.True(t, strings.Contains(err.Error(), "to become complete"), "got %v", err)
}

func TestUploadCancelledDuringCreateLeavesNothing(t *testing.T) {
	fake := startFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake.OnCreate = cancel // MAAS stored the resource; the answer never arrives
	path, sum := writeImage(t, mib, 19)
	_, err := newClient(t, fake, nil).Upload(ctx, request(path, sum, mib))
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, fake.Files(), "the resource created without an answer must be found and deleted")
	assert.Equal(t, 1, fake.Stats().Deletes)
}

// TestEveryFiletypeIsOneTheFakeAccepts: the client's list of MAAS
// filetypes and the fake's (written apart, from MAAS's own) agree, and
// an unknown one is refused before anything is sent.
func TestEveryFiletypeIsOneTheFakeAccepts(t *testing.T) {
	fake := startFake(t)
	client := newClient(t, fake, nil)
	for i, ft := range maas.Filetypes {
		path, sum := writeImage(t, 4096, uint64(100+i)) // MAAS stores one file per content
		req := request(path, sum, 4096)
		req.Name, req.Filetype = fmt.Sprintf("custom/filetype-%d", i), ft
		_, err := client.Upload(context.Background(), req)
		require.NoError(t, err, "filetype %s", ft)
	}
	path, sum := writeImage(t, 4096, 99)
	req := request(path, sum, 4096)
	req.Name, req.Filetype = "custom/zip", "zip"
	_, err := client.Upload(context.Background(), req)
	require.ErrorIs(t, err, maas.ErrFiletype)
	assert.ErrorContains(t, err, `filetype "zip" is not a MAAS filetype; want one of tgz, tbz`)
}
