package qemu

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot lays out files (relative to a new root) holding their own names.
func fakeRoot(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindFirmware(t *testing.T) {
	debian := []string{
		"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd",
		"usr/share/OVMF/OVMF_CODE_4M.ms.fd", "usr/share/OVMF/OVMF_VARS_4M.ms.fd",
	}
	tests := []struct {
		name             string
		files            []string
		arch, kind       string
		wantCode, wantVa string
	}{
		{"Debian 4M first", debian, "amd64", "uefi", "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
		{"empty kind means UEFI", debian, "amd64", "", "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
		{"old 2M names", []string{"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd"}, "amd64", "uefi",
			"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
		{"Secure Boot builds only as a last resort", debian[2:], "amd64", "uefi",
			"/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"},
		{"Fedora", []string{"usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/ovmf/OVMF_VARS.fd"}, "amd64", "uefi",
			"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},
		{"AAVMF for arm64", append([]string{"usr/share/AAVMF/AAVMF_CODE.fd", "usr/share/AAVMF/AAVMF_VARS.fd"}, debian...), "arm64", "uefi",
			"/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd"},
		{"code without vars is skipped", []string{"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd"},
			"amd64", "uefi", "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRoot(t, tt.files...)
			fw, err := FindFirmwareUnder(root, tt.arch, tt.kind, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if fw.Kind != FirmwareUEFI || fw.Code != filepath.Join(root, tt.wantCode) || fw.VarsTemplate != filepath.Join(root, tt.wantVa) {
				t.Errorf("got %+v, want UEFI %s + %s under %s", fw, tt.wantCode, tt.wantVa, root)
			}
		})
	}
}

func TestFindFirmwareMissing(t *testing.T) {
	for arch, pkg := range map[string]string{"amd64": "ovmf", "arm64": "qemu-efi-aarch64"} {
		_, err := FindFirmwareUnder(t.TempDir(), arch, "uefi", "", "")
		if err == nil {
			t.Fatalf("%s: found firmware in an empty root", arch)
		}
		for _, want := range []string{"package " + pkg, uefiPairs[arch][0].code, uefiPairs[arch][len(uefiPairs[arch])-1].vars, "firmware_code"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %q", arch, err, want)
			}
		}
	}
}

func TestFindFirmwareOverrides(t *testing.T) {
	root := fakeRoot(t, "custom/CODE.fd", "custom/VARS.fd", "usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd")
	code, vars := filepath.Join(root, "custom/CODE.fd"), filepath.Join(root, "custom/VARS.fd")

	fw, err := FindFirmwareUnder(t.TempDir(), "amd64", "uefi", code, vars)
	if err != nil || fw.Code != code || fw.VarsTemplate != vars {
		t.Errorf("both overrides: got %+v, %v", fw, err)
	}
	fw, err = FindFirmwareUnder(root, "amd64", "uefi", code, "")
	if err != nil || fw.Code != code || fw.VarsTemplate != filepath.Join(root, "usr/share/OVMF/OVMF_VARS_4M.fd") {
		t.Errorf("code override only: got %+v, %v", fw, err)
	}
	_, err = FindFirmwareUnder(root, "amd64", "uefi", filepath.Join(root, "missing.fd"), vars)
	if err == nil || !strings.Contains(err.Error(), "firmware_code") || !strings.Contains(err.Error(), "missing.fd") {
		t.Errorf("missing code override: error %v should name firmware_code and the path", err)
	}
	_, err = FindFirmwareUnder(root, "amd64", "uefi", code, root)
	if err == nil || !strings.Contains(err.Error(), "firmware_vars") || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as vars override: error %v should name firmware_vars", err)
	}
}

func TestFindFirmwareBIOS(t *testing.T) {
	fw, err := FindFirmwareUnder(t.TempDir(), "amd64", "bios", "", "")
	if err != nil || fw != (Firmware{Kind: FirmwareBIOS}) {
		t.Errorf("amd64 BIOS: got %+v, %v", fw, err)
	}
	if _, err := FindFirmwareUnder(t.TempDir(), "arm64", "bios", "", ""); err == nil || !strings.Contains(err.Error(), `use firmware = "uefi"`) {
		t.Errorf("arm64 BIOS: error %v, want a refusal", err)
	}
	if _, err := FindFirmwareUnder(t.TempDir(), "amd64", "bios", "/x", ""); err == nil || !strings.Contains(err.Error(), "UEFI only") {
		t.Errorf("BIOS with overrides: error %v, want a refusal", err)
	}
	if _, err := FindFirmwareUnder(t.TempDir(), "amd64", "coreboot", "", ""); err == nil || !strings.Contains(err.Error(), `unknown firmware "coreboot"`) {
		t.Errorf("unknown kind: error %v", err)
	}
}

func TestCopyVarsLeavesTemplateAlone(t *testing.T) {
	root := fakeRoot(t, "VARS.fd")
	fw := Firmware{Kind: FirmwareUEFI, Code: "unused", VarsTemplate: filepath.Join(root, "VARS.fd")}
	dst := filepath.Join(t.TempDir(), "vars.fd")
	if err := fw.CopyVars(dst); err != nil {
		t.Fatal(err)
	}
	if copied, err := os.ReadFile(dst); err != nil || string(copied) != "VARS.fd" {
		t.Fatalf("copy holds %q (%v), want the template's bytes", copied, err)
	}
	if err := os.WriteFile(dst, []byte("written by the VM"), 0o600); err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(fw.VarsTemplate)
	if err != nil || !bytes.Equal(template, []byte("VARS.fd")) {
		t.Errorf("template changed to %q (%v)", template, err)
	}
	if err := (Firmware{Kind: FirmwareBIOS}).CopyVars(dst); err == nil {
		t.Error("BIOS firmware copied a vars store")
	}
}

// The firmware the tests boot with must be found on this machine the way
// users' machines find it.
func TestFindFirmwareOnThisHost(t *testing.T) {
	fw, err := FindFirmware("amd64", "uefi", "", "")
	if err != nil {
		t.Fatalf("%v (the e2e tests need it)", err)
	}
	t.Logf("amd64 UEFI: %s + %s", fw.Code, fw.VarsTemplate)
}
