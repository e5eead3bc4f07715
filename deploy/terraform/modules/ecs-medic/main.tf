data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # One entry per function. Each has its own role (see iam.tf): only what its code calls.
  functions = {
    ecs-events = {
      description = "ECS task, service and deployment events -> incidents"
      timeout     = 30
      memory      = 256
      concurrency = var.events_reserved_concurrency
    }
    alarm-events = {
      description = "CloudWatch alarm state changes -> incidents"
      timeout     = 30
      memory      = 256
      concurrency = 5
    }
    reconciler = {
      description = "Every minute: resolve recovered services, escalate past-due incidents, find lost events"
      timeout     = 120
      memory      = 256
      concurrency = 1 # one pass at a time
    }
    remediate = {
      description = "The only function that may change ECS: runbook fixes under guardrails"
      timeout     = 60
      memory      = 256
      concurrency = 5
    }
    slack = {
      description = "Slack's /medic command and incident buttons, behind a Function URL"
      timeout     = 30
      memory      = 256
      concurrency = 10
    }
  }

  environment = merge(
    {
      MEDIC_TABLE     = aws_dynamodb_table.incidents.name
      MEDIC_LOG_LEVEL = var.log_level
      MEDIC_AUTOFIX   = var.autofix
      MEDIC_DRY_RUN   = tostring(var.dry_run)
      # Where the events and Slack functions send fixes (their roles cannot change ECS).
      MEDIC_REMEDIATE_FUNCTION = "${var.name}-remediate"
    },
    # A secret is passed only when its receiver is on: a function refuses to start on an empty one.
    var.pagerduty_enabled ? { MEDIC_PAGERDUTY_ROUTING_KEY_ARN = aws_secretsmanager_secret.pagerduty_routing_key.arn } : {},
    var.slack_channel == "" ? {} : {
      MEDIC_SLACK_BOT_TOKEN_ARN      = aws_secretsmanager_secret.slack_bot_token.arn
      MEDIC_SLACK_SIGNING_SECRET_ARN = aws_secretsmanager_secret.slack_signing_secret.arn
    },
    length(var.slack_allowed_users) == 0 ? {} : { MEDIC_SLACK_ALLOWED_USERS = join(",", var.slack_allowed_users) },
    length(var.slack_allowed_groups) == 0 ? {} : { MEDIC_SLACK_ALLOWED_GROUPS = join(",", var.slack_allowed_groups) },
    var.slack_channel == "" ? {} : { MEDIC_SLACK_CHANNEL = var.slack_channel },
  )
}

# ---------------------------------------------------------------- state

# The incident table: single-table layout (internal/dynamostore): pk/sk, a sparse index gsi1 for
# active scopes and incidents, TTL on idempotency marks and old resolved incidents.
resource "aws_dynamodb_table" "incidents" {
  name         = "${var.name}-incidents"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "gsi1pk"
    type = "S"
  }
  attribute {
    name = "gsi1sk"
    type = "S"
  }

  global_secondary_index {
    name            = "gsi1"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = true
  tags                        = var.tags
}

# Secrets are created empty; put their values in with the console or
# `aws secretsmanager put-secret-value`. Functions read them at start (SPEC §6, `..._ARN`).
resource "aws_secretsmanager_secret" "pagerduty_routing_key" {
  name        = "${var.name}/pagerduty-routing-key"
  description = "PagerDuty Events API v2 integration key"
  tags        = var.tags
}

resource "aws_secretsmanager_secret" "slack_bot_token" {
  name        = "${var.name}/slack-bot-token"
  description = "Slack bot token (xoxb-...)"
  tags        = var.tags
}

resource "aws_secretsmanager_secret" "slack_signing_secret" {
  name        = "${var.name}/slack-signing-secret"
  description = "Slack signing secret, verifies every Slack request"
  tags        = var.tags
}

# Events that could not be delivered or handled after every retry: from the EventBridge targets,
# the Scheduler schedule, and the functions' own asynchronous invocations.
resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-dead-letters"
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

data "aws_iam_policy_document" "dead_letters" {
  statement {
    sid       = "EventBridgeRulesDeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:events:${local.region}:${local.account}:rule/${var.name}-*"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy    = data.aws_iam_policy_document.dead_letters.json
}

# ---------------------------------------------------------------- functions

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "function" {
  for_each = local.functions

  function_name    = "${var.name}-${each.key}"
  description      = each.value.description
  role             = aws_iam_role.function[each.key].arn
  filename         = "${var.package_dir}/${each.key}.zip"
  source_code_hash = filebase64sha256("${var.package_dir}/${each.key}.zip")
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  memory_size      = each.value.memory
  timeout          = each.value.timeout

  reserved_concurrent_executions = each.value.concurrency

  environment {
    variables = local.environment
  }

  logging_config {
    log_format = "Text" # the functions write JSON lines themselves (zap)
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.function]
}

# Asynchronous invocations (EventBridge, Scheduler): a handler error means a retry can help (the
# table failed); after two retries the event goes to the dead-letter queue. Malformed events are
# logged and acknowledged by the handler, never retried.
resource "aws_lambda_function_event_invoke_config" "function" {
  for_each                     = local.functions
  function_name                = aws_lambda_function.function[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letters.arn
    }
  }
}

# ---------------------------------------------------------------- Slack's entry point

# Slack cannot sign requests the AWS way, so the URL is public (auth NONE) and every request is
# verified by its Slack signature before anything else is read (internal/chatops).
resource "aws_lambda_function_url" "slack" {
  count              = var.slack_channel == "" ? 0 : 1
  function_name      = aws_lambda_function.function["slack"].function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "slack_url" {
  count                  = var.slack_channel == "" ? 0 : 1
  statement_id           = "slack-function-url"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.function["slack"].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}
