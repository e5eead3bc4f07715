// Package dynamostore keeps incidents in one DynamoDB table, for the Lambda functions: many
// handlers at once, any of them killed at any moment, every write conditional.
//
// Layout (single table, string keys pk/sk, one sparse index gsi1):
//
//	pk = S#<scope>  sk = S    the scope: every active incident of one service or alarm, gzipped
//	                          JSON, a version for optimistic locking, and the marks applied
//	                          last (bounded)
//	pk = I#<id>     sk = I    an incident: its scope, and once resolved its final record
//	pk = M#<mark>   sk = M    an idempotency mark: pending (with a lease) or done, and its expiry
//	pk = Q#<scope>  sk = Q    a silence of the scope, until it expires
//	pk = G#<scope>  sk = G    the scope's remediation guard: lease, action times, revisions
//	pk = R#<key>    sk = R    a remembered key (a Slack request signature) and its expiry
//
// Keeping a scope's active incidents in one item makes "one active incident per scope and cause"
// and every multi-incident change a single conditional PutItem, without transactions (which
// dynalite, the test double, does not implement). An event's marks are claimed first with a
// lease, so a handler that dies after claiming only delays a retry; the scope item records the
// marks it applied, so a handler that dies after applying but before marking done is still
// recognised as a duplicate. Expiry is always checked in the condition: TTL deletion is lazy
// and is never trusted to have removed anything.
package dynamostore
