// Package fakelogs is a CloudWatch Logs endpoint for tests: GetLogEvents over the real wire
// protocol (AWS JSON 1.1, X-Amz-Target Logs_20140328.*), with streams set by the test.
package fakelogs

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Server is the fake.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	streams map[string][]string // group + "\x00" + stream → lines
	calls   []string
}

// New starts the fake.
func New() *Server {
	s := &Server{streams: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// Put sets a stream's lines.
func (s *Server) Put(group, stream string, lines ...string) {
	s.mu.Lock()
	s.streams[group+"\x00"+stream] = lines
	s.mu.Unlock()
}

// Calls returns the operations received.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
	raw, _ := io.ReadAll(r.Body)
	var in struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		Limit         int    `json:"limit"`
		StartFromHead bool   `json:"startFromHead"`
	}
	_ = json.Unmarshal(raw, &in)
	s.mu.Lock()
	s.calls = append(s.calls, op)
	lines, ok := s.streams[in.LogGroupName+"\x00"+in.LogStreamName]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if op != "GetLogEvents" {
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException"})
		return
	}
	if !ok {
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "ResourceNotFoundException", "message": "The specified log stream does not exist."})
		return
	}
	if in.Limit > 0 && len(lines) > in.Limit && !in.StartFromHead {
		lines = lines[len(lines)-in.Limit:]
	}
	events := []map[string]any{}
	for i, l := range lines {
		events = append(events, map[string]any{"timestamp": 1764212400000 + i, "message": l, "ingestionTime": 1764212400000 + i})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1"})
}
