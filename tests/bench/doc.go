// Package bench measures nodeup's main job on real test-bed nodes against what an
// operator would use instead: containerd's getting-started steps as a shell script and
// an Ansible playbook, on the same node image with the same loopback HTTP mirror, plus
// the floor (download, hash and unpack with nothing else, and containerd's own start).
// It prints one table. Run it with make bench (go test -tags bench); it is not part of
// make test, and it asserts no timings: the figures are for reading.
package bench
