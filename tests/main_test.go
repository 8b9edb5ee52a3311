package tests

import (
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }
