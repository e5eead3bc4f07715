# Mock values of the AWS provider for the module's tests (tests/module.tftest.hcl).

mock_data "aws_caller_identity" {
  defaults = { account_id = "111122223333" }
}
mock_data "aws_region" {
  defaults = { id = "us-east-1", name = "us-east-1" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
# Resources whose ARNs other resources validate.
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::111122223333:role/mock" }
}
mock_resource "aws_sqs_queue" {
  defaults = { arn = "arn:aws:sqs:us-east-1:111122223333:mock", url = "https://sqs.us-east-1.amazonaws.com/111122223333/mock" }
}
mock_resource "aws_lambda_function" {
  defaults = { arn = "arn:aws:lambda:us-east-1:111122223333:function:mock" }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:us-east-1:111122223333:log-group:mock" }
}
mock_resource "aws_dynamodb_table" {
  defaults = { arn = "arn:aws:dynamodb:us-east-1:111122223333:table/mock" }
}
mock_resource "aws_cloudwatch_event_rule" {
  defaults = { arn = "arn:aws:events:us-east-1:111122223333:rule/mock" }
}
# The documents' statements are asserted below; their rendered JSON only has to be a policy.
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}", minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
