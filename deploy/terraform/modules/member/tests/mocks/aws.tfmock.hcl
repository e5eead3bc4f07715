# Mock values of the AWS provider for the member module's tests.

mock_data "aws_caller_identity" {
  defaults = { account_id = "222233334444" }
}
mock_data "aws_region" {
  defaults = { id = "us-east-1", name = "us-east-1" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::222233334444:role/mock" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}", minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
