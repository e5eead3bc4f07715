# The module's rendered event patterns, IAM policy statements and permissions, against a mock of
# the AWS provider (no account, no network): `make test` runs these. The first run applies; the
# others plan against its state with mocked values known while planning. Few runs, many
# assertions each: every run starts the provider, which is most of the time spent.

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias           = "planned"
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  package_dir = "./tests/package"
}

# The first apply, as the example's tfvars ship: Slack's URL is there (creating the Slack app
# needs it), but no secret reaches any function, so every function starts although the secrets
# are still empty.
run "first_apply_works_with_empty_secrets" {
  command = apply
  variables {
    slack_channel = "C0123INCIDENTS"
    cluster_arns  = ["arn:aws:ecs:us-east-1:111122223333:cluster/prod"]
  }
  assert {
    condition = alltrue([for f in aws_lambda_function.function : alltrue([
      for k in keys(f.environment[0].variables) : !endswith(k, "_ARN") && k != "MEDIC_SLACK_CHANNEL"
    ])])
    error_message = "a function gets a secret or the Slack channel before the secrets are filled: it would refuse to start"
  }
  assert {
    condition     = length(aws_lambda_function_url.slack) == 1
    error_message = "the Slack request URL must exist before the secrets are filled"
  }
  assert {
    condition     = alltrue([for d in data.aws_iam_policy_document.common : length([for s in d.statement : s if s.sid == "Secrets"]) == 0])
    error_message = "no role may read a secret that is not passed to its function"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.reserved_concurrent_executions == -1])
    error_message = "nothing may be reserved by default: Lambda refuses reservations on accounts with the default quota"
  }
  # The Slack URL answers: both statements for the public principal.
  assert {
    condition = (aws_lambda_permission.slack_url[0].action == "lambda:InvokeFunctionUrl" &&
      aws_lambda_permission.slack_url[0].principal == "*" &&
    aws_lambda_permission.slack_url[0].function_url_auth_type == "NONE")
    error_message = "the URL needs lambda:InvokeFunctionUrl for * with auth type NONE"
  }
  assert {
    condition = jsondecode(aws_cloudformation_stack.slack_url_invoke[0].template_body).Resources.FunctionURLAllowInvokeAction == {
      Type = "AWS::Lambda::Permission"
      Properties = {
        Action                = "lambda:InvokeFunction"
        FunctionName          = "ecs-medic-slack"
        Principal             = "*"
        InvokedViaFunctionUrl = true
      }
    }
    error_message = "the URL also needs lambda:InvokeFunction for *, and only through the URL"
  }
  # The service filter's prefix ends at the cluster.
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rule["service"].event_pattern).resources == [{ prefix = "arn:aws:ecs:us-east-1:111122223333:service/prod/" }]
    error_message = "the service rule's prefix must end in / so that cluster prod does not take prod-canary or production"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rule["task-stopped"].event_pattern).detail.clusterArn == ["arn:aws:ecs:us-east-1:111122223333:cluster/prod"]
    error_message = "the task rule matches the cluster ARN exactly"
  }
  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.ecs_events.statement : s.resources if s.sid == "ServiceState"])) == toset(["arn:aws:ecs:us-east-1:111122223333:service/prod/*"])
    error_message = "service reads are scoped to the watched cluster's services"
  }
}

# The second step done too early: the secret exists but holds no value.
run "switching_pagerduty_on_with_an_empty_secret_is_refused" {
  command   = plan
  providers = { aws = aws.planned }
  variables {
    pagerduty_enabled = true
  }
  override_data {
    override_during = plan
    target          = data.aws_secretsmanager_secret_versions.pagerduty[0]
    values          = { versions = [] }
  }
  expect_failures = [terraform_data.receivers]
}

run "receivers_on_once_filled_each_role_reads_only_its_secrets" {
  command   = plan
  providers = { aws = aws.planned }
  variables {
    pagerduty_enabled = true
    slack_channel     = "C0123INCIDENTS"
    slack_enabled     = true
  }
  override_data {
    override_during = plan
    target          = data.aws_secretsmanager_secret_versions.pagerduty[0]
    values          = { versions = [{ version_id = "v1", version_stages = ["AWSCURRENT"], created_time = "", last_accessed_date = "" }] }
  }
  override_data {
    override_during = plan
    target          = data.aws_secretsmanager_secret_versions.slack_bot_token[0]
    values          = { versions = [{ version_id = "v1", version_stages = ["AWSCURRENT"], created_time = "", last_accessed_date = "" }] }
  }
  override_data {
    override_during = plan
    target          = data.aws_secretsmanager_secret_versions.slack_signing_secret[0]
    values          = { versions = [{ version_id = "v1", version_stages = ["AWSCURRENT"], created_time = "", last_accessed_date = "" }] }
  }
  assert {
    condition = alltrue([for k, f in aws_lambda_function.function :
      contains(keys(f.environment[0].variables), "MEDIC_PAGERDUTY_ROUTING_KEY_ARN") &&
      contains(keys(f.environment[0].variables), "MEDIC_SLACK_BOT_TOKEN_ARN") &&
      f.environment[0].variables["MEDIC_SLACK_CHANNEL"] == "C0123INCIDENTS" &&
      contains(keys(f.environment[0].variables), "MEDIC_SLACK_SIGNING_SECRET_ARN") == (k == "slack")
    ])
    error_message = "every function gets the PagerDuty key and the bot token; only the Slack function gets the signing secret"
  }
  assert {
    condition = alltrue([for k, d in data.aws_iam_policy_document.common :
      contains(flatten([for s in d.statement : s.resources if s.sid == "Secrets"]), aws_secretsmanager_secret.slack_signing_secret.arn) == (k == "slack")
    ])
    error_message = "only the Slack function's role may read the signing secret"
  }
}

run "defaults" {
  command   = plan
  providers = { aws = aws.planned }
  assert {
    condition     = length(aws_lambda_function_url.slack) == 0 && length(aws_lambda_permission.slack_url) == 0 && length(aws_cloudformation_stack.slack_url_invoke) == 0
    error_message = "without slack_channel nothing may be public"
  }
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.rule["task-stopped"].event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Task State Change"]
      detail = {
        lastStatus = ["STOPPED"]
        "$or" = [
          { stoppedReason = [{ "anything-but" = { prefix = "Scaling activity initiated by" } }] },
          { stoppedReason = [{ exists = false }] },
        ]
      }
    }
    error_message = "the task rule must take STOPPED tasks but scale-in stops"
  }
  assert {
    condition     = !contains(keys(jsondecode(aws_cloudwatch_event_rule.rule["service"].event_pattern)), "resources")
    error_message = "without cluster_arns the service rule takes every service"
  }
  # The default alarm rule leaves out Application Auto Scaling's alarms.
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rule["alarms"].event_pattern).detail.alarmName == [{ "anything-but" = { prefix = "TargetTracking-" } }]
    error_message = "the default alarm rule must leave out Application Auto Scaling's TargetTracking-* alarms"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rule["alarms"].event_pattern).detail.state == { value = ["ALARM", "OK"] }
    error_message = "alarms entering ALARM or OK only"
  }
  assert {
    condition     = alltrue([for d in data.aws_iam_policy_document.common : alltrue([for s in d.statement : !contains(s.actions, "sts:AssumeRole")])])
    error_message = "without organization settings no function may assume a role"
  }
  assert {
    condition     = length(aws_cloudwatch_event_bus_policy.members) == 0 && !contains(keys(aws_lambda_function.function["ecs-events"].environment[0].variables), "MEDIC_MEMBER_ROLE_ARN")
    error_message = "without organization settings the bus stays closed and no member role is named"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.environment[0].variables["MEDIC_HOME_ACCOUNT"] == "111122223333"])
    error_message = "every function is told its home account"
  }
  assert {
    condition     = alltrue([for s in [aws_secretsmanager_secret.pagerduty_routing_key, aws_secretsmanager_secret.slack_bot_token, aws_secretsmanager_secret.slack_signing_secret] : s.recovery_window_in_days == 0])
    error_message = "secrets are deleted at once by default, so a destroy and a new apply can reuse their names"
  }
  assert {
    condition     = aws_dynamodb_table.incidents.deletion_protection_enabled
    error_message = "the incident table is protected by default"
  }
}

run "fixes_are_remediate_only_and_tag_only_new_revisions" {
  command   = plan
  providers = { aws = aws.planned }
  variables {
    pass_role_arns       = ["arn:aws:iam::111122223333:role/ecs-*"]
    deletion_protection  = false
    reserved_concurrency = { ecs-events = 20, reconciler = 1 }

    pagerduty_api_token_secret_arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:pd-api-token-AbCdEf"
    pagerduty_from                 = "oncall-bot@example.com"
  }
  assert {
    condition = alltrue([for d in [data.aws_iam_policy_document.ecs_events, data.aws_iam_policy_document.alarm_events,
      data.aws_iam_policy_document.reconciler, data.aws_iam_policy_document.slack] : alltrue([
        for a in flatten([for s in d.statement : s.actions]) : !contains(["ecs:UpdateService", "ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"], a)
    ])])
    error_message = "only the remediation function may change ECS"
  }
  assert {
    condition = [for c in one([for s in data.aws_iam_policy_document.remediate.statement : s if contains(s.actions, "ecs:TagResource")]).condition :
    "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals ecs:CreateAction RegisterTaskDefinition"]
    error_message = "ecs:TagResource only while registering a revision (ecs:CreateAction)"
  }
  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.remediate.statement : s.actions if s.sid == "Fix"])) == toset(["ecs:RegisterTaskDefinition", "ecs:UpdateService"])
    error_message = "the Fix statement grants exactly RegisterTaskDefinition and UpdateService"
  }
  assert {
    condition = [for c in one([for s in data.aws_iam_policy_document.remediate.statement : s if contains(s.actions, "iam:PassRole")]).condition :
    "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals iam:PassedToService ecs-tasks.amazonaws.com"]
    error_message = "roles may be passed only to ECS tasks"
  }
  assert {
    condition     = aws_dynamodb_table.incidents.deletion_protection_enabled == false
    error_message = "deletion protection follows deletion_protection"
  }
  assert {
    condition     = aws_lambda_function.function["ecs-events"].reserved_concurrent_executions == 20 && aws_lambda_function.function["slack"].reserved_concurrent_executions == -1
    error_message = "reservations are made only where asked"
  }
  # The PagerDuty REST API token reaches only the functions that escalate and the Slack function
  # (/medic oncall).
  assert {
    condition = alltrue([for k, f in aws_lambda_function.function :
      (lookup(f.environment[0].variables, "MEDIC_PAGERDUTY_API_TOKEN_ARN", "") != "") == contains(["reconciler", "ecs-events", "slack"], k)
    ])
    error_message = "only the reconciler and the events function get the PagerDuty API token"
  }
  assert {
    condition = alltrue([for k, d in data.aws_iam_policy_document.common :
      contains(flatten([for s in d.statement : s.resources if s.sid == "Secrets"]), "arn:aws:secretsmanager:us-east-1:111122223333:secret:pd-api-token-AbCdEf") == contains(["reconciler", "ecs-events", "slack"], k)
    ])
    error_message = "only their roles may read it"
  }
}

run "bad_inputs_are_refused" {
  command   = plan
  providers = { aws = aws.planned }
  variables {
    alarm_name_prefixes = ["TargetTracking-service/prod"]
    pass_role_arns      = ["*"]
  }
  expect_failures = [var.alarm_name_prefixes, var.pass_role_arns]
}

run "organization_admits_members_and_assumes_only_the_member_role" {
  command   = plan
  providers = { aws = aws.planned }
  variables {
    organization_id    = "o-abc123defg"
    member_account_ids = ["222233334444"]
  }
  assert {
    condition = alltrue([for d in data.aws_iam_policy_document.common :
      toset(one([for s in d.statement : s.resources if s.sid == "MemberAccounts"])) == toset(["arn:aws:iam::222233334444:role/ecs-medic-member"])
    ])
    error_message = "each function may assume the member role of the listed accounts, nothing else"
  }
  assert {
    condition = alltrue([for f in aws_lambda_function.function :
      f.environment[0].variables["MEDIC_MEMBER_ROLE_ARN"] == "arn:aws:iam::{account}:role/ecs-medic-member" &&
      f.environment[0].variables["MEDIC_ACCOUNTS"] == "111122223333,222233334444"
    ])
    error_message = "the functions get MEDIC_MEMBER_ROLE_ARN with {account}, and MEDIC_ACCOUNTS"
  }
  assert {
    condition = [for c in one([for s in data.aws_iam_policy_document.bus[0].statement : s if s.sid == "EcsMedicOrganizationPutEvents"]).condition :
    "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals aws:PrincipalOrgID o-abc123defg"]
    error_message = "the bus admits the organization by aws:PrincipalOrgID"
  }
  assert {
    condition = [for p in one([for s in data.aws_iam_policy_document.bus[0].statement : s if s.sid == "EcsMedicMemberAccountsPutEvents"]).principals :
    "${p.type} ${join(",", p.identifiers)}"] == ["AWS arn:aws:iam::222233334444:root"]
    error_message = "the bus admits the listed accounts"
  }
  assert {
    condition     = length(aws_cloudwatch_event_bus_policy.members) == 1
    error_message = "the bus policy is applied"
  }
}

run "organization_without_a_list_assumes_the_role_by_name_in_any_account" {
  command   = plan
  providers = { aws = aws.planned }
  variables {
    organization_id = "o-abc123defg"
  }
  assert {
    condition = alltrue([for d in data.aws_iam_policy_document.common :
      toset(one([for s in d.statement : s.resources if s.sid == "MemberAccounts"])) == toset(["arn:aws:iam::*:role/ecs-medic-member"])
    ])
    error_message = "with the whole organization, only roles named member_role_name may be assumed"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.function["ecs-events"].environment[0].variables), "MEDIC_ACCOUNTS")
    error_message = "without a list every account of the organization is accepted"
  }
}
