// Package server is the HTTP face of `medic serve`: events in, incidents out, health and
// metrics (SPEC §5).
//
// Each door checks who may use it. The Slack endpoints verify Slack's signature themselves
// (chatops). Every other endpoint but /healthz needs the API token when one is configured
// (MEDIC_API_TOKEN, "Authorization: Bearer <token>", compared in constant time); without a token
// (loopback only: `medic serve` refuses a non-loopback address without one) they answer only
// requests whose Host is the loopback address served, so no web page can reach them through a
// browser by DNS rebinding. POST /events takes only Content-Type application/json, which a
// cross-site form cannot send. A request costs bounded work: events per request, the answer's
// size and the log lines a bad batch writes are all capped.
package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// MaxBody bounds POST /events: an array of events at most this large. Anything bigger is refused
// before it is read into memory.
const MaxBody = 8 << 20

// Bounds on one request's work and answer.
const (
	// MaxEvents is the most events one POST /events may carry (EventBridge itself sends one
	// event per invocation; PutEvents takes 10 per call).
	MaxEvents = 1000
	// maxLoggedRejects is how many rejected events of one request get a log line each; the rest
	// are summed up in one line.
	maxLoggedRejects = 10
	// DefaultLimit and MaxLimit are GET /incidents' page sizes.
	DefaultLimit = 50
	MaxLimit     = 200
	// maxListBytes bounds GET /incidents' answer: a page ends early (with a cursor) past it.
	maxListBytes = 4 << 20
	// maxIDLen is the longest incident id asked for: ids are 17 characters.
	maxIDLen = 64
)

// Option configures the server.
type Option func(*server)

// WithToken requires "Authorization: Bearer <token>" on every endpoint but /healthz and the
// Slack ones (MEDIC_API_TOKEN).
func WithToken(token string) Option {
	return func(s *server) {
		if token != "" {
			sum := sha256.Sum256([]byte(token))
			s.token = sum[:]
		}
	}
}

// WithHosts names the Host header values accepted when no token is configured: the address
// served, under its loopback names. Empty: any (tests that call the handler directly).
func WithHosts(hosts ...string) Option { return func(s *server) { s.hosts = hosts } }

// LoopbackHosts are the Host values a browser on this machine sends for a loopback address addr
// ("127.0.0.1:8080" → 127.0.0.1:8080, localhost:8080, [::1]:8080), so only they are accepted.
func LoopbackHosts(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	return []string{addr, net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("localhost", port), net.JoinHostPort("::1", port)}
}

// IsLoopback reports whether a listen address only accepts connections from this machine.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false // ":8080" listens on every interface
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Incidents is what the API reads of the store (incident.Incidents).
type Incidents interface {
	Get(ctx context.Context, id string) (*incident.Incident, error)
	List(ctx context.Context, f incident.Filter) ([]*incident.Incident, error)
}

// New returns the HTTP handler of `medic serve`. slack serves Slack's signed requests; nil (no
// signing secret configured) makes those endpoints say so.
func New(p *pipeline.Pipeline, store Incidents, m *metrics.Metrics, log *zap.Logger, slack http.Handler, opts ...Option) http.Handler {
	s := &server{p: p, store: store, log: log}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	if slack == nil {
		slack = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "Slack requests are not served: MEDIC_SLACK_SIGNING_SECRET is not set"})
		})
	}
	mux.Handle("POST /slack/commands", slack)
	mux.Handle("POST /slack/interactions", slack)
	mux.Handle("POST /events", s.guard(http.HandlerFunc(s.events)))
	mux.Handle("GET /incidents", s.guard(http.HandlerFunc(s.list)))
	mux.Handle("GET /incidents/{id}", s.guard(http.HandlerFunc(s.get)))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.guard(m.Handler()))
	return mux
}

type server struct {
	p     *pipeline.Pipeline
	store Incidents
	log   *zap.Logger
	token []byte // SHA-256 of MEDIC_API_TOKEN; nil: none
	hosts []string
	// bodies and answers reuse POST /events' buffers (*bytes.Buffer, *answer): in a storm each
	// request would otherwise allocate its body and its encoded answer, about half of what the
	// handler allocates. Nothing an event leaves behind points into its body: the decoder copies
	// the strings it keeps.
	bodies  sync.Pool
	answers sync.Pool
}

// maxPooled: a buffer grown larger than this by an odd request (an array of events) is left to
// the garbage collector rather than kept.
const maxPooled = 256 << 10

// answer encodes POST /events' answer into a buffer it keeps.
type answer struct{ buf []byte }

// guard lets a request through to the API only with the token (when one is configured), or else
// from a loopback Host.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token != nil {
			given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
			// Hashes of equal length, compared in constant time: neither the token's bytes nor
			// its length leak through timing.
			if !ok || subtle.ConstantTimeCompare(sum[:], s.token) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="medic"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this endpoint needs the API token: send Authorization: Bearer <MEDIC_API_TOKEN>"})
				return
			}
		} else if len(s.hosts) > 0 && !hostAllowed(r.Host, s.hosts) {
			// A web page that rebinds its own name to 127.0.0.1 still sends its own name here.
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "Host " + strconv.Quote(incident.Clip(r.Host, 100)) +
				" is not the address medic serves: call it as http://" + s.hosts[0] + " (or set MEDIC_API_TOKEN to reach it under other names)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(host string, hosts []string) bool {
	for _, h := range hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

type eventsResponse struct {
	Results []pipeline.Result `json:"results"`
	Error   string            `json:"error,omitempty"`
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		// A browser sends text/plain or a form cross-site without asking; application/json it
		// may only send after a CORS preflight, which this server never grants.
		writeJSON(w, http.StatusUnsupportedMediaType, eventsResponse{Error: "Content-Type must be application/json"})
		return
	}
	buf, err := s.readBody(w, r)
	defer s.putBody(buf)
	body := buf.Bytes()
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, eventsResponse{Results: []pipeline.Result{}, Error: fmt.Sprintf("request body over %d bytes", MaxBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, eventsResponse{Results: []pipeline.Result{}, Error: "read body: " + err.Error()})
		return
	}
	if n := countEvents(body); n > MaxEvents {
		writeJSON(w, http.StatusRequestEntityTooLarge, eventsResponse{Error: fmt.Sprintf("more than %d events in one request: send them in batches of at most %d", MaxEvents, MaxEvents)})
		return
	}
	raws, err := [][]byte{body}, error(nil)
	if !singleObject(body) {
		raws, err = event.Split(body)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, eventsResponse{Results: []pipeline.Result{}, Error: incident.Clip(err.Error(), 512)})
		return
	}
	if len(raws) == 0 {
		writeJSON(w, http.StatusBadRequest, eventsResponse{Results: []pipeline.Result{}, Error: "no events in the request body"})
		return
	}
	if len(raws) > MaxEvents {
		writeJSON(w, http.StatusRequestEntityTooLarge, eventsResponse{Error: fmt.Sprintf("%d events in one request: send them in batches of at most %d", len(raws), MaxEvents)})
		return
	}
	resp := eventsResponse{Results: make([]pipeline.Result, 0, len(raws))}
	failed, retryable, unlogged := 0, false, 0
	for _, raw := range raws {
		// The first rejects of a request are logged one by one, the rest summed up below.
		res, err := s.p.HandleRawLogged(r.Context(), raw, failed < maxLoggedRejects)
		if err != nil {
			retryable = true
		}
		if res.Outcome == pipeline.OutcomeError {
			if failed >= maxLoggedRejects {
				unlogged++
			}
			failed++
		}
		resp.Results = append(resp.Results, bound(res))
	}
	if unlogged > 0 {
		s.log.Warn("events rejected", zap.Int("more", unlogged), zap.Int("logged", maxLoggedRejects), zap.Int("events", len(raws)))
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
	s.writeAnswer(w, status, resp)
}

// readBody reads the request body into a reused buffer grown once to the size the request
// announces, not in a doubling series. putBody gives it back.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	buf, _ := s.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	size := bytes.MinRead
	if r.ContentLength > 0 {
		size += int(min(r.ContentLength, MaxBody))
	}
	buf.Grow(size)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBody))
	return buf, err
}

func (s *server) putBody(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooled {
		s.bodies.Put(buf)
	}
}

// writeAnswer is writeJSON for POST /events' answer, written by appendAnswer into a reused buffer.
func (s *server) writeAnswer(w http.ResponseWriter, status int, resp eventsResponse) {
	a, _ := s.answers.Get().(*answer)
	if a == nil {
		a = &answer{}
	}
	a.buf = appendAnswer(a.buf[:0], &resp)
	h := w.Header()
	h["Content-Type"] = []string{"application/json"} // canonical already: Set would check it again
	h["Content-Length"] = []string{strconv.Itoa(len(a.buf))}
	w.WriteHeader(status)
	_, _ = w.Write(a.buf)
	if cap(a.buf) <= maxPooled {
		s.answers.Put(a)
	}
}

// singleObject reports whether body is one JSON object and nothing else, as EventBridge sends an
// event: it is handed on whole, without splitting (decoding checks it). Strings are skipped, so
// braces inside them do not count.
func singleObject(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' {
		return false
	}
	whole := false
	eachBracket(body, func(i int, _ byte, depth int) bool {
		if depth == 0 { // the first object closed: it must be the end of the body
			whole = i == len(body)-1
			return false
		}
		return true
	})
	return whole
}

// eachBracket calls fn for every brace and square bracket of body outside JSON strings, with the
// nesting depth after it, until fn returns false.
func eachBracket(body []byte, fn func(i int, c byte, depth int) bool) {
	depth, inString, escaped := 0, false, false
	for i, c := range body {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			if !fn(i, c, depth) {
				return
			}
		case c == '}' || c == ']':
			depth--
			if !fn(i, c, depth) {
				return
			}
		}
	}
}

// countEvents counts the objects at the top level of a JSON array (or 1), without decoding them:
// an oversized batch is refused before it costs any memory beyond its body.
func countEvents(body []byte) int {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return 1
	}
	n := 0
	eachBracket(body, func(_ int, c byte, depth int) bool {
		if c == '{' && depth == 2 { // an object opened directly inside the array
			n++
		}
		return true
	})
	return n
}

// bound clips the texts of a result that come from the event itself (an id, a reason, an
// error quoting the input), so the answer stays proportional to the number of events.
func bound(res pipeline.Result) pipeline.Result {
	res.ID, res.TaskArn = incident.Clip(res.ID, 256), incident.Clip(res.TaskArn, 512)
	res.Cluster, res.Service = incident.Clip(res.Cluster, 256), incident.Clip(res.Service, 256)
	res.DetailType = incident.Clip(res.DetailType, 128)
	res.Evidence, res.Error = incident.Clip(res.Evidence, 512), incident.Clip(res.Error, 512)
	return res
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	limit := DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("limit %q: want a number from 1 to %d", incident.Clip(v, 20), MaxLimit)})
			return
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > maxIDLen {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "cursor: pass the next_cursor of the previous page"})
		return
	}
	f := incident.Filter{Limit: limit, Before: cursor}
	switch state {
	case "", "all":
	case "active":
		f.Active = true
	case string(incident.Open), string(incident.Acknowledged), string(incident.Resolved):
		f.State = incident.State(state)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("state %q: want open, acknowledged, resolved or all", state)})
		return
	}
	out := make([]*incident.Incident, 0, limit)
	size, next := 0, ""
	// The store applies the state filter, so the first store page fills the answer; the bounded
	// loop (and stateMatches) only matter for a store that would not.
	for range 20 {
		next = ""
		incs, err := s.store.List(r.Context(), f)
		if err != nil {
			s.log.Error("list incidents", zap.Error(err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the store did not answer; retry"})
			return
		}
		for _, inc := range incs {
			f.Before = inc.ID
			if !stateMatches(state, inc) {
				continue
			}
			raw, _ := json.Marshal(inc)
			if len(out) > 0 && size+len(raw) > maxListBytes {
				next = out[len(out)-1].ID
				break
			}
			size += len(raw)
			out = append(out, inc)
			if len(out) == limit {
				break
			}
		}
		if next != "" || len(incs) < f.Limit {
			break
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		next = f.Before // pages of other states only: go on from there next time
	}
	resp := map[string]any{"incidents": out}
	if next != "" {
		resp["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, resp)
}

func stateMatches(state string, inc *incident.Incident) bool {
	switch state {
	case "open":
		return inc.State == incident.Open
	case string(incident.Acknowledged), string(incident.Resolved):
		return string(inc.State) == state
	}
	return true
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if len(id) > maxIDLen {
		// No store could hold such a key: a 400, never a "retry" 5xx.
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("an incident id has at most %d characters (they look like inc-0c1h3x9v2k7mq)", maxIDLen)})
		return
	}
	inc, err := s.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, incident.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no incident " + strconv.Quote(id) + ": GET /incidents lists them"})
	case err != nil:
		s.log.Error("get incident", zap.String("incident", id), zap.Error(err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the store did not answer; retry"})
	default:
		writeJSON(w, http.StatusOK, inc)
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.List(r.Context(), incident.Filter{Active: true, Limit: 1}); err != nil {
		s.log.Error("healthz: store", zap.Error(err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
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
