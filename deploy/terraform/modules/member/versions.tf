terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Checked against 5.100.0 (the module's tests run on it); nothing here is deprecated in 6.x,
      # but 6.x has not been run against: widen the range once it has.
      version = "~> 5.100"
    }
  }
}
