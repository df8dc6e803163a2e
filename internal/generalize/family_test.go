package generalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestKernelKeepingDistro checks which image file names say a
// distribution that must keep its kernel: the official cloud images' own
// names do, Debian-family ones and directories do not.
func TestKernelKeepingDistro(t *testing.T) {
	for image, want := range map[string]string{
		"https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2":       "Rocky Linux",
		"https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/AlmaLinux-9-GenericCloud-latest.x86_64.qcow2": "AlmaLinux",
		"https://cloud.centos.org/centos/9-stream/x86_64/images/CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2": "CentOS",
		"/srv/images/rhel-9.4-x86_64-kvm.qcow2":                                                                        "RHEL",
		"https://yum.oracle.com/templates/OracleLinux/OL9/u4/x86_64/OL9U4_x86_64-kvm-b234.qcow2":                       "Oracle Linux",
		"https://download.fedoraproject.org/pub/fedora/linux/releases/41/Cloud/Fedora-Cloud-Base-Generic-41-1.4.qcow2": "Fedora",
		"openSUSE-Leap-15.6-Minimal-VM.x86_64-Cloud.qcow2":                                                             "openSUSE",
		"file:///images/SLES15-SP6-Minimal-VM.x86_64-Cloud-GM.qcow2":                                                   "SUSE Linux Enterprise",
		"https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img":                                "",
		"https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2":                     "",
		"/srv/rhel-tools/ubuntu-24.04.img":                                                                             "",
		"https://mirror.example/rocky/noble.img?variant=rocky":                                                         "",
		"cloud.img": "",
	} {
		assert.Equal(t, want, KernelKeepingDistro(image), image)
	}
}
