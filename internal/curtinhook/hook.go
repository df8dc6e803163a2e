// Package curtinhook holds what makes an image deployable by MAAS's curtin,
// apart from Packer: the built-in curtin hook, the shell scripts that
// install /curtin files and check an image's deploy readiness in the guest,
// and the parsing of what those scripts report.
//
// The scripts take the image's root directory as a parameter: "" in a
// guest, a plain directory in tests, so that they run for real on any host.
package curtinhook

import (
	_ "embed"
	"fmt"
)

// Hook names for the `hook` setting.
const (
	HookAuto   = "auto"   // the ubuntu hook when a custom kernel is set on a Debian-family image, else none
	HookUbuntu = "ubuntu" // the built-in hook below
	HookNone   = "none"   // no hook: curtin runs its own built-in hooks
)

// Paths in the image. curtin looks for exactly HookPath.
const (
	Dir              = "/curtin"
	HookName         = "curtin-hooks"
	HookPath         = Dir + "/" + HookName
	CustomKernelName = "CUSTOM_KERNEL"
)

//go:embed ubuntu-hook.py
var ubuntuHook []byte

// UbuntuHook returns the built-in hook for Ubuntu and Debian images: a
// Python 3 program that runs curtin's built-in curthooks, asking them for
// the kernel package in /curtin/CUSTOM_KERNEL when there is one, and then
// removes /curtin from the deployed system.
func UbuntuHook() []byte {
	return append([]byte(nil), ubuntuHook...)
}

// ValidateHook checks a `hook` setting.
func ValidateHook(hook string) error {
	switch hook {
	case HookAuto, HookUbuntu, HookNone:
		return nil
	}
	return fmt.Errorf("hook %q is not one of %q (the default), %q or %q; for your own hook set source instead",
		hook, HookAuto, HookUbuntu, HookNone)
}

// ChooseHook resolves a validated `hook` setting for a guest: whether the
// built-in ubuntu hook goes into the image.
func ChooseHook(hook, customKernel string, guest Guest) bool {
	switch hook {
	case HookUbuntu:
		return true
	case HookAuto:
		return customKernel != "" && guest.DebianFamily()
	}
	return false
}
