package autoscaling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// scalingAPI answers DescribeScalableTargets on Application Auto Scaling's JSON 1.1 protocol with
// the given targets (or, with another status, an error), and keeps the request bodies.
func scalingAPI(t *testing.T, status int, targets ...map[string]any) (*httptest.Server, *[]map[string]any) {
	t.Helper()
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AnyScaleFrontendService.DescribeScalableTargets" {
			http.Error(w, "unexpected "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		got = append(got, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"__type":"ValidationException","message":"no such service"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ScalableTargets": targets})
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func target(dimension string, maxCapacity int) map[string]any {
	return map[string]any{"ServiceNamespace": "ecs", "ResourceId": "service/prod/checkout", "ScalableDimension": dimension,
		"MinCapacity": 1, "MaxCapacity": maxCapacity, "RoleARN": "arn:aws:iam::111122223333:role/x", "CreationTime": 1.7e9}
}

func TestMaxTasks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []map[string]any
		want    int
		ok      bool
	}{
		{"the least desired-count maximum, other dimensions ignored", []map[string]any{
			target("ecs:service:DesiredCount", 8), target("custom-resource:ResourceType:Property", 2), target("ecs:service:DesiredCount", 6)}, 6, true},
		{"one target", []map[string]any{target("ecs:service:DesiredCount", 9)}, 9, true},
		{"a first target below a later one", []map[string]any{target("ecs:service:DesiredCount", 3), target("ecs:service:DesiredCount", 7)}, 3, true},
		{"only another dimension", []map[string]any{target("custom-resource:ResourceType:Property", 2)}, 0, false},
		{"not registered", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := scalingAPI(t, http.StatusOK, tc.targets...)
			r := autoscaling.New(applicationautoscaling.NewFromConfig(fakes.AWSConfig(srv.URL)))
			n, ok, err := r.MaxTasks(context.Background(), "prod", "checkout")
			if err != nil || n != tc.want || ok != tc.ok {
				t.Fatalf("got %d, %v, %v; want %d, %v", n, ok, err, tc.want, tc.ok)
			}
			if len(*got) != 1 || (*got)[0]["ServiceNamespace"] != "ecs" || strings.Join(toStrings((*got)[0]["ResourceIds"]), ",") != "service/prod/checkout" {
				t.Fatalf("asked %v", *got)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestMaxTasksError(t *testing.T) {
	srv, _ := scalingAPI(t, http.StatusBadRequest)
	_, ok, err := autoscaling.New(applicationautoscaling.NewFromConfig(fakes.AWSConfig(srv.URL))).MaxTasks(context.Background(), "prod", "checkout")
	if err == nil || ok || !strings.Contains(err.Error(), "describe scalable targets") || !strings.Contains(err.Error(), "no such service") {
		t.Fatalf("%v, %v", ok, err)
	}
}

// An account's reader is built once per client set, from the set's own configuration.
func TestForAccountKeepsOneReaderPerSet(t *testing.T) {
	srv, got := scalingAPI(t, http.StatusOK, target("ecs:service:DesiredCount", 5))
	cs := &accounts.Clients{Account: "111122223333", Region: "us-east-1", Config: fakes.AWSConfigAs("MEMBER", srv.URL)}
	a, b := autoscaling.ForAccount(cs), autoscaling.ForAccount(cs)
	if a != b {
		t.Fatal("a second reader was built for the same set")
	}
	if n, ok, err := a.MaxTasks(context.Background(), "prod", "checkout"); n != 5 || !ok || err != nil {
		t.Fatalf("%d %v %v", n, ok, err)
	}
	if other := autoscaling.ForAccount(&accounts.Clients{Config: cs.Config}); other == a {
		t.Fatal("two sets share a reader")
	}
	if len(*got) != 1 {
		t.Fatalf("%d calls", len(*got))
	}
}
