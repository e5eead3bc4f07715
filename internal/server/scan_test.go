package server

import "testing"

func TestSingleObjectAndCountEvents(t *testing.T) {
	for _, tc := range []struct {
		body   string
		single bool
		count  int
	}{
		{`{"id":"a"}`, true, 1},
		{"  {\"id\":\"a\",\"d\":{\"x\":[1,{}]}}\n", true, 1},
		{`{"id":"a}"}`, true, 1},
		{`{"id":"a\"}{"}`, true, 1},
		{`{"id":"a"}{"id":"b"}`, false, 1},
		{`{"id":"a"} x`, false, 1},
		{`{"id":"a"`, false, 1},
		{`{`, false, 1},
		{``, false, 1},
		{`[]`, false, 0},
		{`[{"id":"a"},{"id":"b","d":{"c":[{},{}]}}]`, false, 2},
		{`[{"id":"a{"},{"id":"b"},{}]`, false, 3},
		{`[[{"id":"a"}],{"id":"b"}]`, false, 1},
	} {
		if got := singleObject([]byte(tc.body)); got != tc.single {
			t.Errorf("singleObject(%q) = %v, want %v", tc.body, got, tc.single)
		}
		if got := countEvents([]byte(tc.body)); got != tc.count {
			t.Errorf("countEvents(%q) = %d, want %d", tc.body, got, tc.count)
		}
	}
}
