# want 7: sha256 of another architecture
# want 12: sha256 of another architecture
node { arch = "arm64" }

containerd {
  version = "2.3.4"
  sha256  = "9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168"
}
runc {
  version = "1.4.3"
  sha256 = {
    amd64 = "633301e2e32f8a5ad54031aab4901eb00308bec677dd15faa2751e8f9dab5ca4"
  }
}
