package route

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Candidate is a route an incident of a service may take, when its cause (and maybe its cluster
// or tags) is not known yet.
type Candidate struct {
	Name string
	// When says which of the service's incidents take it ("" for all that reach it), e.g.
	// "cause crash-loop"; the default route's is "".
	When string
}

// Candidates returns the routes an incident of s can take, in the order they are tried. Fields of
// s left empty (and Tags nil) are not known: a route matching on one of them may or may not
// match, so it is listed with its condition and the search goes on; it stops at the first route
// that matches s whatever the unknowns are, else ends with the default route. A nil File (no
// routes configured) gives the default route alone.
func (f *File) Candidates(s Subject) []Candidate {
	if f == nil {
		return []Candidate{{Name: DefaultName}}
	}
	var out []Candidate
	for _, r := range f.Routes {
		ok, unknown := r.Match.mayMatch(s)
		if !ok {
			continue
		}
		if len(unknown) == 0 {
			return append(out, Candidate{Name: r.Name})
		}
		out = append(out, Candidate{Name: r.Name, When: strings.Join(unknown, ", ")})
	}
	return append(out, Candidate{Name: DefaultName})
}

// mayMatch says whether m can match s, and the conditions on what s does not know that it
// depends on (none: it matches for certain).
func (m Match) mayMatch(s Subject) (bool, []string) {
	var unknown []string
	for _, p := range [][3]string{{"account", m.Account, s.Account}, {"region", m.Region, s.Region},
		{"cluster", m.Cluster, s.Cluster}, {"service", m.Service, s.Service}, {"cause", m.Cause, s.Cause}} {
		field, glob, v := p[0], p[1], p[2]
		switch {
		case glob == "":
		case v == "":
			unknown = append(unknown, field+" "+glob)
		default:
			if ok, _ := path.Match(glob, v); !ok {
				return false, nil
			}
		}
	}
	keys := make([]string, 0, len(m.Tags))
	for k := range m.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if s.Tags == nil {
			unknown = append(unknown, fmt.Sprintf("tag %s=%s", k, m.Tags[k]))
			continue
		}
		v, ok := s.Tags[k]
		if !ok {
			return false, nil
		}
		if ok, _ := path.Match(m.Tags[k], v); !ok {
			return false, nil
		}
	}
	return true, unknown
}
