package qemu

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Accel is a QEMU accelerator name as given to -accel.
type Accel string

// Accelerators QEMU offers on the hosts this package supports.
const (
	AccelKVM Accel = "kvm"
	AccelTCG Accel = "tcg"
	AccelHVF Accel = "hvf"
)

// HostFacts is what the accelerator choice depends on. DetectHost reads them
// from the running machine; tests inject their own.
type HostFacts struct {
	OS   string // runtime.GOOS
	Arch string // host architecture in GOARCH terms: amd64, arm64
	// KVMErr is nil when /dev/kvm opened read-write and answered a cheap
	// probe, else why not.
	KVMErr error
	// CPUFlags are the host CPU's flags from /proc/cpuinfo (x86 only).
	CPUFlags map[string]bool
}

// DetectHost reads the facts about this machine.
func DetectHost() HostFacts {
	facts := HostFacts{OS: runtime.GOOS, Arch: runtime.GOARCH, KVMErr: probeKVM()}
	if cpuinfo, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		facts.CPUFlags = parseCPUFlags(string(cpuinfo))
	}
	return facts
}

// parseCPUFlags returns the flags of the first CPU listed in /proc/cpuinfo.
func parseCPUFlags(cpuinfo string) map[string]bool {
	flags := map[string]bool{}
	for _, line := range strings.Split(cpuinfo, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		for _, f := range strings.Fields(value) {
			flags[f] = true
		}
		break
	}
	return flags
}

// ChooseAccelerator picks the accelerator for a guest of the given
// architecture (amd64 or arm64) on this machine. want is "auto" (or empty),
// "kvm", "tcg" or "hvf". The reason says why, in words fit for the user.
func ChooseAccelerator(want, arch string) (Accel, string, error) {
	return DetectHost().Choose(want, arch)
}

// Choose is ChooseAccelerator on the given facts.
func (h HostFacts) Choose(want, arch string) (Accel, string, error) {
	if _, err := guestSpec(arch); err != nil {
		return "", "", err
	}
	switch want {
	case "", "auto":
		return h.auto(arch)
	case string(AccelTCG):
		return AccelTCG, "accelerator = \"tcg\" was asked for (software emulation, about 10x slower than KVM)", nil
	case string(AccelKVM):
		if why := h.kvmUnusable(arch); why != "" {
			return "", "", fmt.Errorf("accelerator \"kvm\" is not usable on this host: %s; use accelerator = \"tcg\" (or \"auto\")", why)
		}
		return AccelKVM, "accelerator = \"kvm\" was asked for and KVM works here", nil
	case string(AccelHVF):
		if why := h.hvfUnusable(arch); why != "" {
			return "", "", fmt.Errorf("accelerator \"hvf\" is not usable on this host: %s; use accelerator = \"tcg\" (or \"auto\")", why)
		}
		return AccelHVF, "accelerator = \"hvf\" was asked for", nil
	default:
		return "", "", fmt.Errorf("unknown accelerator %q: want auto, kvm, tcg or hvf", want)
	}
}

func (h HostFacts) auto(arch string) (Accel, string, error) {
	if h.OS == "darwin" {
		if why := h.hvfUnusable(arch); why != "" {
			return AccelTCG, "auto: HVF unusable (" + why + "), using TCG software emulation (about 10x slower)", nil
		}
		return AccelHVF, "auto: using HVF (host and guest are both " + arch + ")", nil
	}
	if why := h.kvmUnusable(arch); why != "" {
		return AccelTCG, "auto: KVM unusable (" + why + "), using TCG software emulation (about 10x slower)", nil
	}
	return AccelKVM, "auto: using KVM (/dev/kvm works and host and guest are both " + arch + ")", nil
}

// kvmUnusable says why KVM cannot run this guest here, or "" when it can.
func (h HostFacts) kvmUnusable(arch string) string {
	switch {
	case h.OS != "linux":
		return "KVM exists only on Linux (this host runs " + h.OS + ")"
	case h.Arch != arch:
		return "the host is " + h.Arch + " but the guest is " + arch
	case h.KVMErr != nil:
		return h.KVMErr.Error()
	case h.Arch == "amd64" && !h.CPUFlags["vmx"] && !h.CPUFlags["svm"]:
		return "/proc/cpuinfo lacks the vmx and svm flags (a VM without nested virtualization?)"
	}
	return ""
}

// hvfUnusable says why HVF cannot run this guest here, or "" when it can.
func (h HostFacts) hvfUnusable(arch string) string {
	switch {
	case h.OS != "darwin":
		return "HVF exists only on macOS (this host runs " + h.OS + ")"
	case h.Arch != arch:
		return "the host is " + h.Arch + " but the guest is " + arch
	}
	return ""
}
