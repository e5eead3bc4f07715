variable "name" {
  description = "Prefix of the forwarding rules and their role."
  type        = string
  default     = "ecs-medic"
}

variable "central_event_bus_arn" {
  description = "The central account's default event bus, where ecs-medic runs: arn:aws:events:<region>:<central account>:event-bus/default."
  type        = string
  validation {
    condition     = can(regex("^arn:[^:]+:events:[^:]+:[0-9]{12}:event-bus/.+$", var.central_event_bus_arn))
    error_message = "central_event_bus_arn is an event bus ARN (arn:aws:events:<region>:<account>:event-bus/default)."
  }
}

variable "trusted_role_arns" {
  description = "The central functions' roles (output function_role_arns of the ecs-medic module): the only principals that may assume the member role."
  type        = list(string)
  validation {
    condition     = length(var.trusted_role_arns) > 0 && alltrue([for r in var.trusted_role_arns : can(regex("^arn:[^:]+:iam::[0-9]{12}:role/.+$", r))])
    error_message = "trusted_role_arns lists IAM role ARNs of the central account (at least one)."
  }
}

variable "member_role_name" {
  description = "Name of the role the central functions assume here; the central module's member_role_name must match."
  type        = string
  default     = "ecs-medic-member"
}

variable "cluster_arns" {
  description = "Only events of these ECS clusters are forwarded; empty means every cluster of the account and region."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.cluster_arns : can(regex("^arn:[^:]+:ecs:[^:]+:[0-9]{12}:cluster/[^/]+$", c))])
    error_message = "cluster_arns must be ECS cluster ARNs (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "alarm_name_prefixes" {
  description = "Only alarms whose names start with one of these are forwarded; empty means every alarm but Application Auto Scaling's TargetTracking-* ones."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for p in var.alarm_name_prefixes : p != "" && !startswith("TargetTracking-", p) && !startswith(p, "TargetTracking-")])
    error_message = "alarm_name_prefixes may not be empty nor overlap \"TargetTracking-\": those alarms are Application Auto Scaling's scaling signals, not incidents."
  }
}

variable "container_log_groups" {
  description = "Log groups (names, wildcards allowed) the member's containers log to with awslogs; the member role may read them."
  type        = list(string)
  default     = ["/ecs/*"]
}

variable "allow_fixes" {
  description = "Let ecs-medic's runbook fixes change this account's services (UpdateService, new task definition revisions). False (the default): read-only; fixes are refused for this account with the reason in the incident."
  type        = bool
  default     = false
}

variable "pass_role_arns" {
  description = "With allow_fixes: task and execution roles (ARNs, wildcards allowed) that may be passed to ecs-tasks.amazonaws.com when raise-memory registers a new revision with the same roles."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for r in var.pass_role_arns : can(regex("^arn:[^:]+:iam::[0-9]{12}:role/.+", r))])
    error_message = "pass_role_arns must be IAM role ARNs (arn:aws:iam::<account>:role/<name or pattern>), never \"*\"."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
