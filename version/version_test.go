package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// releaseVersion runs scripts/release-version.sh, goreleaser's before hook,
// on a checkout holding versionGo and changelog.
func releaseVersion(t *testing.T, versionGo, changelog string, args ...string) (string, error) {
	t.Helper()
	testtool.Require(t, "bash")
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "version"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "version", "version.go"), []byte(versionGo), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "CHANGELOG.md"), []byte(changelog), 0o644))
	cmd := exec.Command("../scripts/release-version.sh", args...)
	cmd.Env = append(os.Environ(), "RELEASE_ROOT="+root)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestReleaseScriptReadsThisVersion(t *testing.T) {
	versionGo, err := os.ReadFile("version.go")
	require.NoError(t, err)
	got, err := releaseVersion(t, string(versionGo), "")
	require.NoError(t, err, got)
	assert.Equal(t, Version, got, "release and snapshot names come from this")
}

func TestReleaseTagMustMatchVersionAndChangelog(t *testing.T) {
	const versionGo = "package version\n\nvar (\n\tVersion = \"1.2.0\"\n)\n"
	const dated = "# Changelog\n\n## 1.2.0 (2026-12-01)\n\n## 1.1.0 (2026-10-01)\n"

	got, err := releaseVersion(t, versionGo, dated, "v1.2.0")
	require.NoError(t, err, got)
	assert.Equal(t, "1.2.0", got)

	for name, tc := range map[string]struct{ tag, changelog, says string }{
		"tag ahead of version.go":  {"v1.3.0", dated, `tag v1.3.0 does not match version/version.go (Version = "1.2.0")`},
		"tag without v":            {"1.2.0", dated, "does not match"},
		"no section":               {"v1.2.0", "# Changelog\n\n## 1.1.0 (2026-10-01)\n", `no "## 1.2.0" section`},
		"section of a longer one":  {"v1.2.0", "## 1.2.0.1 (2026-12-01)\n## 1.2.01\n", `no "## 1.2.0" section`},
		"section still unreleased": {"v1.2.0", "## 1.2.0 (unreleased)\n", "give 1.2.0 its release date"},
	} {
		got, err := releaseVersion(t, versionGo, tc.changelog, tc.tag)
		assert.Error(t, err, name)
		assert.Contains(t, got, tc.says, name)
	}

	got, err = releaseVersion(t, "package version\n", dated)
	assert.Error(t, err)
	assert.Contains(t, got, `no Version = "X.Y.Z" line`)
}
