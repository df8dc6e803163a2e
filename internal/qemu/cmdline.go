// Package qemu runs a throw-away QEMU virtual machine for building an image:
// it chooses the accelerator (never trusting /dev/kvm alone), finds UEFI
// firmware where distributions put it, builds the command line, supervises
// the process (its own process group, stopped on context cancel), powers the
// guest off through QMP and waits for a real SSH handshake.
//
// It knows nothing of Packer: the maas-rootfs builder and the end-to-end
// tests drive it alike.
package qemu

import (
	"fmt"
	"strconv"
	"strings"
)

// spec is what differs between guest architectures.
type spec struct {
	binary          string
	machine         string
	tcgCPU          string
	firmwarePackage string // Debian package with its UEFI firmware
}

func guestSpec(arch string) (spec, error) {
	switch arch {
	case "amd64":
		return spec{binary: "qemu-system-x86_64", machine: "q35", tcgCPU: "max", firmwarePackage: "ovmf"}, nil
	case "arm64":
		// cortex-a57 rather than max under TCG: max emulates pointer
		// authentication, which is slow in software.
		return spec{binary: "qemu-system-aarch64", machine: "virt,gic-version=max", tcgCPU: "cortex-a57", firmwarePackage: "qemu-efi-aarch64"}, nil
	default:
		return spec{}, fmt.Errorf("unsupported architecture %q: want amd64 or arm64", arch)
	}
}

// DefaultBinary is the QEMU system emulator for a guest architecture.
func DefaultBinary(arch string) (string, error) {
	s, err := guestSpec(arch)
	return s.binary, err
}

// Config describes one build VM. Empty Binary and Machine take the
// architecture's defaults.
type Config struct {
	Binary    string
	Arch      string // amd64 or arm64
	Machine   string
	Accel     Accel
	CPUs      int
	MemoryMiB int
	Firmware  Firmware
	VarsCopy  string // this VM's writable copy of Firmware.VarsTemplate (UEFI)
	Disk      string // qcow2 system disk
	Seed      string // raw cloud-init seed image, attached read-only
	SSHPort   int    // host port on 127.0.0.1 forwarded to the guest's port 22
	SerialLog string // the guest's serial console is written here
	QMPSocket string // unix socket for QMP control
	ExtraArgs []string
}

// maxUnixSocketPath is the room in sockaddr_un.sun_path, less its NUL.
const maxUnixSocketPath = 107

// Validate reports the first setting that cannot make a working VM.
func (c Config) Validate() error {
	if _, err := guestSpec(c.Arch); err != nil {
		return err
	}
	switch {
	case c.Accel != AccelKVM && c.Accel != AccelTCG && c.Accel != AccelHVF:
		return fmt.Errorf("qemu: unknown accelerator %q", c.Accel)
	case c.CPUs < 1:
		return fmt.Errorf("qemu: %d CPUs: want at least 1", c.CPUs)
	case c.MemoryMiB < 128:
		return fmt.Errorf("qemu: %d MiB of memory: want at least 128", c.MemoryMiB)
	case c.Firmware.Kind != FirmwareUEFI && c.Firmware.Kind != FirmwareBIOS:
		return fmt.Errorf("qemu: unknown firmware kind %q", c.Firmware.Kind)
	case c.Firmware.Kind == FirmwareUEFI && (c.Firmware.Code == "" || c.VarsCopy == ""):
		return fmt.Errorf("qemu: UEFI needs the firmware code and a per-VM vars copy")
	case c.Disk == "":
		return fmt.Errorf("qemu: no disk")
	case c.SSHPort < 1 || c.SSHPort > 65535:
		return fmt.Errorf("qemu: SSH port %d out of range", c.SSHPort)
	case c.SerialLog == "":
		return fmt.Errorf("qemu: no serial log path")
	case c.QMPSocket == "":
		return fmt.Errorf("qemu: no QMP socket path")
	case strings.Contains(c.QMPSocket, ","):
		return fmt.Errorf("qemu: QMP socket path %s holds a comma, which QEMU's -qmp option cannot take", c.QMPSocket)
	case len(c.QMPSocket) > maxUnixSocketPath:
		return fmt.Errorf("qemu: QMP socket path %s is %d bytes, longer than a unix socket allows (%d): use a shorter temporary directory",
			c.QMPSocket, len(c.QMPSocket), maxUnixSocketPath)
	}
	return nil
}

// BinaryPath is the emulator to run: Binary, or the architecture's default.
func (c Config) BinaryPath() string {
	if c.Binary != "" {
		return c.Binary
	}
	s, _ := guestSpec(c.Arch)
	return s.binary
}

// Args is the QEMU command line, without the binary. ExtraArgs come last, so
// they add to the VM and cannot silently drop any of these.
func (c Config) Args() []string {
	s, _ := guestSpec(c.Arch)
	machine := c.Machine
	if machine == "" {
		machine = s.machine
	}
	cpu := "host"
	if c.Accel == AccelTCG {
		cpu = s.tcgCPU
	}
	args := []string{
		"-no-user-config", "-nodefaults", "-display", "none",
		"-machine", machine,
		"-accel", string(c.Accel),
		"-cpu", cpu,
		"-smp", strconv.Itoa(c.CPUs),
		"-m", strconv.Itoa(c.MemoryMiB),
	}
	if c.Firmware.Kind == FirmwareUEFI {
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escapeOption(c.Firmware.Code),
			"-drive", "if=pflash,format=raw,unit=1,file="+escapeOption(c.VarsCopy))
	}
	args = append(args,
		"-drive", "if=none,id=disk0,format=qcow2,discard=unmap,file="+escapeOption(c.Disk),
		"-device", "virtio-blk-pci,drive=disk0,bootindex=0")
	if c.Seed != "" {
		args = append(args,
			"-drive", "if=none,id=seed0,format=raw,readonly=on,file="+escapeOption(c.Seed),
			"-device", "virtio-blk-pci,drive=seed0")
	}
	args = append(args,
		"-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:"+strconv.Itoa(c.SSHPort)+"-:22",
		"-device", "virtio-net-pci,netdev=net0",
		"-device", "virtio-rng-pci",
		"-serial", "file:"+c.SerialLog,
		"-qmp", "unix:"+c.QMPSocket+",server=on,wait=off",
	)
	return append(args, c.ExtraArgs...)
}

// escapeOption doubles commas, which QEMU's option parser reads as "a literal
// comma" inside a value.
func escapeOption(value string) string {
	out := make([]byte, 0, len(value))
	for i := 0; i < len(value); i++ {
		out = append(out, value[i])
		if value[i] == ',' {
			out = append(out, ',')
		}
	}
	return string(out)
}
