# A host must be a host: ".." as a host would be a directory in a bundle.
# want 5: its host ".." is not a host name or an IP address
# want 5: Write the URL of the file itself
mirror {
  urls = ["http://../nodeup", "file:///srv/../etc"]
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
