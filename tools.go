//go:build tools

// Package main's tools file pins the code generators run by `make generate`.
package main

import (
	_ "github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc"
)
