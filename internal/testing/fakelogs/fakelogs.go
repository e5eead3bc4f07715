// Package fakelogs is a CloudWatch Logs endpoint for tests: GetLogEvents over the real wire
// protocol (AWS JSON 1.1, X-Amz-Target Logs_20140328.*), with streams set by the test, every call
// recorded and faults scripted (fakes.Faults, a fault's Op being the operation).
package fakelogs

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// Server is the fake.
type Server struct {
	*httptest.Server
	fakes.Faults
	fakes.Recorder[Call]
	mu      sync.Mutex
	streams map[string][]string // group + "\x00" + stream → lines
}

// Call is one request received.
type Call struct {
	Operation string
	Group     string
	Stream    string
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
	s.Record(op, Call{Operation: op, Group: in.LogGroupName, Stream: in.LogStreamName})
	if f, failed := s.Take(r.Context(), op); failed {
		fakes.WriteAWSError(w, f.Status, fakes.AWSErrorCode(f), "injected failure")
		return
	}
	s.mu.Lock()
	lines, ok := s.streams[in.LogGroupName+"\x00"+in.LogStreamName]
	s.mu.Unlock()
	if op != "GetLogEvents" {
		fakes.WriteAWSError(w, http.StatusBadRequest, "UnknownOperationException", "fakelogs does not implement "+op)
		return
	}
	if !ok {
		fakes.WriteAWSError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if in.Limit > 0 && len(lines) > in.Limit && !in.StartFromHead {
		lines = lines[len(lines)-in.Limit:]
	}
	events := []map[string]any{}
	for i, l := range lines {
		events = append(events, map[string]any{"timestamp": 1764212400000 + i, "message": l, "ingestionTime": 1764212400000 + i})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1"})
}
