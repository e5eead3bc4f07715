package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// encodingJSON is how the answer was written before appendAnswer, and what it must equal.
func encodingJSON(t testing.TB, resp eventsResponse) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(resp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendAnswerMatchesEncodingJSON(t *testing.T) {
	full := pipeline.Result{ID: "7f0e5c2a-1", DetailType: "ECS Task State Change", Account: "123456789012", Region: "eu-west-1",
		Cluster: "prod", Service: "checkout", TaskArn: "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc", Cause: "oom",
		Sub: "container", Confidence: "high", Evidence: "OutOfMemoryError: Container killed due to memory usage",
		Severity: "P1", Incident: "inc-01", Outcome: pipeline.OutcomeOpened, Actions: []string{"paged", "slack"},
		Why: "because", Error: "none"}
	for _, c := range []struct {
		name string
		resp eventsResponse
	}{
		{"nil results", eventsResponse{}},
		{"no results, an error", eventsResponse{Results: []pipeline.Result{}, Error: "no events in the request body"}},
		{"occurrence", eventsResponse{Results: []pipeline.Result{{ID: "e1", Cluster: "prod", Service: "api", Cause: "oom", Severity: "P2", Incident: "inc-1", Outcome: pipeline.OutcomeOccurrence}}}},
		{"empty actions", eventsResponse{Results: []pipeline.Result{{Outcome: pipeline.OutcomeDuplicate, Actions: []string{}}}}},
		{"one action", eventsResponse{Results: []pipeline.Result{{Outcome: pipeline.OutcomeOpened, Actions: []string{"paged"}}}}},
		{"every field, twice", eventsResponse{Results: []pipeline.Result{full, full}, Error: "some events could not be stored; retry them"}},
		{"only error fields", eventsResponse{Results: []pipeline.Result{{Outcome: pipeline.OutcomeError, Error: "malformed"}}}},
		{"escapes", eventsResponse{Results: []pipeline.Result{{
			ID: "quote \" backslash \\ <script>&amp;", Evidence: "tab\tnewline\nreturn\r\x00\x01\x1f bell\b feed\f",
			Service: "日本語 é \u2028 \u2029", TaskArn: "bad utf-8 \xff\xfe end", Outcome: "odd\"outcome",
			Actions: []string{"<a>", "del\x7f"}, Why: "~ ok", Error: "\x7f"}}, Error: "<&>"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := encodingJSON(t, c.resp)
			got := appendAnswer(nil, &c.resp)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendAnswer:\n%s\nencoding/json:\n%s", got, want)
			}
		})
	}
}

func FuzzAppendAnswer(f *testing.F) {
	f.Add("e1", "prod", "oom", "<b>\"", "opened", "paged", "", true)
	f.Add("", "", "", "", "", "", "err\n", false)
	f.Fuzz(func(t *testing.T, id, cluster, cause, evidence, outcome, action, errText string, withActions bool) {
		r := pipeline.Result{ID: id, Cluster: cluster, Cause: cause, Evidence: evidence, Outcome: pipeline.Outcome(outcome), Error: errText}
		if withActions {
			r.Actions = []string{action, evidence}
		}
		resp := eventsResponse{Results: []pipeline.Result{r}, Error: errText}
		if got, want := appendAnswer(nil, &resp), encodingJSON(t, resp); !bytes.Equal(got, want) {
			t.Fatalf("appendAnswer:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// Every field of a result is in the answer: a field added to pipeline.Result (set here by
// reflection, whatever its name) that appendAnswer does not write fails this test instead of
// silently missing from the answer.
func TestAppendAnswerWritesEveryField(t *testing.T) {
	var r pipeline.Result
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"one of " + v.Type().Field(i).Name}).Convert(f.Type()))
		default:
			t.Fatalf("pipeline.Result.%s is a %s: teach appendAnswer and this test about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	resp := eventsResponse{Results: []pipeline.Result{r}, Error: "e"}
	if got, want := appendAnswer(nil, &resp), encodingJSON(t, resp); !bytes.Equal(got, want) {
		t.Fatalf("appendAnswer:\n%s\nencoding/json:\n%s", got, want)
	}
}
