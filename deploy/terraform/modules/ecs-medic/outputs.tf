output "table_name" {
  description = "The incident table."
  value       = aws_dynamodb_table.incidents.name
}

output "function_arns" {
  description = "ARN of each function."
  value       = { for k, f in aws_lambda_function.function : k => f.arn }
}

output "function_names" {
  description = "Name of each function (medic smoke invokes ecs-events by name)."
  value       = { for k, f in aws_lambda_function.function : k => f.function_name }
}

output "function_role_arns" {
  description = "The functions' roles: the member module's trusted_role_arns."
  value       = { for k, r in aws_iam_role.function : k => r.arn }
}

output "dead_letter_queue_url" {
  description = "Where events that could not be handled wait."
  value       = aws_sqs_queue.dead_letters.id
}

output "secret_arns" {
  description = "The three secrets, created empty: fill the ones of the receivers you use."
  value = {
    pagerduty_routing_key = aws_secretsmanager_secret.pagerduty_routing_key.arn
    slack_bot_token       = aws_secretsmanager_secret.slack_bot_token.arn
    slack_signing_secret  = aws_secretsmanager_secret.slack_signing_secret.arn
  }
}

output "fill_secrets" {
  description = "The commands that put a value in each secret (replace VALUE); then switch its receiver on."
  value = {
    for k, s in {
      pagerduty_routing_key = aws_secretsmanager_secret.pagerduty_routing_key
      slack_bot_token       = aws_secretsmanager_secret.slack_bot_token
      slack_signing_secret  = aws_secretsmanager_secret.slack_signing_secret
    } : k => "aws secretsmanager put-secret-value --region ${local.region} --secret-id ${s.name} --secret-string 'VALUE'"
  }
}

output "slack_request_url" {
  description = "The URL to give the Slack app for its slash command and interactivity (deploy/slack/manifest.yaml): exists once slack_channel is set."
  value       = var.slack_channel == "" ? null : aws_lambda_function_url.slack[0].function_url
}

output "smoke_command" {
  description = "The command that proves the deployed path end to end (medic smoke)."
  value       = "medic smoke --function ${aws_lambda_function.function["ecs-events"].function_name} --region ${local.region}"
}

output "bus_policy" {
  description = "In organization mode, the default event bus's resource policy admitting the members (applied unless manage_bus_policy = false)."
  value       = local.org_mode ? data.aws_iam_policy_document.bus[0].json : null
}
