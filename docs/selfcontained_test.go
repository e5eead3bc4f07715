// Package docs holds the project's documentation; its test keeps the documents self-contained:
// users have only the repository, so nothing in it may point at documents that do not ship.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outside are the ways a document points outside the repository: the team's shared folder, its
// contract's section numbers, procedure documents by number, and issue trackers by number.
// (Written with character classes so this file does not itself read as such a reference.)
var outside = regexp.MustCompile(`\.\./[s]hared|/work/[s]hared|SPEC[ ]§|SPEC\.md|STYLE\.md|SOP\.md|\bSOP-\d+|(?i:\bissues?\s*#?\d+)|(?:^|[\s(\[])#\d+\b`)

// roots are what a user reads: the README, the docs, the runbooks, the deploy files.
var roots = []string{"../README.md", ".", "../runbooks", "../deploy"}

func TestDocumentsStandOnTheirOwn(t *testing.T) {
	checked := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); name == ".terraform" || name == "node_modules" {
					return filepath.SkipDir
				}
				return nil
			}
			switch filepath.Ext(path) {
			case ".md", ".tf", ".hcl", ".yaml", ".yml", ".example", ".sh":
			default:
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			checked++
			for i, line := range strings.Split(string(b), "\n") {
				if m := outside.FindString(line); m != "" {
					t.Errorf("%s:%d points outside the repository (%q): say it here, or link a document that ships\n\t%s", path, i+1, strings.TrimSpace(m), strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d documents checked: the walk is broken", checked)
	}
}

// The check must be able to fail.
func TestOutsideReferencesAreCaught(t *testing.T) {
	for _, bad := range []string{"see ../" + "shared/SOP.md", "SPEC " + "§5", "(SOP-001)", "iss" + "ue #12", "issue 5", "(from #3)", "tracked in #10."} {
		if !outside.MatchString(bad) {
			t.Errorf("not caught: %q", bad)
		}
	}
	for _, good := range []string{`background_color: "#232f3e"`, "# Heading", "P1 in 15 min", "docs/procedures.md#rollback"} {
		if outside.MatchString(good) {
			t.Errorf("caught wrongly: %q", good)
		}
	}
}
