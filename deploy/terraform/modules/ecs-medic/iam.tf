# One role per function, least privilege. The policy documents are named after the functions:
# functions/iam_test.go parses this file and checks each grants every AWS call its function made
# in the end-to-end tests, and nothing that changes anything beyond them. No function here may
# change ECS but the remediation function.

locals {
  table_arns = [aws_dynamodb_table.incidents.arn, "${aws_dynamodb_table.incidents.arn}/index/*"]
  service_arns = length(var.cluster_arns) == 0 ? ["arn:${local.partition}:ecs:${local.region}:${local.account}:service/*"] : [
    for c in var.cluster_arns : "${replace(c, ":cluster/", ":service/")}/*"
  ]
  policies = {
    ecs-events   = data.aws_iam_policy_document.ecs_events.json
    alarm-events = data.aws_iam_policy_document.alarm_events.json
    reconciler   = data.aws_iam_policy_document.reconciler.json
    slack        = data.aws_iam_policy_document.slack.json
    remediate    = data.aws_iam_policy_document.remediate.json
  }
  remediate_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-remediate"
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "ecs-medic"
  role     = aws_iam_role.function[each.key].id
  policy   = local.policies[each.key]
}

# What every function's role holds: its own log streams, the secrets passed to it (and no
# other: only the Slack function reads the signing secret), the dead-letter queue (the Lambda
# service writes logs and dead letters with the function's role), and in organization mode the
# member role of the member accounts, never any other role.
data "aws_iam_policy_document" "common" {
  for_each = local.functions
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }
  dynamic "statement" {
    for_each = length(local.function_secrets[each.key]) == 0 ? [] : [1]
    content {
      sid       = "Secrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = sort(values(local.function_secrets[each.key]))
    }
  }
  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }
  dynamic "statement" {
    for_each = local.org_mode ? [1] : []
    content {
      sid       = "MemberAccounts"
      actions   = ["sts:AssumeRole"]
      resources = local.member_role_arns
    }
  }
}

data "aws_iam_policy_document" "ecs_events" {
  source_policy_documents = [data.aws_iam_policy_document.common["ecs-events"].json]
  statement {
    sid       = "AskForFixes"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.remediate_arn]
  }
  statement {
    # The failed container's log settings. DescribeTaskDefinition has no resource-level permissions.
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
  statement {
    sid       = "ContainerLogs"
    actions   = ["logs:GetLogEvents"]
    resources = [for g in var.container_log_groups : "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${g}:log-stream:*"]
  }
  statement {
    sid       = "Incidents"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }
  statement {
    sid       = "ServiceState"
    actions   = ["ecs:DescribeServices"]
    resources = local.service_arns
  }
}

data "aws_iam_policy_document" "alarm_events" {
  source_policy_documents = [data.aws_iam_policy_document.common["alarm-events"].json]
  statement {
    sid       = "Incidents"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }
  statement {
    # An alarm on a service's own metrics (ClusterName + ServiceName) belongs to that service:
    # its severity comes from the service's state.
    sid       = "ServiceState"
    actions   = ["ecs:DescribeServices"]
    resources = local.service_arns
  }
}

data "aws_iam_policy_document" "reconciler" {
  source_policy_documents = [data.aws_iam_policy_document.common["reconciler"].json]
  statement {
    sid       = "Incidents"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }
  statement {
    sid       = "ServiceState"
    actions   = ["ecs:DescribeServices"]
    resources = local.service_arns
  }
  statement {
    # ListClusters has no resource-level permissions; ListServices is scoped by cluster.
    sid       = "FindLostFailures"
    actions   = ["ecs:ListClusters", "ecs:ListServices"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "slack" {
  source_policy_documents = [data.aws_iam_policy_document.common["slack"].json]
  statement {
    sid       = "Incidents"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }
  statement {
    # /medic status: the service, its deployments and its last stopped tasks.
    sid       = "ReadServices"
    actions   = ["ecs:DescribeServices", "ecs:ListServices", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
  statement {
    sid       = "ContainerLogs"
    actions   = ["logs:GetLogEvents"]
    resources = [for g in var.container_log_groups : "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${g}:log-stream:*"]
  }
  statement {
    # Work after Slack's 3-second acknowledgement runs in an asynchronous invocation of itself.
    sid       = "DeferToItselfAndFixes"
    actions   = ["lambda:InvokeFunction"]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-slack", local.remediate_arn]
  }
}

data "aws_iam_policy_document" "remediate" {
  source_policy_documents = [data.aws_iam_policy_document.common["remediate"].json]
  statement {
    sid       = "Incidents"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }
  statement {
    sid       = "ReadServices"
    actions   = ["ecs:DescribeServices", "ecs:ListTagsForResource", "ecs:DescribeTaskDefinition", "application-autoscaling:DescribeScalableTargets"]
    resources = ["*"]
  }
  statement {
    # The only ECS write permissions of ecs-medic: new revisions (raise-memory) and service
    # updates (every action), on the watched services.
    sid       = "Fix"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:UpdateService"]
    resources = concat(local.service_arns, ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/*"])
  }
  statement {
    # A new revision carries the old one's tags, which ECS checks as TagResource; only while
    # registering it, so no existing resource's tags (medic:auto-fix=off) can be rewritten.
    sid       = "TagNewRevisions"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/*"]
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
