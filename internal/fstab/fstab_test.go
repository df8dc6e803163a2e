package fstab

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A RHEL 9 cloud image's fstab with the lines other distributions add.
const sample = `
#
# /etc/fstab
# Created by anaconda
UUID=5f1c1ab6-1e5b-4d7e-a3f4-2a6a4ad0c7a1 /                       xfs     defaults        0 0
UUID=0d3e7a5c-9a52-4c5f-8c5b-3f2d2a4d1b0e /boot                   ext4    defaults        1 2
UUID=7B77-95E7          /boot/efi               vfat    umask=0077,shortname=winnt 0 2
LABEL="my\040data"	/srv/my\040data	ext4	nofail	0 2
PARTUUID=a1b2c3d4-02 /var ext4 defaults 0 2
PARTLABEL=home /home ext4 defaults,x-systemd.device-timeout=0 0 2
/dev/disk/by-label/big\x20disk /big ext4 defaults 0 0
/dev/vda3 /opt
/dev/mapper/rhel-swap   none                    swap    defaults        0 0
tmpfs /tmp tmpfs defaults,size=1G 0 0
proc /proc proc defaults 0 0
server:/export /mnt/nfs nfs defaults 0 0
/srv/a /srv/b none bind 0 0
UUID=1111 /media/usb ext4 noauto 0 0
UUID=2222 /net ext4 _netdev 0 0
broken
`

func TestParse(t *testing.T) {
	entries, skipped := Parse([]byte(sample))
	require.Len(t, entries, 15)
	assert.Equal(t, []string{`/etc/fstab line 20 ("broken") has no mount point; ignored`}, skipped)

	type row struct {
		file, kind, value, notLocal string
	}
	want := []row{
		{"/", ByUUID, "5f1c1ab6-1e5b-4d7e-a3f4-2a6a4ad0c7a1", ""},
		{"/boot", ByUUID, "0d3e7a5c-9a52-4c5f-8c5b-3f2d2a4d1b0e", ""},
		{"/boot/efi", ByUUID, "7B77-95E7", ""},
		{"/srv/my data", ByLabel, "my data", ""},
		{"/var", ByPartUUID, "a1b2c3d4-02", ""},
		{"/home", ByPartLabel, "home", ""},
		{"/big", ByLabel, "big disk", ""},
		{"/opt", ByDevice, "/dev/vda3", ""},
		{"none", ByDevice, "/dev/mapper/rhel-swap", "swap"},
		{"/tmp", "", "", "a virtual filesystem"},
		{"/proc", "", "", "a virtual filesystem"},
		{"/mnt/nfs", "", "", "a network filesystem"},
		{"/srv/b", "", "", "a bind mount"},
		{"/media/usb", ByUUID, "1111", "noauto: not mounted at boot"},
		{"/net", ByUUID, "2222", "a network filesystem"},
	}
	for i, w := range want {
		e := entries[i]
		src := e.Source()
		assert.Equal(t, w, row{e.File, src.Kind, src.Value, e.NotLocal()}, e.String())
	}
	assert.Equal(t, 6, entries[1].Line)
	assert.Equal(t, "ext4", entries[1].Type)
	assert.Equal(t, "auto", entries[7].Type, "a missing type is auto")
	assert.True(t, entries[3].HasOption("nofail"))
	v, ok := entries[5].Option("x-systemd.device-timeout")
	assert.True(t, ok)
	assert.Equal(t, "0", v)
	assert.Equal(t, `/etc/fstab line 6 ("UUID=0d3e7a5c-9a52-4c5f-8c5b-3f2d2a4d1b0e /boot                   ext4    defaults        1 2")`, entries[1].String())
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:   "/a b",
		`/a\011b`:   "/a\tb",
		`/a\134b`:   `/a\b`,
		`/a\04`:     `/a\04`,
		`/a\9999`:   `/a\9999`,
		`\`:         `\`,
		`/plain`:    "/plain",
		`/x\377end`: "/x\xffend",
	} {
		assert.Equal(t, want, Unescape(in), in)
	}
}

func TestParseCleansMountPoints(t *testing.T) {
	entries, _ := Parse([]byte("UUID=x /boot/ ext4\nUUID=y //var/../var/lib ext4\n"))
	require.Len(t, entries, 2)
	assert.Equal(t, "/boot", entries[0].File)
	assert.Equal(t, "/var/lib", entries[1].File)
}

func TestParseBoundsHostileInput(t *testing.T) {
	huge := strings.Repeat("UUID=a /b ext4\n", 2*maxEntries)
	entries, _ := Parse([]byte(huge))
	assert.Len(t, entries, maxEntries)
	entries, _ = Parse([]byte(strings.Repeat("x", 2*MaxSize)))
	assert.Empty(t, entries)
}
