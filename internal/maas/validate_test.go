package maas

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidators(t *testing.T) {
	cases := []struct {
		what    string
		err     error
		wantErr string // empty: valid
	}{
		{"plain name", ValidateName("my-image"), ""},
		{"custom name", ValidateName("custom/noble-web_2.1"), ""},
		{"rhel name", ValidateName("rhel/9-hardened"), ""},
		{"empty name", ValidateName(""), "image_name is required"},
		{"unknown os", ValidateName("debian/12"), `unknown operating system "debian"`},
		{"os name reserved", ValidateName("ubuntu"), "is reserved"},
		{"codename reserved", ValidateName("custom/noble"), "is reserved"},
		{"centosNN reserved", ValidateName("centos70"), "is reserved"},
		{"nested slash", ValidateName("custom/a/b"), "must start with a letter or digit"},
		{"space in name", ValidateName("custom/my image"), "must start with a letter or digit"},

		{"amd64", ValidateArchitecture("amd64/generic"), ""},
		{"arm64 hwe", ValidateArchitecture("arm64/hwe-24.04"), ""},
		{"bare arch", ValidateArchitecture("amd64"), ""},
		{"bare unknown", ValidateArchitecture("x86_64"), `unknown architecture "x86_64"`},
		{"empty subarch", ValidateArchitecture("amd64/"), "ARCH/SUBARCH"},
		{"x86_64", ValidateArchitecture("x86_64/generic"), `unknown architecture "x86_64"`},

		{"tgz", ValidateFiletype("tgz"), ""},
		{"ddgz", ValidateFiletype("ddgz"), ""},
		{"qcow2", ValidateFiletype("qcow2"), "not a MAAS filetype"},

		{"ubuntu codename", ValidateBaseImage("ubuntu/noble"), ""},
		{"rhel 9", ValidateBaseImage("rhel/9"), ""},
		{"ubuntu version", ValidateBaseImage("ubuntu/24.04"), "must be a codename"},
		{"windows base", ValidateBaseImage("windows/2022"), "cannot be a base image"},
		{"no series", ValidateBaseImage("ubuntu"), "OS/SERIES"},

		{"key", ValidateAPIKey("a:b:c"), ""},
		{"two parts", ValidateAPIKey("a:b"), "CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET"},
		{"empty part", ValidateAPIKey("a::c"), "three non-empty parts"},

		{"url", ValidateURL("http://maas.example:5240/MAAS"), ""},
		{"https url", ValidateURL("https://maas.example/MAAS/"), ""},
		{"api in url", ValidateURL("http://maas.example:5240/MAAS/api/2.0/"), "without the API path"},
		{"no scheme", ValidateURL("maas.example:5240/MAAS"), "http:// or https://"},
		{"query", ValidateURL("http://maas.example/MAAS?x=1"), "query or fragment"},

		{"4 MiB chunk", ValidateChunkSize(4 << 20), ""},
		{"9 MiB chunk", ValidateChunkSize(9 << 20), "between 65536"},
		{"tiny chunk", ValidateChunkSize(100), "between 65536"},

		{"sha", ValidateSHA256("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), ""},
		{"upper sha", ValidateSHA256("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"), "lowercase hex"},
	}
	for _, tc := range cases {
		t.Run(tc.what, func(t *testing.T) {
			if tc.wantErr == "" {
				assert.NoError(t, tc.err)
			} else {
				assert.ErrorContains(t, tc.err, tc.wantErr)
			}
		})
	}
}

func TestAPIKeyErrorNeverShowsKey(t *testing.T) {
	err := ValidateAPIKey("consumer:token:secret-value:extra")
	assert.NotContains(t, err.Error(), "secret-value")
}

func TestFileBySHA256PicksNewestVersion(t *testing.T) {
	file := func(sum string, complete bool) map[string]ResourceFile {
		return map[string]ResourceFile{"root.tgz": {SHA256: sum, Complete: complete}}
	}
	res := Resource{Sets: map[string]ResourceSet{
		"20260102.9":  {Files: file("aa", true)},
		"20260102.10": {Files: file("aa", false)},
		"20260101":    {Files: file("aa", true)},
		"20260103":    {Files: file("bb", true)},
	}}
	version, f, ok := res.FileBySHA256("aa")
	assert.True(t, ok)
	assert.Equal(t, "20260102.10", version, ".10 is newer than .9")
	assert.False(t, f.Complete)
	_, _, ok = res.FileBySHA256("cc")
	assert.False(t, ok)
}

func TestOffsetFromProgress(t *testing.T) {
	size := int64(6_442_450_944 + 12345) // a 6 GiB image
	for _, got := range []int64{0, 1, 4 << 20, size / 3, size - 1} {
		f := ResourceFile{Size: size, Progress: 100 * float64(got) / float64(size)}
		assert.Equal(t, got, f.Offset(), "offset %d", got)
	}
	assert.Equal(t, size, ResourceFile{Size: size, Complete: true}.Offset())
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	b := Backoff{Initial: 1, Max: 5}
	assert.Equal(t, []int64{1, 2, 4, 5, 5}, []int64{
		int64(b.delay(1)), int64(b.delay(2)), int64(b.delay(3)), int64(b.delay(4)), int64(b.delay(40)),
	})
}

func TestOffsetIsClampedToTheFile(t *testing.T) {
	assert.Equal(t, int64(0), ResourceFile{Size: 10, Progress: -5}.Offset())
	assert.Equal(t, int64(10), ResourceFile{Size: 10, Progress: 250}.Offset())
}
