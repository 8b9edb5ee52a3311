# want 5: Duplicate variable
# want 8: Invalid value for variable
# want 11: Invalid sensitive
variable "version" { default = "2.3.4" }
variable "version" { default = "2.3.5" }
variable "max_pods" {
  type    = number
  default = "many"
}
variable "token" {
  sensitive = "yes please"
  default   = "abc"
}
containerd { version = var.version }
runc { version = "1.4.3" }
