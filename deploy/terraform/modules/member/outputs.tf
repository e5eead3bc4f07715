output "member_role_arn" {
  description = "The role the central functions assume in this account."
  value       = aws_iam_role.member.arn
}

output "forward_rule_arns" {
  description = "The forwarding rules, by kind."
  value       = { for k, r in aws_cloudwatch_event_rule.forward : k => r.arn }
}
