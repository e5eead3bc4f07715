// Package fakepagerduty is a PagerDuty Events API v2 endpoint for tests: it validates every
// event as PagerDuty documents (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/),
// answers 202, 400, 429 or 5xx as scripted, and records what it accepted. It also serves the
// part of the REST API escalation uses (GET /incidents by incident_key, GET /oncalls,
// PUT /incidents), for the token given to WithAPIToken, on incidents its triggers opened.
package fakepagerduty

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// Server is the fake.
//
// Faults (fakes.Faults) apply to valid events only, a fault's Op being the routing key; Calls
// returns every event received by event_action, Events those accepted.
type Server struct {
	*httptest.Server
	fakes.Faults
	fakes.Recorder[map[string]any]
	RoutingKey string

	mu       sync.Mutex
	keys     map[string]bool // every integration key accepted (one per team's route)
	accepted []map[string]any
	changes  []map[string]any
	held     map[string]chan struct{}
	invalid  []string

	apiToken    string
	incidents   map[string]*restIncident // by dedup key
	escalations []Escalation
}

type restIncident struct {
	id, key, status string
	level           uint
}

// Escalation is one PUT /incidents that moved an incident to another level.
type Escalation struct {
	ID, Key string
	Level   uint
	From    string
}

// The fake escalation policy: one user on call at each of three levels.
const (
	PolicyID = "PPOLICY1"
	levels   = 3
)

// WithAPIToken makes the fake serve the REST API to requests carrying token.
func (s *Server) WithAPIToken(token string) *Server {
	s.mu.Lock()
	s.apiToken = token
	s.mu.Unlock()
	return s
}

// Escalations returns the escalations made through the REST API.
func (s *Server) Escalations() []Escalation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Escalation(nil), s.escalations...)
}

func userAt(level uint) string { return fmt.Sprintf("PUSER%d", level) }

// rest serves the REST API: https://developer.pagerduty.com/api-reference/
func (s *Server) rest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.apiToken == "" || r.Header.Get("Authorization") != "Token token="+s.apiToken {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"Unauthorized","code":2006}}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/incidents":
		key := r.URL.Query().Get("incident_key")
		statuses := r.URL.Query()["statuses[]"]
		var out []map[string]any
		if inc := s.incidents[key]; inc != nil && (len(statuses) == 0 || contains(statuses, inc.status)) {
			out = append(out, map[string]any{"id": inc.id, "type": "incident", "incident_key": inc.key, "status": inc.status,
				"escalation_policy": map[string]any{"id": PolicyID, "type": "escalation_policy_reference"},
				"assignments":       []any{map[string]any{"assignee": map[string]any{"id": userAt(inc.level), "type": "user_reference"}}}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"incidents": out, "limit": 25, "offset": 0, "more": false})
	case r.Method == http.MethodGet && r.URL.Path == "/oncalls":
		var out []map[string]any
		for l := uint(1); l <= levels; l++ {
			if contains(r.URL.Query()["user_ids[]"], userAt(l)) {
				out = append(out, map[string]any{"escalation_level": l, "user": map[string]any{"id": userAt(l)},
					"escalation_policy": map[string]any{"id": PolicyID}})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"oncalls": out})
	case r.Method == http.MethodPut && r.URL.Path == "/incidents":
		var body struct {
			Incidents []struct {
				ID              string `json:"id"`
				Type            string `json:"type"`
				EscalationLevel uint   `json:"escalation_level"`
			} `json:"incidents"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Incidents) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"Invalid Input Provided","code":2001}}`)
			return
		}
		var done []map[string]any
		for _, u := range body.Incidents {
			var inc *restIncident
			for _, i := range s.incidents {
				if i.id == u.ID {
					inc = i
				}
			}
			if inc == nil || u.EscalationLevel < 1 || u.EscalationLevel > levels {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":{"message":"Invalid Input Provided","code":2001,"errors":["Escalation level is not valid"]}}`)
				return
			}
			inc.level = u.EscalationLevel
			s.escalations = append(s.escalations, Escalation{ID: inc.id, Key: inc.key, Level: inc.level, From: r.Header.Get("From")})
			done = append(done, map[string]any{"id": inc.id, "type": "incident", "status": inc.status})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"incidents": done})
	default:
		http.Error(w, `{"error":{"message":"Not Found","code":2100}}`, http.StatusNotFound)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// New starts a fake accepting events for routingKey, and for more keys (other services'
// integrations, as routes use them).
func New(routingKey string, more ...string) *Server {
	s := &Server{RoutingKey: routingKey, keys: map[string]bool{routingKey: true}, held: map[string]chan struct{}{}}
	for _, k := range more {
		s.keys[k] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// SetDownKey makes every event for one integration key fail with 503 until SetDownKey(key, false).
func (s *Server) SetDownKey(key string, down bool) {
	if !down {
		s.FailNext(0, fakes.Fault{Op: key})
		return
	}
	s.FailNext(math.MaxInt, fakes.Fault{Status: http.StatusServiceUnavailable, Op: key})
}

// Hold makes events for key wait, unanswered, until release is called: a receiver that hangs.
// Events for other keys are answered meanwhile.
func (s *Server) Hold(key string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.held[key] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.held, key)
			s.mu.Unlock()
			close(ch)
		})
	}
}

// EventsFor returns the accepted events of one integration key, optionally of one action.
func (s *Server) EventsFor(key, action string) []map[string]any {
	var out []map[string]any
	for _, e := range s.Events(action) {
		if e["routing_key"] == key {
			out = append(out, e)
		}
	}
	return out
}

// Statuses is the faults answering the next events with these statuses, in order (429, 500,
// 502 ...), for Fail.
func Statuses(statuses ...int) []fakes.Fault {
	out := make([]fakes.Fault, len(statuses))
	for i, st := range statuses {
		out[i] = fakes.Fault{Status: st}
	}
	return out
}

// Events returns the accepted events, optionally of one action.
func (s *Server) Events(action string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, e := range s.accepted {
		if action == "" || e["event_action"] == action {
			out = append(out, e)
		}
	}
	return out
}

// Invalid returns why events were refused as invalid.
func (s *Server) Invalid() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.invalid...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/change/enqueue" && r.Method == http.MethodPost {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.change(w, r)
		return
	}
	if r.URL.Path != "/v2/enqueue" {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.rest(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	var ev map[string]any
	jsonErr := json.Unmarshal(body, &ev)
	key, _ := ev["routing_key"].(string)
	s.mu.Lock()
	hold := s.held[key]
	s.mu.Unlock()
	if hold != nil { // outside the lock: a held key must not hold up the others
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if jsonErr == nil {
		action, _ := ev["event_action"].(string)
		s.Record(action, ev)
	}
	s.mu.Lock()
	if !s.keys[key] {
		key = s.RoutingKey // not an integration of ours: Validate refuses it
	}
	problem := "not JSON"
	if jsonErr == nil {
		problem = Validate(ev, key)
	}
	if problem != "" {
		s.invalid = append(s.invalid, problem)
		s.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		if jsonErr != nil {
			fmt.Fprint(w, `{"status":"invalid event","message":"Event object is invalid"}`)
			return
		}
		fmt.Fprintf(w, `{"status":"invalid event","message":"Event object is invalid","errors":[%q]}`, problem)
		return
	}
	s.mu.Unlock()
	fault, failed := s.Take(r.Context(), key)
	switch {
	case failed && fault.Drop:
		fakes.DropConnection(w)
	case failed && fault.Status == http.StatusBadGateway: // a load balancer's HTML error page
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(fault.Status)
		fmt.Fprint(w, "<html>Bad Gateway</html>")
	case failed:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		w.WriteHeader(fault.Status)
		fmt.Fprint(w, `{"status":"throttled or failed","message":"try again later"}`)
	default:
		s.mu.Lock()
		s.accepted = append(s.accepted, ev)
		s.track(ev)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev["dedup_key"])
	}
}

// change accepts a change event (they never page), checking what PagerDuty checks.
// https://developer.pagerduty.com/docs/events-api-v2/send-change-events
func (s *Server) change(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	var ev struct {
		RoutingKey string         `json:"routing_key"`
		Payload    map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || !s.keys[ev.RoutingKey] || ev.Payload["summary"] == nil || ev.Payload["summary"] == "" {
		s.invalid = append(s.invalid, "invalid change event")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"invalid event","message":"Event object is invalid"}`)
		return
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	s.changes = append(s.changes, m)
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprint(w, `{"status":"success","message":"Change event processed"}`)
}

// ChangeEvents returns the change events accepted (smoke tests).
func (s *Server) ChangeEvents() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.changes...)
}

// Validate applies the Events API v2 rules to one event; "" when it is valid.
func Validate(ev map[string]any, routingKey string) string {
	if ev["routing_key"] != routingKey {
		return "routing_key"
	}
	action, _ := ev["event_action"].(string)
	if action != "trigger" && action != "acknowledge" && action != "resolve" {
		return "event_action"
	}
	if k, _ := ev["dedup_key"].(string); k == "" || len(k) > 255 {
		return "dedup_key"
	}
	if action != "trigger" {
		return ""
	}
	p, ok := ev["payload"].(map[string]any)
	if !ok {
		return "payload"
	}
	if s, _ := p["summary"].(string); s == "" || len(s) > 1024 {
		return "payload.summary"
	}
	if s, _ := p["source"].(string); s == "" {
		return "payload.source"
	}
	switch p["severity"] {
	case "critical", "error", "warning", "info":
	default:
		return "payload.severity"
	}
	if ts, ok := p["timestamp"].(string); ok {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			return "payload.timestamp"
		}
	}
	links, _ := ev["links"].([]any)
	for _, l := range links {
		m, _ := l.(map[string]any)
		if href, _ := m["href"].(string); !strings.HasPrefix(href, "https://") {
			return "links.href"
		}
	}
	return ""
}

// track keeps the incident a trigger opens, as PagerDuty does, for the REST API.
func (s *Server) track(ev map[string]any) {
	key, _ := ev["dedup_key"].(string)
	if s.incidents == nil {
		s.incidents = map[string]*restIncident{}
	}
	inc := s.incidents[key]
	switch ev["event_action"] {
	case "trigger":
		if inc == nil || inc.status == "resolved" {
			s.incidents[key] = &restIncident{id: fmt.Sprintf("PINC%04d", len(s.incidents)+1), key: key, status: "triggered", level: 1}
		}
	case "acknowledge":
		if inc != nil && inc.status == "triggered" {
			inc.status = "acknowledged"
		}
	case "resolve":
		if inc != nil {
			inc.status = "resolved"
		}
	}
}
