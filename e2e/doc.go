// Package e2e holds the end-to-end tests: the real, stock Packer binary
// running this plugin, real QEMU booting the real test cloud image, real GNU
// tar reading our tarballs. `make e2e` runs them.
package e2e
