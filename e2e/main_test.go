package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// TestMain keeps every end-to-end test out of the unit tier, including
// the few that need nothing beyond Go: they belong with the rest of the
// end-to-end suite, which `make e2e` runs with PACKER_ACC=1. Listing them
// (go test -list) works in either tier.
func TestMain(m *testing.M) {
	flag.Parse()
	listing := flag.Lookup("test.list").Value.String() != ""
	if !testtool.Acceptance() && !listing {
		fmt.Printf("e2e: end-to-end tests skipped: set %s=1 to run them (make e2e does)\n", testtool.AcceptanceEnv)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
