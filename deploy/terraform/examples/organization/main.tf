# ecs-medic for an organization (docs/deploy.md, docs/accounts.md): the functions run in a central
# account; each member account forwards its ECS and alarm events to the central bus and lets the
# central functions assume one role. This root deploys the central account and one member; add a
# module "member_..." block (and a provider) per member account, or apply the member module
# from each account's own configuration.
#   make package
#   cp org.tfvars.example org.tfvars          # edit it
#   terraform init && terraform apply -var-file=org.tfvars
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Keep the state shared and locked, e.g. S3 with use_lockfile = true (see the single-account
  # example).
}

variable "region" {
  description = "Region of the central account's functions and of the members' clusters."
  type        = string
}

variable "organization_id" {
  description = "AWS Organizations id (o-...): the central bus admits its accounts."
  type        = string
}

variable "member_account_ids" {
  description = "Accounts whose events are accepted (MEDIC_ACCOUNTS); empty accepts the whole organization."
  type        = list(string)
  default     = []
}

variable "member_deploy_role_arn" {
  description = "A role in the member account that this configuration assumes to create the forwarding rules and the member role (e.g. OrganizationAccountAccessRole)."
  type        = string
}

variable "member_allow_fixes" {
  description = "Let runbook fixes change the member's services (false: read-only)."
  type        = bool
  default     = false
}

variable "member_pass_role_arns" {
  description = "With member_allow_fixes: the member's task and execution roles raise-memory may pass on."
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

provider "aws" {
  region = var.region
}

provider "aws" {
  alias  = "member"
  region = var.region
  assume_role {
    role_arn = var.member_deploy_role_arn
  }
}

data "aws_caller_identity" "central" {}

module "ecs_medic" {
  source             = "../../modules/ecs-medic"
  package_dir        = "${path.module}/../../../../build"
  organization_id    = var.organization_id
  member_account_ids = var.member_account_ids
  pagerduty_enabled  = var.pagerduty_enabled
  slack_channel      = var.slack_channel
  slack_enabled      = var.slack_enabled
  tags               = { app = "ecs-medic" }
}

module "member" {
  source                = "../../modules/member"
  providers             = { aws = aws.member }
  central_event_bus_arn = "arn:aws:events:${var.region}:${data.aws_caller_identity.central.account_id}:event-bus/default"
  trusted_role_arns     = values(module.ecs_medic.function_role_arns)
  allow_fixes           = var.member_allow_fixes
  pass_role_arns        = var.member_pass_role_arns
  tags                  = { app = "ecs-medic" }
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
  description = "Proves the deployed path end to end."
  value       = module.ecs_medic.smoke_command
}

output "member_role_arn" {
  description = "The role the central functions assume in the member account."
  value       = module.member.member_role_arn
}
