# ecs-medic in a member account: forward the ECS and alarm events ecs-medic handles to the central
# account's bus, and let the central functions read (and, with allow_fixes, fix) this account's
# services through one role. Nothing of ecs-medic runs here.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.id # not .name, deprecated in provider 6
  partition = data.aws_partition.current.partition

  service_arns = length(var.cluster_arns) == 0 ? ["arn:${local.partition}:ecs:${local.region}:${local.account}:service/*"] : [
    for c in var.cluster_arns : "${replace(c, ":cluster/", ":service/")}/*"
  ]
  task_definitions = "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/*"

  rules = {
    task-stopped = { pattern = module.patterns.task, description = "ecs-medic: ECS tasks that stopped, to the central bus" }
    service      = { pattern = module.patterns.service, description = "ecs-medic: ECS service actions and deployment changes, to the central bus" }
    alarms       = { pattern = module.patterns.alarm, description = "ecs-medic: alarms entering ALARM or OK (not TargetTracking-*), to the central bus" }
  }
}

module "patterns" {
  source              = "../event-patterns"
  cluster_arns        = var.cluster_arns
  alarm_name_prefixes = var.alarm_name_prefixes
}

# ---------------------------------------------------------------- forwarding

resource "aws_cloudwatch_event_rule" "forward" {
  for_each      = local.rules
  name          = "${var.name}-forward-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each = local.rules
  rule     = aws_cloudwatch_event_rule.forward[each.key].name
  arn      = var.central_event_bus_arn
  role_arn = aws_iam_role.forward.arn
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "forward" {
  name               = "${var.name}-forward"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "forward" {
  statement {
    sid       = "PutEventsOnTheCentralBus"
    actions   = ["events:PutEvents"]
    resources = [var.central_event_bus_arn]
  }
}

resource "aws_iam_role_policy" "forward" {
  name   = "forward-to-ecs-medic"
  role   = aws_iam_role.forward.id
  policy = data.aws_iam_policy_document.forward.json
}

# ---------------------------------------------------------------- the member role

data "aws_iam_policy_document" "member_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = var.trusted_role_arns
    }
  }
}

resource "aws_iam_role" "member" {
  name                 = var.member_role_name
  description          = "ecs-medic's central functions read (and with allow_fixes, fix) this account's ECS services."
  assume_role_policy   = data.aws_iam_policy_document.member_assume.json
  max_session_duration = 3600
  tags                 = var.tags
}

# What the central functions read here: the service's state, its tasks and task definitions,
# its tags (routes, opt-outs), its auto-scaling bounds, and the failed containers' last lines.
# functions/iam_test.go checks it grants every ECS, Logs and Application Auto Scaling read the
# functions were seen to make.
data "aws_iam_policy_document" "member_read" {
  statement {
    sid       = "ReadServices"
    actions   = ["ecs:DescribeServices", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:ListServices", "ecs:ListClusters", "ecs:ListTagsForResource"]
    resources = ["*"]
  }
  statement {
    # DescribeTaskDefinition has no resource-level permissions.
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
  statement {
    sid       = "ContainerLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = flatten([for g in var.container_log_groups : ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${g}", "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${g}:log-stream:*"]])
  }
  statement {
    sid       = "ScalingBounds"
    actions   = ["application-autoscaling:DescribeScalableTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "member_read" {
  name   = "ecs-medic-read"
  role   = aws_iam_role.member.id
  policy = data.aws_iam_policy_document.member_read.json
}

# The fixes, as the central module grants its remediation function: service updates and new
# revisions on the watched services, tags only while registering, roles passed only to tasks.
data "aws_iam_policy_document" "member_fix" {
  statement {
    sid       = "Fix"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:UpdateService"]
    resources = concat(local.service_arns, [local.task_definitions])
  }
  statement {
    sid       = "TagNewRevisions"
    actions   = ["ecs:TagResource"]
    resources = [local.task_definitions]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }
  dynamic "statement" {
    for_each = length(var.pass_role_arns) == 0 ? [] : [1]
    content {
      sid       = "PassTaskRoles"
      actions   = ["iam:PassRole"]
      resources = var.pass_role_arns
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ecs-tasks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "member_fix" {
  count  = var.allow_fixes ? 1 : 0
  name   = "ecs-medic-fix"
  role   = aws_iam_role.member.id
  policy = data.aws_iam_policy_document.member_fix.json
}
