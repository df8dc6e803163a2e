package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// BenchmarkRootfsVsPackerMaas times a whole `packer build` of the test
// cloud image with a trivial provisioner under TCG: maas-rootfs against a
// packer-maas-style template on the stock qemu builder, whose export is
// packer-maas's root-only chain. Target: wall-ratio <= 0.6.
func BenchmarkRootfsVsPackerMaas(b *testing.B) {
	checkBaselineTools(b)
	image, sum := testimage.Path(b), testimage.SHA256(b)
	for i := 0; i < b.N; i++ {
		ours := runRootfsBuild(b, image, sum)
		base := runPackerMaasBuild(b, image, sum)
		b.ReportMetric(ours.wall.Seconds()/base.wall.Seconds(), "wall-ratio")
		b.ReportMetric(ours.wall.Seconds(), "rootfs-s")
		b.ReportMetric(base.wall.Seconds(), "packer-maas-s")
		for _, p := range ours.phases {
			b.ReportMetric(p.d.Seconds(), "rootfs-"+metricName(p.name)+"-s")
		}
		for _, p := range base.phases {
			b.ReportMetric(p.d.Seconds(), "packer-maas-"+metricName(p.name)+"-s")
		}
		b.Logf("maas-rootfs %s (ours: %s)\npacker-maas %s (qemu builder + chain: %s)",
			ours.wall.Round(time.Second), ours, base.wall.Round(time.Second), base)
	}
}

// phase is one named part of a build's wall time.
type phase struct {
	name string
	d    time.Duration
}

type buildTiming struct {
	wall   time.Duration
	phases []phase
}

func (t buildTiming) String() string {
	parts := make([]string, len(t.phases))
	for i, p := range t.phases {
		parts[i] = fmt.Sprintf("%s %s", p.name, p.d.Round(time.Second))
	}
	return strings.Join(parts, ", ")
}

func metricName(phase string) string { return strings.ReplaceAll(phase, " ", "-") }

func checkBaselineTools(b *testing.B) {
	// What the packer-maas baseline runs: its VM, seed ISO and export chain.
	testtool.Require(b, "qemu-system-x86_64", "genisoimage", "qemu-nbd", "nbdkit", "nbdfuse", "fuse2fs", "pigz")
	if os.Geteuid() != 0 {
		b.Fatal("the packer-maas baseline's export chain needs root (fuse2fs must read every file)")
	}
}

// runRootfsBuild builds with maas-rootfs and takes the phases from the
// builder's own summary.
func runRootfsBuild(b *testing.B, image, sum string) buildTiming {
	env := packertest.New(b, "testdata/rootfs-bench.pkr.hcl")
	env.MustRun("init", ".")
	start := time.Now()
	res := env.MustRun("build", "-var", "image="+image, "-var", "checksum=sha256:"+sum, ".")
	timing := buildTiming{wall: time.Since(start)}
	summary := regexp.MustCompile(`(?s)Time spent:.*?total[^\n]*`).FindString(res.Output)
	row := regexp.MustCompile(`(?m)\s(download|boot to SSH|cloud-init|provisioning|generalize|shutdown|export)\s+(\S+)\s*$`)
	for _, m := range row.FindAllStringSubmatch(summary, -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			b.Fatalf("phase %q in the builder's summary: %v\n%s", m[1], err, summary)
		}
		timing.phases = append(timing.phases, phase{m[1], d})
	}
	if len(timing.phases) != 7 {
		b.Fatalf("the builder's summary must list 7 phases, found %d:\n%s", len(timing.phases), res.Output)
	}
	assertImageExists(b, filepath.Join(env.Dir, "output", "debian.tar.gz"))
	return timing
}

// baselinePhases are the baseline's phases and the line of the qemu
// builder or Packer core that starts each; the build's end closes the last.
var baselinePhases = []struct{ name, startsAt string }{
	{"prepare", ""}, // copying the image, the seed ISO
	{"boot to SSH", "Starting VM, booting disk image"},
	{"provisioning", "Connected to SSH!"}, // includes waiting for cloud-init
	{"shutdown", "Gracefully halting virtual machine"},
	{"export", "Running post-processor"},
}

// runPackerMaasBuild builds with the packer-maas-style template and takes
// the phases from Packer's timestamped output.
func runPackerMaasBuild(b *testing.B, image, sum string) buildTiming {
	env := packertest.New(b, "testdata/stock-qemu-debian.pkr.hcl", "testdata/rootfs-bench-packer-maas.pkr.hcl")
	env.WriteFile("seed/user-data", `#cloud-config
ssh_pwauth: true
users:
  - name: builder
    lock_passwd: false
    plain_text_passwd: builder
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
`)
	env.WriteFile("seed/meta-data", fmt.Sprintf("instance-id: bench-%d\nlocal-hostname: bench\n", time.Now().UnixNano()))
	chain := filepath.Join(packertest.ModuleRoot(b), "scripts", "bench-packer-maas-chain.sh")
	env.ExtraEnv = []string{"PKR_VAR_image=" + image, "PKR_VAR_image_sha256=" + sum, "PKR_VAR_export_chain=" + chain,
		"PKR_VAR_ssh_password=builder"}
	start := time.Now()
	res := env.MustRun("build", "-timestamp-ui", ".")
	end := time.Now()
	assertImageExists(b, filepath.Join(env.Dir, "image.tar.gz"))

	timing := buildTiming{wall: end.Sub(start)}
	begin := start
	for i, p := range baselinePhases {
		finish := end
		if i+1 < len(baselinePhases) {
			finish = stampOf(b, res.Output, baselinePhases[i+1].startsAt)
		}
		timing.phases = append(timing.phases, phase{p.name, finish.Sub(begin)})
		begin = finish
	}
	return timing
}

var rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)`)

// stampOf is the -timestamp-ui time of the first output line holding mark.
func stampOf(b *testing.B, output, mark string) time.Time {
	for _, line := range strings.Split(output, "\n") {
		if !strings.Contains(line, mark) {
			continue
		}
		t, err := time.Parse(time.RFC3339, rfc3339.FindString(line))
		if err != nil {
			b.Fatalf("no timestamp on %q: %v", line, err)
		}
		return t
	}
	b.Fatalf("packer's output has no line with %q:\n%s", mark, output)
	return time.Time{}
}

func assertImageExists(b *testing.B, path string) {
	info, err := os.Stat(path)
	if err != nil || info.Size() == 0 {
		b.Fatalf("the build must write %s: %v", path, err)
	}
}
