// Command nodeup turns a host into a Kubernetes-ready node from a profile.
package main

import (
	"os"

	"github.com/nodeup/nodeup/cli"
)

func main() { os.Exit(cli.Main()) }
