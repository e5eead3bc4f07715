// Package fakeoncall is the part of PagerDuty's REST API v2 that says who is on call, for tests:
// GET /services (with include[]=integrations, which alone carries each integration's
// integration_key) and GET /oncalls (filtered by escalation_policy_ids[]), both paginated with
// limit/offset/more as PagerDuty does, behind the `Authorization: Token token=…` header. It
// records every request and answers a scripted status when told to.
// https://developer.pagerduty.com/api-reference/
package fakeoncall

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Service is a PagerDuty service with its Events API v2 integration keys.
type Service struct {
	ID, Name string
	Disabled bool
	Policy   string // escalation policy id
	Keys     []string
}

// Policy is an escalation policy.
type Policy struct{ ID, Name string }

// OnCall is one on-call entry: a user at a level of a policy, through a schedule (ScheduleID ""
// for a user the policy names directly, whose entry has no start or end).
type OnCall struct {
	Policy               string
	Level                uint
	UserID, User         string
	ScheduleID, Schedule string
	Start, End           time.Time
}

// Request is a request the fake received.
type Request struct {
	Method, Path  string
	Query         url.Values
	Authorization string
}

// Server is the fake.
type Server struct {
	*httptest.Server
	// MaxLimit caps a page (PagerDuty's is 100); smaller in tests to exercise pagination.
	MaxLimit int

	mu       sync.Mutex
	token    string
	services []Service
	policies map[string]Policy
	oncalls  []OnCall
	fail     map[string]int // path → status to answer
	requests []Request
}

// New starts a fake that serves requests carrying token.
func New(token string) *Server {
	s := &Server{MaxLimit: 100, token: token, policies: map[string]Policy{}, fail: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Add adds services, escalation policies and on-call entries.
func (s *Server) Add(services []Service, policies []Policy, oncalls []OnCall) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services = append(s.services, services...)
	for _, p := range policies {
		s.policies[p.ID] = p
	}
	s.oncalls = append(s.oncalls, oncalls...)
	return s
}

// Fail makes requests to path ("/services", "/oncalls") answer status, with PagerDuty's error
// body; 0 serves them again.
func (s *Server) Fail(path string, status int) {
	s.mu.Lock()
	s.fail[path] = status
	s.mu.Unlock()
}

// Requests returns the requests received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

const web = "https://acme.pagerduty.com"

func ref(kind, id, summary string) map[string]any {
	path := map[string]string{"service": "service-directory", "escalation_policy": "escalation_policies", "schedule": "schedules", "user": "users"}[kind]
	return map[string]any{"id": id, "type": kind + "_reference", "summary": summary,
		"self": "https://api.pagerduty.com/" + path + "/" + id, "html_url": web + "/" + path + "/" + id}
}

// errorBodies are PagerDuty's error objects for the statuses tests script.
// https://developer.pagerduty.com/docs/rest-api-v2/errors/
var errorBodies = map[int]string{
	http.StatusUnauthorized:    `{"error":{"message":"Unauthorized","code":2006}}`,
	http.StatusForbidden:       `{"error":{"message":"Access Denied","code":2010}}`,
	http.StatusTooManyRequests: `{"error":{"message":"Rate Limit Exceeded","code":2020}}`,
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Authorization: r.Header.Get("Authorization")})
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Token token="+s.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, errorBodies[http.StatusUnauthorized])
		return
	}
	if st := s.fail[r.URL.Path]; st != 0 {
		b, ok := errorBodies[st]
		if !ok {
			w.Header().Set("Content-Type", "text/html") // what a load balancer answers
			b = `<html><body>Service Unavailable</body></html>`
		}
		w.WriteHeader(st)
		fmt.Fprint(w, b)
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 25
	}
	limit = min(limit, s.MaxLimit)
	offset, _ := strconv.Atoi(q.Get("offset"))
	var items []any
	key := ""
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/services":
		key = "services"
		withIntegrations := slices.Contains(q["include[]"], "integrations")
		for _, sv := range s.services {
			items = append(items, s.service(sv, withIntegrations))
		}
	case r.Method == http.MethodGet && r.URL.Path == "/oncalls":
		key = "oncalls"
		policies := q["escalation_policy_ids[]"]
		for _, oc := range s.oncalls {
			if len(policies) > 0 && !slices.Contains(policies, oc.Policy) {
				continue
			}
			items = append(items, s.oncall(oc))
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"message":"Not Found","code":2100}}`)
		return
	}
	page := []any{}
	if offset < len(items) {
		page = items[offset:min(offset+limit, len(items))]
	}
	_ = json.NewEncoder(w).Encode(map[string]any{key: page, "limit": limit, "offset": offset,
		"more": offset+limit < len(items), "total": nil})
}

func (s *Server) service(sv Service, withIntegrations bool) map[string]any {
	status := "active"
	if sv.Disabled {
		status = "disabled"
	}
	out := ref("service", sv.ID, sv.Name)
	out["type"], out["name"], out["status"] = "service", sv.Name, status
	out["escalation_policy"] = ref("escalation_policy", sv.Policy, s.policies[sv.Policy].Name)
	var ints []any
	for i, k := range sv.Keys {
		id := fmt.Sprintf("%sI%d", sv.ID, i+1)
		if !withIntegrations {
			ints = append(ints, map[string]any{"id": id, "type": "events_api_v2_inbound_integration_reference", "summary": "ecs-medic"})
			continue
		}
		ints = append(ints, map[string]any{"id": id, "type": "events_api_v2_inbound_integration", "summary": "ecs-medic", "name": "ecs-medic",
			"integration_key": k, "service": ref("service", sv.ID, sv.Name), "created_at": "2026-01-05T10:00:00Z",
			"vendor": nil, "html_url": web + "/services/" + sv.ID + "/integrations/" + id})
	}
	out["integrations"] = ints
	return out
}

func (s *Server) oncall(oc OnCall) map[string]any {
	out := map[string]any{"escalation_policy": ref("escalation_policy", oc.Policy, s.policies[oc.Policy].Name),
		"escalation_level": oc.Level, "user": ref("user", oc.UserID, oc.User), "schedule": nil, "start": nil, "end": nil}
	if oc.ScheduleID != "" {
		out["schedule"] = ref("schedule", oc.ScheduleID, oc.Schedule)
		out["start"], out["end"] = oc.Start.UTC().Format(time.RFC3339), oc.End.UTC().Format(time.RFC3339)
	}
	return out
}
