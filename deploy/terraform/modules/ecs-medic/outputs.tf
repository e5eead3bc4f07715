output "table_name" {
  description = "The incident table."
  value       = aws_dynamodb_table.incidents.name
}

output "function_arns" {
  description = "ARN of each function."
  value       = { for k, f in aws_lambda_function.function : k => f.arn }
}

output "dead_letter_queue_url" {
  description = "Where events that could not be handled wait."
  value       = aws_sqs_queue.dead_letters.id
}

output "secret_arns" {
  description = "Secrets to fill in after the first apply."
  value = {
    pagerduty_routing_key = aws_secretsmanager_secret.pagerduty_routing_key.arn
    slack_bot_token       = aws_secretsmanager_secret.slack_bot_token.arn
    slack_signing_secret  = aws_secretsmanager_secret.slack_signing_secret.arn
  }
}

output "slack_request_url" {
  description = "The URL to give the Slack app for its slash command and interactivity (deploy/slack/manifest.yaml)."
  value       = var.slack_channel == "" ? null : aws_lambda_function_url.slack[0].function_url
}
