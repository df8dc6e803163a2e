package qemu

import (
	"slices"
	"strings"
	"testing"
)

func uefiConfig(arch string, accel Accel) Config {
	return Config{
		Arch: arch, Accel: accel, CPUs: 2, MemoryMiB: 2048,
		Firmware: Firmware{Kind: FirmwareUEFI, Code: "/fw/CODE.fd", VarsTemplate: "/fw/VARS.fd"},
		VarsCopy: "/run/vm/vars.fd", Disk: "/run/vm/disk.qcow2", Seed: "/run/vm/seed.img",
		SSHPort: 2222, SerialLog: "/run/vm/console.log", QMPSocket: "/run/vm/qmp.sock",
	}
}

// option returns the values given to flag, in order.
func option(args []string, flag string) []string {
	var values []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			values = append(values, args[i+1])
		}
	}
	return values
}

func TestArgsAmd64UEFITCG(t *testing.T) {
	args := uefiConfig("amd64", AccelTCG).Args()
	want := map[string][]string{
		"-machine": {"q35"},
		"-accel":   {"tcg"},
		"-cpu":     {"max"},
		"-smp":     {"2"},
		"-m":       {"2048"},
		"-drive": {
			"if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd",
			"if=pflash,format=raw,unit=1,file=/run/vm/vars.fd",
			"if=none,id=disk0,format=qcow2,discard=unmap,file=/run/vm/disk.qcow2",
			"if=none,id=seed0,format=raw,readonly=on,file=/run/vm/seed.img",
		},
		"-device":  {"virtio-blk-pci,drive=disk0,bootindex=0", "virtio-blk-pci,drive=seed0", "virtio-net-pci,netdev=net0", "virtio-rng-pci"},
		"-netdev":  {"user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22"},
		"-serial":  {"file:/run/vm/console.log"},
		"-qmp":     {"unix:/run/vm/qmp.sock,server=on,wait=off"},
		"-display": {"none"},
	}
	for flag, values := range want {
		if got := option(args, flag); !slices.Equal(got, values) {
			t.Errorf("%s = %q, want %q", flag, got, values)
		}
	}
	for _, flag := range []string{"-nodefaults", "-no-user-config"} {
		if !slices.Contains(args, flag) {
			t.Errorf("%s missing from %q", flag, args)
		}
	}
}

func TestArgsPerArchitectureAndAccelerator(t *testing.T) {
	tests := []struct {
		arch         string
		accel        Accel
		machine, cpu string
	}{
		{"amd64", AccelKVM, "q35", "host"},
		{"amd64", AccelTCG, "q35", "max"},
		{"arm64", AccelTCG, "virt,gic-version=max", "cortex-a57"},
		{"arm64", AccelKVM, "virt,gic-version=max", "host"},
		{"arm64", AccelHVF, "virt,gic-version=max", "host"},
	}
	for _, tt := range tests {
		args := uefiConfig(tt.arch, tt.accel).Args()
		if got := option(args, "-machine"); !slices.Equal(got, []string{tt.machine}) {
			t.Errorf("%s/%s: -machine %q, want %q", tt.arch, tt.accel, got, tt.machine)
		}
		if got := option(args, "-cpu"); !slices.Equal(got, []string{tt.cpu}) {
			t.Errorf("%s/%s: -cpu %q, want %q", tt.arch, tt.accel, got, tt.cpu)
		}
		if got := option(args, "-accel"); !slices.Equal(got, []string{string(tt.accel)}) {
			t.Errorf("%s/%s: -accel %q", tt.arch, tt.accel, got)
		}
	}
	if bin, _ := DefaultBinary("arm64"); bin != "qemu-system-aarch64" {
		t.Errorf("arm64 binary %q", bin)
	}
	if bin := (Config{Arch: "amd64", Binary: "/opt/qemu/bin/qemu-system-x86_64"}).BinaryPath(); bin != "/opt/qemu/bin/qemu-system-x86_64" {
		t.Errorf("explicit binary ignored: %q", bin)
	}
}

func TestArgsBIOSHasNoPflash(t *testing.T) {
	cfg := uefiConfig("amd64", AccelTCG)
	cfg.Firmware, cfg.VarsCopy, cfg.Seed = Firmware{Kind: FirmwareBIOS}, "", ""
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	args := cfg.Args()
	for _, d := range option(args, "-drive") {
		if strings.Contains(d, "pflash") || strings.Contains(d, "seed") {
			t.Errorf("BIOS without seed has drive %q", d)
		}
	}
}

func TestArgsExtraArgsAddNeverReplace(t *testing.T) {
	cfg := uefiConfig("amd64", AccelTCG)
	cfg.Machine = "pc"
	cfg.ExtraArgs = []string{"-device", "virtio-balloon-pci", "-smp", "4"}
	args := cfg.Args()
	if !slices.Equal(args[len(args)-4:], cfg.ExtraArgs) {
		t.Errorf("extra args not at the end: %q", args)
	}
	if got := option(args, "-device"); len(got) != 5 || got[3] != "virtio-rng-pci" {
		t.Errorf("own devices lost: %q", got)
	}
	if got := option(args, "-machine"); !slices.Equal(got, []string{"pc"}) {
		t.Errorf("machine override: %q", got)
	}
}

func TestArgsEscapeCommasInPaths(t *testing.T) {
	cfg := uefiConfig("amd64", AccelTCG)
	cfg.Disk = "/tmp/a,b/disk.qcow2"
	drives := option(cfg.Args(), "-drive")
	if !slices.Contains(drives, "if=none,id=disk0,format=qcow2,discard=unmap,file=/tmp/a,,b/disk.qcow2") {
		t.Errorf("comma in the disk path not doubled: %q", drives)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		errHas string
	}{
		{"architecture", func(c *Config) { c.Arch = "s390x" }, `unsupported architecture "s390x"`},
		{"accelerator", func(c *Config) { c.Accel = "auto" }, `unknown accelerator "auto"`},
		{"cpus", func(c *Config) { c.CPUs = 0 }, "0 CPUs"},
		{"memory", func(c *Config) { c.MemoryMiB = 64 }, "64 MiB"},
		{"firmware kind", func(c *Config) { c.Firmware.Kind = "" }, "unknown firmware kind"},
		{"vars copy", func(c *Config) { c.VarsCopy = "" }, "per-VM vars copy"},
		{"disk", func(c *Config) { c.Disk = "" }, "no disk"},
		{"port", func(c *Config) { c.SSHPort = 70000 }, "SSH port 70000"},
		{"serial", func(c *Config) { c.SerialLog = "" }, "serial log"},
		{"qmp", func(c *Config) { c.QMPSocket = "" }, "QMP socket"},
		{"qmp comma", func(c *Config) { c.QMPSocket = "/tmp/a,b" }, "comma"},
		{"qmp length", func(c *Config) { c.QMPSocket = "/" + strings.Repeat("x", 120) }, "shorter temporary directory"},
	}
	if err := uefiConfig("amd64", AccelTCG).Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range tests {
		cfg := uefiConfig("amd64", AccelTCG)
		tt.change(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.errHas)
		}
	}
}
