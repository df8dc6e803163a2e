package qemu

import (
	"errors"
	"strings"
	"testing"
)

func TestChooseAccelerator(t *testing.T) {
	workingKVM := HostFacts{OS: "linux", Arch: "amd64", CPUFlags: map[string]bool{"vmx": true}}
	nested := HostFacts{OS: "linux", Arch: "amd64", CPUFlags: map[string]bool{"sse2": true}}
	noDevice := HostFacts{OS: "linux", Arch: "amd64", CPUFlags: map[string]bool{"svm": true},
		KVMErr: errors.New("cannot open /dev/kvm read-write: permission denied")}
	armKVM := HostFacts{OS: "linux", Arch: "arm64"}
	mac := HostFacts{OS: "darwin", Arch: "arm64"}

	tests := []struct {
		name       string
		facts      HostFacts
		want, arch string
		accel      Accel
		reasonHas  string
		errHas     string
	}{
		{"auto picks KVM when it works", workingKVM, "auto", "amd64", AccelKVM, "using KVM", ""},
		{"empty means auto", workingKVM, "", "amd64", AccelKVM, "using KVM", ""},
		{"auto: no vmx/svm flag means TCG", nested, "auto", "amd64", AccelTCG, "lacks the vmx and svm flags", ""},
		{"auto: unusable /dev/kvm means TCG", noDevice, "auto", "amd64", AccelTCG, "permission denied", ""},
		{"auto: foreign guest means TCG", workingKVM, "auto", "arm64", AccelTCG, "host is amd64 but the guest is arm64", ""},
		{"auto on arm64 needs no x86 flags", armKVM, "auto", "arm64", AccelKVM, "using KVM", ""},
		{"auto on macOS picks HVF", mac, "auto", "arm64", AccelHVF, "HVF", ""},
		{"auto on macOS, foreign guest", mac, "auto", "amd64", AccelTCG, "TCG", ""},
		{"tcg always works", nested, "tcg", "amd64", AccelTCG, "about 10x slower", ""},
		{"kvm when it works", workingKVM, "kvm", "amd64", AccelKVM, "KVM works", ""},
		{"kvm refused without flags", nested, "kvm", "amd64", "", "", `nested virtualization?); use accelerator = "tcg"`},
		{"kvm refused without device", noDevice, "kvm", "amd64", "", "", "permission denied"},
		{"kvm refused on macOS", mac, "kvm", "arm64", "", "", "only on Linux"},
		{"hvf refused on Linux", workingKVM, "hvf", "amd64", "", "", "only on macOS"},
		{"unknown accelerator", workingKVM, "xen", "amd64", "", "", `unknown accelerator "xen"`},
		{"unknown architecture", workingKVM, "auto", "riscv64", "", "", `unsupported architecture "riscv64"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accel, reason, err := tt.facts.Choose(tt.want, tt.arch)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error = %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if accel != tt.accel {
				t.Errorf("accelerator = %q, want %q", accel, tt.accel)
			}
			if !strings.Contains(reason, tt.reasonHas) {
				t.Errorf("reason %q does not contain %q", reason, tt.reasonHas)
			}
		})
	}
}

func TestParseCPUFlags(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse2 vmx\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\nflags\t\t: fpu svm\n"
	flags := parseCPUFlags(cpuinfo)
	if !flags["vmx"] || !flags["sse2"] {
		t.Errorf("flags %v lack vmx or sse2", flags)
	}
	if flags["svm"] || flags["spectre_v1"] {
		t.Errorf("flags %v hold flags of another CPU or another line", flags)
	}
}

// On the machines this project is tested on, KVM does not work (nested,
// no vmx/svm): auto must pick TCG there and say why.
func TestChooseAcceleratorOnThisHost(t *testing.T) {
	facts := DetectHost()
	accel, reason, err := facts.Choose("auto", facts.Arch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this host: %s (%s)", accel, reason)
	if facts.OS == "linux" && facts.Arch == "amd64" && !facts.CPUFlags["vmx"] && !facts.CPUFlags["svm"] {
		if accel != AccelTCG || !strings.Contains(reason, "vmx") && !strings.Contains(reason, "/dev/kvm") {
			t.Errorf("without vmx/svm, auto chose %s because %q; want TCG with the reason", accel, reason)
		}
	}
}
