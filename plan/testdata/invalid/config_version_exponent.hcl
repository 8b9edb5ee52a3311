# A number with an exponent nodeup would take forever to write out is
# refused before it is parsed, where it is written.
# want 6: Number too large
containerd {
  version        = "2.3.4"
  config_version = 1e99999999
}
