package qemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Firmware kinds.
const (
	FirmwareUEFI = "uefi"
	FirmwareBIOS = "bios"
)

// Firmware is what the guest boots with. For UEFI, Code is the read-only
// firmware image and VarsTemplate the pristine variable store that each VM
// gets its own copy of (CopyVars). BIOS needs no files (QEMU's SeaBIOS).
type Firmware struct {
	Kind         string
	Code         string
	VarsTemplate string
}

// firmwarePair is one place a distribution puts a matching code + vars pair.
type firmwarePair struct{ code, vars string }

// uefiPairs lists, per guest architecture and in order of preference, where
// distributions install UEFI firmware for QEMU. The Secure Boot (.ms) builds
// come last: their code needs SMM, which the command line does not enable.
var uefiPairs = map[string][]firmwarePair{
	"amd64": {
		{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"}, // Debian 12, Ubuntu
		{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},       // older Debian/Ubuntu (2M)
		{"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},
		{"/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd"},
		{"/usr/share/qemu/ovmf-x86_64-code.bin", "/usr/share/qemu/ovmf-x86_64-vars.bin"},
		{"/usr/share/qemu/edk2-x86_64-code.fd", "/usr/share/qemu/edk2-i386-vars.fd"},
		{"/opt/homebrew/share/qemu/edk2-x86_64-code.fd", "/opt/homebrew/share/qemu/edk2-i386-vars.fd"},
		{"/usr/local/share/qemu/edk2-x86_64-code.fd", "/usr/local/share/qemu/edk2-i386-vars.fd"},
		{"/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"},
		{"/usr/share/OVMF/OVMF_CODE.ms.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd"},
	},
	"arm64": {
		{"/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd"}, // Debian, Ubuntu
		{"/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw", "/usr/share/edk2/aarch64/vars-template-pflash.raw"},
		{"/usr/share/qemu/aavmf-aarch64-code.bin", "/usr/share/qemu/aavmf-aarch64-vars.bin"},
		{"/usr/share/qemu/edk2-aarch64-code.fd", "/usr/share/qemu/edk2-arm-vars.fd"},
		{"/opt/homebrew/share/qemu/edk2-aarch64-code.fd", "/opt/homebrew/share/qemu/edk2-arm-vars.fd"},
		{"/usr/local/share/qemu/edk2-aarch64-code.fd", "/usr/local/share/qemu/edk2-arm-vars.fd"},
	},
}

// FindFirmware finds the firmware for a guest of the given architecture.
// firmware is "uefi" (or empty) or "bios". codeOverride and varsOverride,
// when set, replace the found files (both must exist); with only one set the
// other comes from the search.
func FindFirmware(arch, firmware, codeOverride, varsOverride string) (Firmware, error) {
	return FindFirmwareUnder("/", arch, firmware, codeOverride, varsOverride)
}

// FindFirmwareUnder is FindFirmware with the well-known paths looked up
// under root (the overrides are taken as they are): a system root mounted
// elsewhere, or a test's fake distribution.
func FindFirmwareUnder(root, arch, firmware, codeOverride, varsOverride string) (Firmware, error) {
	spec, err := guestSpec(arch)
	if err != nil {
		return Firmware{}, err
	}
	switch firmware {
	case FirmwareBIOS:
		if arch != "amd64" {
			return Firmware{}, fmt.Errorf("firmware \"bios\" exists only for amd64 guests, not %s: use firmware = \"uefi\"", arch)
		}
		if codeOverride != "" || varsOverride != "" {
			return Firmware{}, errors.New("firmware_code and firmware_vars apply to UEFI only, but firmware = \"bios\"")
		}
		return Firmware{Kind: FirmwareBIOS}, nil
	case "", FirmwareUEFI:
	default:
		return Firmware{}, fmt.Errorf("unknown firmware %q: want uefi or bios", firmware)
	}

	fw := Firmware{Kind: FirmwareUEFI, Code: codeOverride, VarsTemplate: varsOverride}
	for _, p := range []struct{ setting, path string }{{"firmware_code", codeOverride}, {"firmware_vars", varsOverride}} {
		if p.path == "" {
			continue
		}
		if err := checkRegularFile(p.path); err != nil {
			return Firmware{}, fmt.Errorf("%s: %w", p.setting, err)
		}
	}
	if fw.Code != "" && fw.VarsTemplate != "" {
		return fw, nil
	}

	var tried []string
	for _, pair := range uefiPairs[arch] {
		code, vars := filepath.Join(root, pair.code), filepath.Join(root, pair.vars)
		if checkRegularFile(code) == nil && checkRegularFile(vars) == nil {
			if fw.Code == "" {
				fw.Code = code
			}
			if fw.VarsTemplate == "" {
				fw.VarsTemplate = vars
			}
			return fw, nil
		}
		tried = append(tried, pair.code+" + "+pair.vars)
	}
	return Firmware{}, fmt.Errorf("no UEFI firmware for %s guests found; tried:\n  %s\ninstall the Debian/Ubuntu package %s (Fedora: edk2-ovmf / edk2-aarch64), or set firmware_code and firmware_vars",
		arch, strings.Join(tried, "\n  "), spec.firmwarePackage)
}

func checkRegularFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// CopyVars writes a fresh copy of the UEFI variable store to dst, for one VM
// to write to: the template is shared and must stay pristine.
func (f Firmware) CopyVars(dst string) error {
	if f.Kind != FirmwareUEFI {
		return fmt.Errorf("firmware %q has no UEFI variable store", f.Kind)
	}
	src, err := os.Open(f.VarsTemplate)
	if err != nil {
		return fmt.Errorf("UEFI vars template: %w", err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("UEFI vars copy: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("copying UEFI vars %s to %s: %w", f.VarsTemplate, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("UEFI vars copy %s: %w", dst, err)
	}
	return nil
}
