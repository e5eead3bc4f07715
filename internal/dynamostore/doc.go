// Package dynamostore keeps incidents in one DynamoDB table, for the Lambda functions: many
// handlers at once, any of them killed at any moment, every write conditional.
//
// Layout (single table, string keys pk/sk, one sparse index gsi1):
//
//	pk = S#<scope>  sk = S     the scope: every active incident of one service or alarm, gzipped
//	                           JSON, a version for optimistic locking, and the marks applied
//	                           last (bounded)
//	pk = S#<scope>  sk = O#<id> an incident's occurrence item: the occurrences counted beside
//	                           the scope item (count, last seen, a ring of the last 12, the
//	                           marks of the last ones), closed once the incident resolves
//	pk = I#<id>     sk = I     an incident: its scope, and once resolved its final record
//	pk = M#<mark>   sk = M     an idempotency mark: pending (with a lease) or done, and its expiry
//	pk = Q#<scope>  sk = Q     a silence of the scope, until it expires
//	pk = G#<scope>  sk = G     the scope's remediation guard: lease, action times, revisions
//	pk = R#<key>    sk = R     a remembered key (a Slack request signature) and its expiry
//
// Keeping a scope's active incidents in one item makes "one active incident per scope and cause"
// and every multi-incident change a single conditional PutItem, without transactions (which
// dynalite, the test double, does not implement). An event's marks are claimed first with a
// lease, so a handler that dies after claiming only delays a retry; the scope item records the
// marks it applied, so a handler that dies after applying but before marking done is still
// recognised as a duplicate. Expiry is always checked in the condition: TTL deletion is lazy
// and is never trusted to have removed anything.
//
// An occurrence of an active incident that changes nothing else (the storm's common case) does
// not rewrite the scope item: after reading the event's marks and the scope's partition (the
// scope item and its occurrence items, one Query), it is one UpdateItem of the incident's
// occurrence item, conditional on the incident still being active at the version it was decided
// on and on the event's marks not being in the item, which the same write adds; the marks are
// then written done. Concurrent occurrences ADD to the count and never refuse each
// other. Every write of an incident in the scope item first moves its occurrence item to the new
// version (occurrence.go: fence), so an occurrence decided on what that write changes (a recovery
// under way, a resolve) is refused and decided again. A reader adds the occurrence item to the
// incident the scope item holds (withOccurrences).
//
// Files: dynamostore.go (the Store, its options), item.go (attribute helpers, conditional put,
// backoff), codec.go, table.go, scope.go (the scope item), update.go (Update), occurrence.go,
// marks.go (claims, leases, done marks), incidents.go (incident items, Modify, Get), list.go,
// silences.go, guard.go, remember.go, stats.go (requests and capacity units counted).
package dynamostore
