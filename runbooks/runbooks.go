// Package runbooks holds the runbooks shipped inside the binary: one Markdown file per cause or
// alarm, readable by people and by ecs-medic (internal/runbook parses them). MEDIC_RUNBOOKS
// points at a folder to use instead.
package runbooks

import "embed"

// FS is the shipped runbooks.
//
//go:embed *.md
var FS embed.FS
