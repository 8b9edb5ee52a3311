node {
  proxy = {
    http     = "proxy:3128"
    https    = "ftp://proxy:21"
    no_proxy = ["10.0.0.0/8,192.168.0.0/16", ""]
    ftp      = "http://proxy:3128"
  }
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
# Proxy URLs have a scheme and a host; no_proxy entries are one each.
# want 3: Invalid proxy URL
# want 4: Invalid proxy URL
# want 5: "10.0.0.0/8,192.168.0.0/16"
# want 5: Invalid no_proxy entry
# want 6: Unknown proxy setting
