package maasrootfs

import (
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// The state bag carries what one step produces for later ones; the
// settings reach the steps as their fields. Each key has its typed get
// and put here, so a key's type is written once.
const (
	keyUI            = "ui"           // packersdk.Ui, put by Run
	keyHook          = "hook"         // packersdk.Hook, put by Run for StepProvision
	keyError         = "error"        // error that halted the build
	keyComm          = "communicator" // packersdk.Communicator, put by StepConnect
	keySourceURL     = "SourceImageURL"
	keyImagePath     = "image_path"    // string: the downloaded (cached) cloud image
	keyBasePackages  = "base_packages" // *pkgdb.Inventory: the cloud image's packages
	keyFirmware      = "firmware"      // qemu.Firmware found on this host
	keyWorkDir       = "work_dir"      // string: overlay, seed and UEFI vars of this build
	keyOverlay       = "overlay"       // string: the VM's disk
	keySeed          = "seed"          // string: the NoCloud seed image
	keyVM            = "vm"            // machine: the running VM
	keyAccel         = "accel"         // qemu.Accel in use
	keySSHPort       = "ssh_port"      // int: host port forwarded to the guest's 22
	keyResult        = "result"        // *maasartifact.Artifact: what the export wrote
	keyShutdownAsked = "shutdown_requested"
	keyGeneratedData = "generated_data" // map[string]interface{} for the provisioners
)

func getUI(s multistep.StateBag) packersdk.Ui     { return s.Get(keyUI).(packersdk.Ui) }
func putUI(s multistep.StateBag, ui packersdk.Ui) { s.Put(keyUI, ui) }

func putHook(s multistep.StateBag, hook packersdk.Hook) { s.Put(keyHook, hook) }

// putGeneratedData is the data StepProvision hands the provisioners.
func putGeneratedData(s multistep.StateBag, data map[string]interface{}) {
	s.Put(keyGeneratedData, data)
}

// getError is the error a step halted the build with, or nil.
func getError(s multistep.StateBag) error {
	err, _ := s.Get(keyError).(error)
	return err
}
func putError(s multistep.StateBag, err error) { s.Put(keyError, err) }

func getComm(s multistep.StateBag) packersdk.Communicator {
	return s.Get(keyComm).(packersdk.Communicator)
}

// getSourceURL is the URL the download step took the image from, "" before.
func getSourceURL(s multistep.StateBag) string {
	url, _ := s.Get(keySourceURL).(string)
	return url
}

// getImagePath is the cloud image: StepDownload puts it (as ResultKey).
func getImagePath(s multistep.StateBag) string { return s.Get(keyImagePath).(string) }

// getBasePackages is the cloud image's package inventory, nil when it
// was not read.
func getBasePackages(s multistep.StateBag) *pkgdb.Inventory {
	inv, _ := s.Get(keyBasePackages).(*pkgdb.Inventory)
	return inv
}
func putBasePackages(s multistep.StateBag, inv *pkgdb.Inventory) { s.Put(keyBasePackages, inv) }

func getFirmware(s multistep.StateBag) qemu.Firmware     { return s.Get(keyFirmware).(qemu.Firmware) }
func putFirmware(s multistep.StateBag, fw qemu.Firmware) { s.Put(keyFirmware, fw) }

func getWorkDir(s multistep.StateBag) string      { return s.Get(keyWorkDir).(string) }
func putWorkDir(s multistep.StateBag, dir string) { s.Put(keyWorkDir, dir) }

func getOverlay(s multistep.StateBag) string       { return s.Get(keyOverlay).(string) }
func putOverlay(s multistep.StateBag, path string) { s.Put(keyOverlay, path) }

func getSeed(s multistep.StateBag) string       { return s.Get(keySeed).(string) }
func putSeed(s multistep.StateBag, path string) { s.Put(keySeed, path) }

func getVM(s multistep.StateBag) machine     { return s.Get(keyVM).(machine) }
func putVM(s multistep.StateBag, vm machine) { s.Put(keyVM, vm) }

func getAccel(s multistep.StateBag) qemu.Accel    { return s.Get(keyAccel).(qemu.Accel) }
func putAccel(s multistep.StateBag, a qemu.Accel) { s.Put(keyAccel, a) }

func getSSHPort(s multistep.StateBag) int       { return s.Get(keySSHPort).(int) }
func putSSHPort(s multistep.StateBag, port int) { s.Put(keySSHPort, port) }

func getResult(s multistep.StateBag) *maasartifact.Artifact {
	return s.Get(keyResult).(*maasartifact.Artifact)
}
func putResult(s multistep.StateBag, art *maasartifact.Artifact) { s.Put(keyResult, art) }

// getShutdownAsked tells whether the guest was asked to power off itself.
func getShutdownAsked(s multistep.StateBag) bool {
	_, asked := s.GetOk(keyShutdownAsked)
	return asked
}
func putShutdownAsked(s multistep.StateBag) { s.Put(keyShutdownAsked, true) }
