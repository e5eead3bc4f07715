# ecs-medic watching itself.

locals {
  # Each function's failures and throttles: a responder that fails silently is worse than none.
  function_alarms = merge([for fn in keys(local.functions) : {
    "${fn}-errors"    = { function = fn, metric = "Errors", what = "is failing invocations: events may be retried into the dead-letter queue" }
    "${fn}-throttles" = { function = fn, metric = "Throttles", what = "is throttled (its reserved concurrency or the account's limit): events are delayed" }
  }]...)
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each            = local.function_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "ecs-medic ${each.value.function} ${each.value.what}."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.function[each.value.function].function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Events ecs-medic could not handle after every retry are waiting in ${aws_sqs_queue.dead_letters.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
