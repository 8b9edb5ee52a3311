package testbed

import (
	"fmt"
	"os"
	"testing"
)

// OptIn is the environment variable that lets the real-node tests run: they
// install packages, build the test bed and boot nodes as root, so plain
// `go test ./...` must not start them. The Makefile's e2e, e2e-vm, demo,
// bench and bench-profile targets set it to 1.
const OptIn = "NODEUP_E2E"

// Main is the TestMain of every package under tests/: without NODEUP_E2E=1
// it says how to opt in and runs nothing; with it, it runs the package's
// tests, and what the Makefile target should have provided but is missing
// fails them.
func Main(m *testing.M) {
	if os.Getenv(OptIn) != "1" {
		fmt.Printf("real-node tests not run: they change this machine; run them with make e2e (or %s=1 go test as root)\n", OptIn)
		return
	}
	m.Run()
}
