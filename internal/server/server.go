// Package server is the HTTP face of `medic serve`: events in, incidents out, health and
// metrics (SPEC §5).
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// MaxBody bounds POST /events: an array of events at most this large. Anything bigger is refused
// before it is read into memory.
const MaxBody = 8 << 20

// New returns the HTTP handler of `medic serve`. slack serves Slack's signed requests; nil (no
// signing secret configured) makes those endpoints say so.
func New(p *pipeline.Pipeline, store incident.Store, m *metrics.Metrics, log *zap.Logger, slack http.Handler) http.Handler {
	s := &server{p: p, store: store, log: log}
	mux := http.NewServeMux()
	if slack == nil {
		slack = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "Slack requests are not served: MEDIC_SLACK_SIGNING_SECRET is not set"})
		})
	}
	mux.Handle("POST /slack/commands", slack)
	mux.Handle("POST /slack/interactions", slack)
	mux.HandleFunc("POST /events", s.events)
	mux.HandleFunc("GET /incidents", s.list)
	mux.HandleFunc("GET /incidents/{id}", s.get)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

type server struct {
	p     *pipeline.Pipeline
	store incident.Store
	log   *zap.Logger
}

type eventsResponse struct {
	Results []pipeline.Result `json:"results"`
	Error   string            `json:"error,omitempty"`
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, eventsResponse{Results: []pipeline.Result{}, Error: fmt.Sprintf("request body over %d bytes", MaxBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, eventsResponse{Results: []pipeline.Result{}, Error: "read body: " + err.Error()})
		return
	}
	raws, err := event.Split(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, eventsResponse{Results: []pipeline.Result{}, Error: err.Error()})
		return
	}
	if len(raws) == 0 {
		writeJSON(w, http.StatusBadRequest, eventsResponse{Results: []pipeline.Result{}, Error: "no events in the request body"})
		return
	}
	resp := eventsResponse{Results: make([]pipeline.Result, 0, len(raws))}
	failed, retryable := 0, false
	for _, raw := range raws {
		res, err := s.p.HandleRaw(r.Context(), raw)
		if err != nil {
			retryable = true
		}
		if res.Outcome == pipeline.OutcomeError {
			failed++
		}
		resp.Results = append(resp.Results, res)
	}
	status := http.StatusOK
	switch {
	case retryable:
		// The store failed: the sender should retry; redelivery is safe.
		status = http.StatusServiceUnavailable
		resp.Error = "some events could not be stored; retry them"
	case failed == len(raws):
		status = http.StatusBadRequest
		resp.Error = resp.Results[0].Error
		if len(raws) > 1 {
			resp.Error = fmt.Sprintf("none of the %d events could be handled; the first: %s", len(raws), resp.Error)
		}
	}
	writeJSON(w, status, resp)
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	f := incident.Filter{Limit: 500}
	switch state {
	case "", "all":
	case "open", "active", string(incident.Acknowledged):
		f.Active = true
	case string(incident.Resolved):
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("state %q: want open, acknowledged, resolved or all", state)})
		return
	}
	incs, err := s.store.List(r.Context(), f)
	if err != nil {
		s.log.Error("list incidents", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	out := make([]*incident.Incident, 0, len(incs))
	for _, inc := range incs {
		switch state {
		case "open":
			if inc.State != incident.Open {
				continue
			}
		case string(incident.Acknowledged), string(incident.Resolved):
			if string(inc.State) != state {
				continue
			}
		}
		out = append(out, inc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	inc, err := s.store.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, incident.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no incident " + r.PathValue("id")})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, inc)
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.List(r.Context(), incident.Filter{Active: true, Limit: 1}); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
