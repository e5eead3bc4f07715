# The EventBridge patterns of ecs-medic, in one place: the central module's rules and the member
# module's forwarding rules match exactly the same events. No resources; outputs only. The
# modules calling it validate the inputs.

variable "cluster_arns" {
  description = "Only events of these ECS clusters; empty means every cluster."
  type        = list(string)
  default     = []
}

variable "alarm_name_prefixes" {
  description = "Only CloudWatch alarms whose names start with one of these; empty means every alarm but Application Auto Scaling's TargetTracking-* ones."
  type        = list(string)
  default     = []
}

locals {
  cluster_filter = length(var.cluster_arns) == 0 ? {} : { clusterArn = var.cluster_arns }

  # STOPPED tasks only, and not the scale-in stops of deployments and scaling ("Scaling activity
  # initiated by ..."): those are the bulk of ECS's task events and never a failure. A task with
  # no stoppedReason at all still comes through ($or with exists: false).
  task = {
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = merge(local.cluster_filter, {
      lastStatus = ["STOPPED"]
      "$or" = [
        { stoppedReason = [{ "anything-but" = { prefix = "Scaling activity initiated by" } }] },
        { stoppedReason = [{ exists = false }] },
      ]
    })
  }

  # Service actions and deployment changes are few; all are context for incidents. Their
  # resources are service ARNs, arn:...:service/<cluster>/<service>: the prefix ends in "/" so
  # that cluster "prod" does not also take "prod-canary" or "production".
  service = merge(
    {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Service Action", "ECS Deployment State Change"]
    },
    length(var.cluster_arns) == 0 ? {} : {
      resources = [for c in var.cluster_arns : { prefix = "${replace(c, ":cluster/", ":service/")}/" }]
    },
  )

  # Alarms entering ALARM or OK. Application Auto Scaling names its target-tracking alarms
  # TargetTracking-<resource>-AlarmHigh/Low-<uuid>: they flap by design and are scaling signals,
  # never incidents, so the default pattern leaves them out.
  alarm = {
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail = {
      state = { value = ["ALARM", "OK"] }
      alarmName = length(var.alarm_name_prefixes) == 0 ? [{ "anything-but" = { prefix = "TargetTracking-" } }] : [
        for p in var.alarm_name_prefixes : { prefix = p }
      ]
    }
  }
}

output "task" {
  description = "ECS tasks that stopped, less scale-in noise."
  value       = local.task
}

output "service" {
  description = "ECS service actions and deployment state changes."
  value       = local.service
}

output "alarm" {
  description = "CloudWatch alarms entering ALARM or OK, without Application Auto Scaling's TargetTracking-* alarms."
  value       = local.alarm
}
