# A root a team can apply: `make package`, then
#   terraform init && terraform apply -var-file=prod.tfvars
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region of the ECS clusters ecs-medic watches."
  type        = string
}

variable "cluster_arns" {
  description = "Clusters to watch; empty for all."
  type        = list(string)
  default     = []
}

variable "pagerduty_enabled" {
  description = "Page through PagerDuty (fill the routing key secret first)."
  type        = bool
  default     = false
}

variable "slack_channel" {
  description = "Slack channel for incidents."
  type        = string
  default     = ""
}

variable "slack_allowed_users" {
  description = "Slack user ids allowed to run changing /medic commands."
  type        = list(string)
  default     = []
}

variable "autofix" {
  description = "off, suggest or auto."
  type        = string
  default     = "suggest"
}

variable "alarm_actions" {
  description = "SNS topics told when ecs-medic itself fails."
  type        = list(string)
  default     = []
}

module "ecs_medic" {
  source              = "../../modules/ecs-medic"
  package_dir         = "${path.module}/../../../../build"
  cluster_arns        = var.cluster_arns
  slack_channel       = var.slack_channel
  pagerduty_enabled   = var.pagerduty_enabled
  slack_allowed_users = var.slack_allowed_users
  autofix             = var.autofix
  alarm_actions       = var.alarm_actions
  tags                = { app = "ecs-medic" }
}

output "ecs_medic" {
  value = {
    table        = module.ecs_medic.table_name
    functions    = module.ecs_medic.function_arns
    dead_letters = module.ecs_medic.dead_letter_queue_url
    fill_secrets = module.ecs_medic.secret_arns
  }
}
