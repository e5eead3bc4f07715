data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.id # not .name, deprecated in provider 6
  partition = data.aws_partition.current.partition

  # One entry per function. Each has its own role (see iam.tf): only what its code calls.
  # Reserved concurrency is opt-in (var.reserved_concurrency): Lambda refuses a reservation that
  # would leave fewer than 100 unreserved executions, and some new accounts start far below 1,000.
  functions = {
    ecs-events = {
      description = "ECS task, service and deployment events -> incidents"
      timeout     = 30
      memory      = 256
    }
    alarm-events = {
      description = "CloudWatch alarm state changes -> incidents"
      timeout     = 30
      memory      = 256
    }
    reconciler = {
      description = "Every minute: resolve recovered services, escalate past-due incidents, find lost events"
      timeout     = 55 # shorter than the schedule's minute, so passes do not pile up
      memory      = 256
    }
    remediate = {
      description = "The only function that may change ECS: runbook fixes under guardrails"
      timeout     = 60
      memory      = 256
    }
    slack = {
      description = "Slack's /medic command and incident buttons, behind a Function URL"
      timeout     = 30
      memory      = 256
    }
  }

  # Organization mode: events of member accounts are read (and fixed) through the member role.
  org_mode = var.organization_id != "" || length(var.member_account_ids) > 0
  member_role_arns = length(var.member_account_ids) == 0 ? ["arn:${local.partition}:iam::*:role/${var.member_role_name}"] : [
    for a in var.member_account_ids : "arn:${local.partition}:iam::${a}:role/${var.member_role_name}"
  ]

  # A secret reaches a function only when its receiver is switched on, that is once it has a
  # value (checked in terraform_data.receivers): a function refuses to start on an empty one.
  # Every function notifies (PagerDuty, Slack); only the Slack function verifies Slack's requests.
  receiver_secrets = merge(
    var.pagerduty_enabled ? { MEDIC_PAGERDUTY_ROUTING_KEY_ARN = aws_secretsmanager_secret.pagerduty_routing_key.arn } : {},
    var.slack_enabled ? { MEDIC_SLACK_BOT_TOKEN_ARN = aws_secretsmanager_secret.slack_bot_token.arn } : {},
  )
  # PagerDuty's REST API is used by the reconciler (escalating overdue incidents), the events
  # function (a cause back after a fix) and the Slack function (/medic oncall, read-only): only
  # they get the API token.
  escalates = ["reconciler", "ecs-events", "slack"]
  function_secrets = { for fn in keys(local.functions) : fn => merge(
    local.receiver_secrets,
    fn == "slack" && var.slack_enabled ? { MEDIC_SLACK_SIGNING_SECRET_ARN = aws_secretsmanager_secret.slack_signing_secret.arn } : {},
    contains(local.escalates, fn) && var.pagerduty_api_token_secret_arn != "" ? { MEDIC_PAGERDUTY_API_TOKEN_ARN = var.pagerduty_api_token_secret_arn } : {},
  ) }

  environment = merge(
    {
      MEDIC_TABLE     = aws_dynamodb_table.incidents.name
      MEDIC_LOG_LEVEL = var.log_level
      MEDIC_AUTOFIX   = var.autofix
      MEDIC_DRY_RUN   = tostring(var.dry_run)
      # Where the events and Slack functions send fixes (their roles cannot change ECS).
      MEDIC_REMEDIATE_FUNCTION = "${var.name}-remediate"
      # The account the functions run in: known here, so no function has to ask STS at start.
      MEDIC_HOME_ACCOUNT = local.account
    },
    length(var.slack_allowed_users) == 0 ? {} : { MEDIC_SLACK_ALLOWED_USERS = join(",", var.slack_allowed_users) },
    length(var.slack_allowed_groups) == 0 ? {} : { MEDIC_SLACK_ALLOWED_GROUPS = join(",", var.slack_allowed_groups) },
    var.slack_enabled ? { MEDIC_SLACK_CHANNEL = var.slack_channel } : {},
    var.pagerduty_from == "" ? {} : { MEDIC_PAGERDUTY_FROM = var.pagerduty_from },
    local.org_mode ? { MEDIC_MEMBER_ROLE_ARN = "arn:${local.partition}:iam::{account}:role/${var.member_role_name}" } : {},
    length(var.member_account_ids) == 0 ? {} : { MEDIC_ACCOUNTS = join(",", distinct(concat([local.account], var.member_account_ids))) },
  )
}

# Receivers are switched on only once their secrets hold a value: otherwise every function would
# refuse to start and events would go to the dead-letter queue. The first apply (both off) creates
# the secrets; fill them, switch the receivers on, apply again.
data "aws_secretsmanager_secret_versions" "pagerduty" {
  count     = var.pagerduty_enabled ? 1 : 0
  secret_id = aws_secretsmanager_secret.pagerduty_routing_key.arn
}

data "aws_secretsmanager_secret_versions" "slack_bot_token" {
  count     = var.slack_enabled ? 1 : 0
  secret_id = aws_secretsmanager_secret.slack_bot_token.arn
}

data "aws_secretsmanager_secret_versions" "slack_signing_secret" {
  count     = var.slack_enabled ? 1 : 0
  secret_id = aws_secretsmanager_secret.slack_signing_secret.arn
}

resource "terraform_data" "receivers" {
  input = { pagerduty = var.pagerduty_enabled, slack = var.slack_enabled }
  lifecycle {
    precondition {
      condition     = !var.pagerduty_enabled || length(try(data.aws_secretsmanager_secret_versions.pagerduty[0].versions, [])) > 0
      error_message = "pagerduty_enabled is true but the secret ${aws_secretsmanager_secret.pagerduty_routing_key.name} has no value yet: put the PagerDuty integration key in it first (aws secretsmanager put-secret-value --secret-id ${aws_secretsmanager_secret.pagerduty_routing_key.name} --secret-string KEY), then apply again."
    }
    precondition {
      condition     = !var.slack_enabled || length(try(data.aws_secretsmanager_secret_versions.slack_bot_token[0].versions, [])) > 0
      error_message = "slack_enabled is true but the secret ${aws_secretsmanager_secret.slack_bot_token.name} has no value yet: put the Slack bot token (xoxb-...) in it first, then apply again."
    }
    precondition {
      condition     = !var.slack_enabled || length(try(data.aws_secretsmanager_secret_versions.slack_signing_secret[0].versions, [])) > 0
      error_message = "slack_enabled is true but the secret ${aws_secretsmanager_secret.slack_signing_secret.name} has no value yet: put the Slack app's signing secret in it first, then apply again."
    }
  }
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

  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags
}

# Secrets are created empty; put their values in with the console or
# `aws secretsmanager put-secret-value`. Functions read them at start (`..._ARN` variables).
# recovery_window_in_days: 0 deletes at once, so a destroy followed by an apply can create them
# again under the same names (a scheduled deletion would block the names for up to 30 days).
resource "aws_secretsmanager_secret" "pagerduty_routing_key" {
  name                    = "${var.name}/pagerduty-routing-key"
  description             = "PagerDuty Events API v2 integration key"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "slack_bot_token" {
  name                    = "${var.name}/slack-bot-token"
  description             = "Slack bot token (xoxb-...)"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "slack_signing_secret" {
  name                    = "${var.name}/slack-signing-secret"
  description             = "Slack signing secret, verifies every Slack request"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
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

  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1) # -1: unreserved

  environment {
    variables = merge(local.environment, local.function_secrets[each.key])
  }

  logging_config {
    log_format = "Text" # the functions write JSON lines themselves (zap)
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.function, terraform_data.receivers]
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
# verified by its Slack signature before anything else is read (internal/chatops). The URL exists
# as soon as slack_channel is set, before the secrets are filled: creating the Slack app needs it,
# and creating the app is what gives the signing secret and the bot token.
resource "aws_lambda_function_url" "slack" {
  count              = var.slack_channel == "" ? 0 : 1
  function_name      = aws_lambda_function.function["slack"].function_name
  authorization_type = "NONE"
}

# Since October 2025 a new function URL needs two statements for the public principal:
# lambda:InvokeFunctionUrl (auth type NONE) and lambda:InvokeFunction limited to invocations
# through the URL (lambda:InvokedViaFunctionUrl), or it answers 403.
# https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html#urls-auth-none
resource "aws_lambda_permission" "slack_url" {
  count                  = var.slack_channel == "" ? 0 : 1
  statement_id           = "FunctionURLAllowPublicAccess"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.function["slack"].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# The second statement. aws_lambda_permission in provider 5.x cannot set InvokedViaFunctionUrl
# (it arrived in 6.29), and without that condition the function could be invoked directly by any
# AWS principal, bypassing the URL. CloudFormation's AWS::Lambda::Permission can, so this one
# statement is a tiny stack; `terraform destroy` removes it with the rest.
resource "aws_cloudformation_stack" "slack_url_invoke" {
  count = var.slack_channel == "" ? 0 : 1
  name  = "${var.name}-slack-url-invoke"
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "ecs-medic: lambda:InvokeFunction for the Slack function's public URL, only through the URL"
    Resources = {
      FunctionURLAllowInvokeAction = {
        Type = "AWS::Lambda::Permission"
        Properties = {
          Action                = "lambda:InvokeFunction"
          FunctionName          = aws_lambda_function.function["slack"].function_name
          Principal             = "*"
          InvokedViaFunctionUrl = true
        }
      }
    }
  })
  tags = var.tags
}

# ---------------------------------------------------------------- organization

# Member accounts forward their ECS and alarm events to this account's default bus (see the
# member module). The bus admits the organization, or the listed accounts.
data "aws_iam_policy_document" "bus" {
  count = local.org_mode ? 1 : 0
  dynamic "statement" {
    for_each = var.organization_id == "" ? [] : [1]
    content {
      sid       = "EcsMedicOrganizationPutEvents"
      actions   = ["events:PutEvents"]
      resources = ["arn:${local.partition}:events:${local.region}:${local.account}:event-bus/default"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [var.organization_id]
      }
    }
  }
  dynamic "statement" {
    for_each = length(var.member_account_ids) == 0 ? [] : [1]
    content {
      sid       = "EcsMedicMemberAccountsPutEvents"
      actions   = ["events:PutEvents"]
      resources = ["arn:${local.partition}:events:${local.region}:${local.account}:event-bus/default"]
      principals {
        type        = "AWS"
        identifiers = [for a in var.member_account_ids : "arn:${local.partition}:iam::${a}:root"]
      }
    }
  }
}

# The default bus has one resource policy: this resource owns it. Set manage_bus_policy = false
# when something else does, and add the statements of the bus_policy output there.
resource "aws_cloudwatch_event_bus_policy" "members" {
  count          = local.org_mode && var.manage_bus_policy ? 1 : 0
  event_bus_name = "default"
  policy         = data.aws_iam_policy_document.bus[0].json
}
