module "patterns" {
  source              = "../event-patterns"
  cluster_arns        = var.cluster_arns
  alarm_name_prefixes = var.alarm_name_prefixes
}

locals {
  rules = {
    task-stopped = { pattern = module.patterns.task, function = "ecs-events", description = "ECS tasks that stopped, less scale-in noise" }
    service      = { pattern = module.patterns.service, function = "ecs-events", description = "ECS service actions and deployment state changes" }
    alarms       = { pattern = module.patterns.alarm, function = "alarm-events", description = "CloudWatch alarms entering ALARM or OK, less TargetTracking-* scaling alarms" }
  }
}

resource "aws_cloudwatch_event_rule" "rule" {
  for_each      = local.rules
  name          = "${var.name}-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "rule" {
  for_each = local.rules
  rule     = aws_cloudwatch_event_rule.rule[each.key].name
  arn      = aws_lambda_function.function[each.value.function].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 8
  }
  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_lambda_permission" "rule" {
  for_each      = local.rules
  statement_id  = "eventbridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.rule[each.key].arn
}

# ---------------------------------------------------------------- the reconciler's schedule

resource "aws_scheduler_schedule" "reconciler" {
  name                = "${var.name}-reconciler"
  schedule_expression = "rate(1 minute)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.function["reconciler"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})
    retry_policy {
      maximum_event_age_in_seconds = 60 # the next run is a minute away
      maximum_retry_attempts       = 0
    }
    dead_letter_config {
      arn = aws_sqs_queue.dead_letters.arn
    }
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeReconciler"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.function["reconciler"].arn]
  }
  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-reconciler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
