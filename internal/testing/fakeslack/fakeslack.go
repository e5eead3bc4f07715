// Package fakeslack is a Slack Web API endpoint for tests: chat.postMessage, chat.update and
// usergroups.users.list over the real wire format (form-encoded requests, {"ok": ...} answers,
// 429 with Retry-After), with every call recorded and failures scripted (fakes.Faults: a fault's Op
// is the method, its Code Slack's error in {"ok": false}). It also takes the JSON
// answers posted to response_url addresses (ResponseURL).
package fakeslack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// Call is one API call received.
type Call struct {
	Method   string // "chat.postMessage", "chat.update"
	Channel  string
	TS       string // the message updated, or the thread replied to
	Text     string
	Blocks   string // raw JSON
	ThreadTS string
	Raw      string // the whole form body, to check what was sent
}

// Server is the fake.
type Server struct {
	*httptest.Server
	fakes.Faults
	fakes.Recorder[Call]
	Token string

	mu        sync.Mutex
	seq       int
	groups    map[string][]string
	responses []Response
}

// Response is one message posted to a response_url.
type Response struct {
	Path string
	Text string `json:"text"`
	Type string `json:"response_type"`
}

// ResponseURL is a response_url on the fake (as Slack's are on hooks.slack.com).
func (s *Server) ResponseURL(name string) string {
	return s.Server.URL + "/hooks/commands/T0TEST/" + name
}

// Responses returns what was posted to response_url addresses.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.responses...)
}

// SetGroup sets a user group's members, for usergroups.users.list.
func (s *Server) SetGroup(id string, members ...string) {
	s.mu.Lock()
	if s.groups == nil {
		s.groups = map[string][]string{}
	}
	s.groups[id] = members
	s.mu.Unlock()
}

// New starts a fake Slack that accepts token.
func New(token string) *Server {
	s := &Server{Token: token}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// URL of the Web API, as MEDIC_SLACK_API_URL takes it.
func (s *Server) APIURL() string { return s.Server.URL + "/api/" }

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/hooks/") {
		var resp Response
		if err := json.NewDecoder(r.Body).Decode(&resp); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		resp.Path = r.URL.Path
		s.mu.Lock()
		s.responses = append(s.responses, resp)
		s.mu.Unlock()
		fmt.Fprint(w, "ok")
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	c := Call{Method: method, Channel: r.Form.Get("channel"), TS: r.Form.Get("ts"), Text: r.Form.Get("text"),
		Blocks: r.Form.Get("blocks"), ThreadTS: r.Form.Get("thread_ts"), Raw: r.Form.Encode()}
	s.Record(method, c)
	fail, failed := s.Take(r.Context(), method)
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	tok := r.Header.Get("Authorization")
	if tok == "" {
		tok = "Bearer " + r.Form.Get("token")
	}
	switch {
	case tok != "Bearer "+s.Token:
		fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
		return
	case failed && fail.Status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", fail.RetryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
		return
	case failed && fail.Status >= 500:
		w.WriteHeader(fail.Status)
		return
	case failed:
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, fail.Code)
		return
	}
	switch method {
	case "chat.postMessage":
		if c.Channel == "" {
			fmt.Fprint(w, `{"ok":false,"error":"channel_not_found"}`)
			return
		}
		// Slack answers with the channel's id: a channel id given is kept, a #name becomes C0INCIDENTS.
		id := c.Channel
		if strings.HasPrefix(id, "#") {
			id = "C0INCIDENTS"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": id, "ts": fmt.Sprintf("1700000000.%06d", seq)})
	case "chat.update":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
	case "usergroups.users.list":
		s.mu.Lock()
		members, ok := s.groups[r.Form.Get("usergroup")]
		s.mu.Unlock()
		if !ok {
			fmt.Fprint(w, `{"ok":false,"error":"no_such_subteam"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "users": members})
	default:
		fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
	}
}
