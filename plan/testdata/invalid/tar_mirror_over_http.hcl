# want 3: nodeup reads a bundle tar from a file only
mirror {
  urls = ["/srv/bundle", "http://10.0.0.5/nodeup/bundle.tar"]
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
