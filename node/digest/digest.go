// Package digest is nodeup's one way to name content: the hex sha256 that
// pins, the state and the download cache all use.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
)

// Bytes is the hex sha256 of b.
func Bytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Reader is the hex sha256 of everything r yields.
func Reader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return Of(h), nil
}

// File is the hex sha256 of the file at real (host) path p.
func File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return Reader(f)
}

// New starts a running sha256, for hashing while streaming.
func New() hash.Hash { return sha256.New() }

// Of is the hex form of a running sha256.
func Of(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
