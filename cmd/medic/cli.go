package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// version is set at build time (make build: -ldflags "-X main.version=..."); without it the
// module version and VCS revision the Go toolchain recorded are shown.
var version string

// versionString is what `medic --version` prints.
func versionString() string {
	v := version
	var rev, modified string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "+dirty"
				}
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	out := "medic " + v
	if rev != "" && !strings.Contains(v, rev[:min(len(rev), 7)]) {
		out += fmt.Sprintf(" (%s%s)", rev[:min(len(rev), 12)], modified)
	}
	return out
}

// wantsHelp says whether the arguments ask for help (-h, -help, --help before a "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// newFlags is a command's flag set; its errors go to stderr, its help (printHelp) to stdout.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// printHelp writes a command's usage line, what it does, and its flags.
func printHelp(w io.Writer, fs *flag.FlagSet, usage, about string) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", usage, about)
	if fs == nil {
		return
	}
	var flags bytes.Buffer
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
}

// input is one input of a command: a file, or stdin.
type input struct {
	name string
	data []byte
}

// readNamedInputs is readInputs keeping each input's name, for messages that point at a file.
func readNamedInputs(files []string, stdin io.Reader) ([]input, error) {
	if len(files) == 0 {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return []input{{name: "stdin", data: b}}, nil
	}
	out := make([]input, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, input{name: f, data: b})
	}
	return out, nil
}

// lineFinder gives the line of each event of an input, in order: events are found verbatim in
// the input, each after the previous one.
type lineFinder struct {
	data   []byte
	cursor int
}

// line returns the 1-based line where raw starts, or 0 when it cannot be found.
func (f *lineFinder) line(raw []byte) int {
	if len(raw) == 0 {
		return 0
	}
	i := bytes.Index(f.data[f.cursor:], raw)
	if i < 0 {
		return 0
	}
	at := f.cursor + i
	f.cursor = at + len(raw)
	return 1 + bytes.Count(f.data[:at], []byte("\n"))
}
