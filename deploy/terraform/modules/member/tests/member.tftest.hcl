# The member module's forwarding rules and role, planned against a mock of the AWS provider.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  central_event_bus_arn = "arn:aws:events:us-east-1:111122223333:event-bus/default"
  trusted_role_arns     = ["arn:aws:iam::111122223333:role/ecs-medic-ecs-events", "arn:aws:iam::111122223333:role/ecs-medic-remediate"]
}

run "read_only_by_default_and_forwards_what_the_central_rules_take" {
  command = plan
  variables {
    cluster_arns = ["arn:aws:ecs:us-east-1:222233334444:cluster/prod"]
  }
  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.forward : t.arn == "arn:aws:events:us-east-1:111122223333:event-bus/default" && t.role_arn == aws_iam_role.forward.arn])
    error_message = "every rule forwards to the central bus with the forwarding role"
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.forward)) == toset(["task-stopped", "service", "alarms"])
    error_message = "task, service/deployment and alarm events are forwarded"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.forward["service"].event_pattern).resources == [{ prefix = "arn:aws:ecs:us-east-1:222233334444:service/prod/" }]
    error_message = "the service filter's prefix ends at the cluster"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.forward["alarms"].event_pattern).detail.alarmName == [{ "anything-but" = { prefix = "TargetTracking-" } }]
    error_message = "TargetTracking-* alarms are not forwarded"
  }
  assert {
    condition = [for p in one(data.aws_iam_policy_document.member_assume.statement).principals : "${p.type} ${join(",", sort(p.identifiers))}"] == [
      "AWS arn:aws:iam::111122223333:role/ecs-medic-ecs-events,arn:aws:iam::111122223333:role/ecs-medic-remediate"
    ]
    error_message = "only the central functions' roles may assume the member role"
  }
  assert {
    condition     = aws_iam_role.member.name == "ecs-medic-member"
    error_message = "the member role is named as MEDIC_MEMBER_ROLE_ARN expects"
  }
  assert {
    condition     = length(aws_iam_role_policy.member_fix) == 0
    error_message = "read-only by default"
  }
  assert {
    condition = alltrue([for a in flatten([for s in data.aws_iam_policy_document.member_read.statement : s.actions]) :
    can(regex("^(ecs|logs|application-autoscaling):(Describe|List|Get|Filter)", a))])
    error_message = "the read policy only reads"
  }
  assert {
    condition     = toset(one(data.aws_iam_policy_document.forward.statement).actions) == toset(["events:PutEvents"]) && toset(one(data.aws_iam_policy_document.forward.statement).resources) == toset(["arn:aws:events:us-east-1:111122223333:event-bus/default"])
    error_message = "the forwarding role may only put events on the central bus"
  }
}

run "fixes_behind_allow_fixes_scoped_like_the_central_module" {
  command = plan
  variables {
    allow_fixes    = true
    pass_role_arns = ["arn:aws:iam::222233334444:role/ecs-*"]
  }
  assert {
    condition     = length(aws_iam_role_policy.member_fix) == 1
    error_message = "allow_fixes attaches the fix policy"
  }
  assert {
    condition = [for c in one([for s in data.aws_iam_policy_document.member_fix.statement : s if contains(s.actions, "ecs:TagResource")]).condition :
    "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals ecs:CreateAction RegisterTaskDefinition"]
    error_message = "ecs:TagResource only while registering a revision"
  }
  assert {
    condition = [for c in one([for s in data.aws_iam_policy_document.member_fix.statement : s if contains(s.actions, "iam:PassRole")]).condition :
    "${c.test} ${c.variable} ${join(",", c.values)}"] == ["StringEquals iam:PassedToService ecs-tasks.amazonaws.com"]
    error_message = "roles may be passed only to ECS tasks"
  }
  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.member_fix.statement : s.resources if s.sid == "Fix"])) == toset(["arn:aws:ecs:us-east-1:222233334444:service/*", "arn:aws:ecs:us-east-1:222233334444:task-definition/*"])
    error_message = "fixes only on this account's services and task definitions"
  }
}
