variable "name" {
  description = "Prefix for every resource ecs-medic creates."
  type        = string
  default     = "ecs-medic"
}

variable "package_dir" {
  description = "Folder holding the zips `make package` builds (ecs-events, alarm-events, reconciler, slack, remediate)."
  type        = string
}

variable "cluster_arns" {
  description = "Only events from these ECS clusters are handled; empty means every cluster of the account and region."
  type        = list(string)
  default     = []
}

variable "alarm_name_prefixes" {
  description = "Only CloudWatch alarms whose names start with one of these prefixes open incidents; empty means every alarm."
  type        = list(string)
  default     = []
}

variable "log_level" {
  description = "MEDIC_LOG_LEVEL of every function."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
  default     = 30
}

variable "autofix" {
  description = "MEDIC_AUTOFIX: off, suggest or auto."
  type        = string
  default     = "suggest"
  validation {
    condition     = contains(["off", "suggest", "auto"], var.autofix)
    error_message = "autofix must be off, suggest or auto."
  }
}

variable "dry_run" {
  description = "MEDIC_DRY_RUN: plan and report actions, change nothing."
  type        = bool
  default     = false
}

variable "pagerduty_enabled" {
  description = "Page through PagerDuty: put the integration key in the pagerduty-routing-key secret first."
  type        = bool
  default     = false
}

variable "slack_channel" {
  description = "MEDIC_SLACK_CHANNEL: where incidents are posted (empty: no Slack). Put the bot token and signing secret in their secrets first."
  type        = string
  default     = ""
}

variable "events_reserved_concurrency" {
  description = "Reserved concurrency of the ECS events function: bounds the DescribeServices load a storm can put on the ECS API."
  type        = number
  default     = 20
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified when ecs-medic itself fails (errors, throttles, dead letters)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "container_log_groups" {
  description = "Log groups (names, wildcards allowed) the containers log to with awslogs; ecs-medic reads the last lines of a failed container from them. SOP-002 names /ecs/<app>."
  type        = list(string)
  default     = ["/ecs/*"]
}

variable "slack_allowed_users" {
  description = "MEDIC_SLACK_ALLOWED_USERS: Slack user ids (U0123ABCD; names are not accepted) allowed to run changing commands. Empty, with no groups: nobody may."
  type        = list(string)
  default     = []
}

variable "slack_allowed_groups" {
  description = "MEDIC_SLACK_ALLOWED_GROUPS: Slack user group ids whose members may run changing commands (needs the usergroups:read scope)."
  type        = list(string)
  default     = []
}

variable "pass_role_arns" {
  description = "Task and execution roles the remediation function may pass to ECS when it registers a new task definition revision (raise-memory). Empty: raise-memory fails for tasks with roles."
  type        = list(string)
  default     = []
}
