# want 13: Invalid CNI network file name
# want 14: Invalid CNI network list
# want 15: has no cniVersion
# want 16: has no plugins
# want 17: which cni.plugins does not install
# want 17: which cni.plugins does not install
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni {
  version = "1.9.1"
  plugins = ["loopback", "bridge", "host-local"]
  networks = {
    "bridge.json"           = "{\"cniVersion\": \"1.0.0\", \"name\": \"a\", \"plugins\": [{\"type\": \"loopback\"}]}"
    "20-broken.conflist"    = "{\"cniVersion\": \"1.0.0\", \"name\": "
    "30-noversion.conflist" = "{\"name\": \"c\", \"plugins\": [{\"type\": \"bridge\"}]}"
    "40-empty.conflist"     = "{\"cniVersion\": \"1.0.0\", \"name\": \"d\"}"
    "50-flannel.conflist"   = "{\"cniVersion\": \"1.0.0\", \"name\": \"e\", \"plugins\": [{\"type\": \"flannel\"}, {\"type\": \"portmap\"}]}"
  }
}
