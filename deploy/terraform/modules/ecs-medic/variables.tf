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
  validation {
    condition     = alltrue([for c in var.cluster_arns : can(regex("^arn:[^:]+:ecs:[^:]+:[0-9]{12}:cluster/[^/]+$", c))])
    error_message = "cluster_arns must be ECS cluster ARNs (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "alarm_name_prefixes" {
  description = "Only CloudWatch alarms whose names start with one of these prefixes open incidents; empty means every alarm but Application Auto Scaling's TargetTracking-* ones (scaling signals, never incidents)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for p in var.alarm_name_prefixes : p != "" && !startswith("TargetTracking-", p) && !startswith(p, "TargetTracking-")])
    error_message = "alarm_name_prefixes may not be empty nor overlap \"TargetTracking-\": those alarms are Application Auto Scaling's scaling signals, not incidents."
  }
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
  description = "Page through PagerDuty. Put the integration key in the pagerduty-routing-key secret first: the apply refuses while it is empty."
  type        = bool
  default     = false
}

variable "pagerduty_api_token_secret_arn" {
  description = "Optional: a Secrets Manager secret (created and filled by you) holding a PagerDuty REST API token. With it, an incident overdue for acknowledgement is moved to the next level of its PagerDuty escalation policy, and /medic oncall says who is on call; only the reconciler, the events function and the Slack function may read it. Empty: PagerDuty's own escalation timeouts apply."
  type        = string
  default     = ""
  validation {
    condition     = var.pagerduty_api_token_secret_arn == "" || can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", var.pagerduty_api_token_secret_arn))
    error_message = "pagerduty_api_token_secret_arn is a Secrets Manager secret ARN."
  }
}

variable "pagerduty_from" {
  description = "MEDIC_PAGERDUTY_FROM: the email of a PagerDuty user, which PagerDuty requires for changes made with an account-level API token."
  type        = string
  default     = ""
}

variable "slack_channel" {
  description = "MEDIC_SLACK_CHANNEL: the channel id (C0...) or name where incidents are posted. Setting it creates the Slack function's URL (output slack_request_url), which the Slack app needs; posting starts with slack_enabled."
  type        = string
  default     = ""
}

variable "slack_enabled" {
  description = "Post to Slack and serve /medic. Put the bot token and signing secret in their secrets first: the apply refuses while they are empty."
  type        = bool
  default     = false
  validation {
    condition     = !var.slack_enabled || var.slack_channel != ""
    error_message = "slack_enabled needs slack_channel."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function, e.g. { ecs-events = 20, reconciler = 1 }: bounds the ECS API load a storm can cause. Empty (the default): nothing reserved, which works on every account; Lambda refuses reservations that leave fewer than 100 unreserved executions."
  type        = map(number)
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : contains(["ecs-events", "alarm-events", "reconciler", "remediate", "slack"], k) && v >= 1])
    error_message = "reserved_concurrency keys are function names (ecs-events, alarm-events, reconciler, remediate, slack) and values at least 1."
  }
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
  description = "Log groups (names, wildcards allowed) the containers log to with awslogs; ecs-medic reads the last lines of a failed container from them. The usual convention is /ecs/<app>."
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
  description = "Task and execution roles (ARNs, wildcards allowed, e.g. arn:aws:iam::111122223333:role/ecs-*) the remediation function may pass to ECS, and only to ecs-tasks.amazonaws.com, when raise-memory registers a new task definition revision with the same roles. Empty: raise-memory is refused for every task that has a task or execution role."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for r in var.pass_role_arns : can(regex("^arn:[^:]+:iam::[0-9]{12}:role/.+", r))])
    error_message = "pass_role_arns must be IAM role ARNs of one account (arn:aws:iam::<account>:role/<name or pattern>), never \"*\"."
  }
}

variable "secret_recovery_window_days" {
  description = "Secrets Manager recovery window of the three secrets when they are deleted: 0 (the default) deletes at once, so destroy and apply again works; 7 to 30 keeps them restorable but blocks their names until then."
  type        = number
  default     = 0
  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days is 0 or from 7 to 30."
  }
}

variable "deletion_protection" {
  description = "Deletion protection of the incident table. Set false and apply before terraform destroy."
  type        = bool
  default     = true
}

variable "organization_id" {
  description = "AWS Organizations id (o-...): the central event bus admits events from every account of the organization, and the functions may assume member_role_name in any account. Empty, with no member_account_ids: one account only."
  type        = string
  default     = ""
  validation {
    condition     = var.organization_id == "" || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id looks like o-abc123defg."
  }
}

variable "member_account_ids" {
  description = "Member accounts whose events the central bus admits and whose member role the functions may assume (MEDIC_ACCOUNTS: events of other accounts are refused). With organization_id as well, the organization is admitted and only these accounts are accepted."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.member_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "member_account_ids are 12-digit account ids."
  }
}

variable "member_role_name" {
  description = "Name of the role the member module creates in each member account (MEDIC_MEMBER_ROLE_ARN)."
  type        = string
  default     = "ecs-medic-member"
}

variable "manage_bus_policy" {
  description = "In organization mode, own the default event bus's resource policy. False when another configuration owns it: add the statements of the bus_policy output there."
  type        = bool
  default     = true
}
