//go:build !linux

package qemu

import "errors"

func probeKVM() error { return errors.New("KVM exists only on Linux") }
