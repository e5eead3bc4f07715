# A root a team can apply in one account (docs/deploy.md):
#   make package
#   cp prod.tfvars.example prod.tfvars        # edit it
#   terraform init && terraform apply -var-file=prod.tfvars
# The first apply leaves PagerDuty and Slack off; fill their secrets (output fill_secrets), switch
# them on in prod.tfvars, and apply again.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Keep the state somewhere shared and locked, not on a laptop: for example an S3 bucket with
  # versioning on (Terraform 1.10+ locks with use_lockfile, no DynamoDB table needed).
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "ecs-medic/terraform.tfstate"
  #   region       = "us-east-1"
  #   use_lockfile = true
  # }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region of the ECS clusters ecs-medic watches."
  type        = string
}

variable "cluster_arns" {
  description = "Clusters to watch; empty for all of the account and region."
  type        = list(string)
  default     = []
}

variable "pagerduty_enabled" {
  description = "Page through PagerDuty: fill the routing key secret first."
  type        = bool
  default     = false
}

variable "slack_channel" {
  description = "Slack channel for incidents; setting it creates the Slack request URL."
  type        = string
  default     = ""
}

variable "slack_enabled" {
  description = "Post to Slack and serve /medic: fill the bot token and signing secret first."
  type        = bool
  default     = false
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

variable "pass_role_arns" {
  description = "Task and execution roles raise-memory may pass on to a new revision (wildcards allowed)."
  type        = list(string)
  default     = []
}

variable "alarm_actions" {
  description = "SNS topics told when ecs-medic itself fails."
  type        = list(string)
  default     = []
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function; empty reserves nothing."
  type        = map(number)
  default     = {}
}

variable "pagerduty_api_token_secret_arn" {
  description = "Optional: a secret you created holding a PagerDuty REST API token, for escalations."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Deletion protection of the incident table (false before terraform destroy)."
  type        = bool
  default     = true
}

module "ecs_medic" {
  source               = "../../modules/ecs-medic"
  package_dir          = "${path.module}/../../../../build"
  cluster_arns         = var.cluster_arns
  slack_channel        = var.slack_channel
  slack_enabled        = var.slack_enabled
  pagerduty_enabled    = var.pagerduty_enabled
  slack_allowed_users  = var.slack_allowed_users
  autofix              = var.autofix
  pass_role_arns       = var.pass_role_arns
  alarm_actions        = var.alarm_actions
  reserved_concurrency = var.reserved_concurrency
  deletion_protection  = var.deletion_protection

  pagerduty_api_token_secret_arn = var.pagerduty_api_token_secret_arn
  tags                           = { app = "ecs-medic" }
}

output "fill_secrets" {
  description = "Commands that fill each secret (replace VALUE)."
  value       = module.ecs_medic.fill_secrets
}

output "slack_request_url" {
  description = "Give this to the Slack app (deploy/slack/manifest.yaml)."
  value       = module.ecs_medic.slack_request_url
}

output "smoke_command" {
  description = "Proves the deployed path: a marked test event, a test message, a PagerDuty change event."
  value       = module.ecs_medic.smoke_command
}

output "ecs_medic" {
  description = "What was created."
  value = {
    table        = module.ecs_medic.table_name
    functions    = module.ecs_medic.function_arns
    dead_letters = module.ecs_medic.dead_letter_queue_url
    secrets      = module.ecs_medic.secret_arns
  }
}
