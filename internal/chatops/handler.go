// Package chatops is ecs-medic's Slack face: the `/medic` slash command and the buttons of
// incident messages (SPEC §7). One http.Handler serves both, in `medic serve` and behind the
// Slack Lambda's Function URL. Every request's signature is checked before anything else is
// read; changing commands need an allowed user; anything that calls AWS or a receiver runs after
// the 3-second acknowledgement and answers through response_url.
package chatops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
)

// MaxBody bounds a Slack request. Slash commands and button payloads are a few KB.
const MaxBody = 64 << 10

// ECS is the part of *ecs.Client the read-only commands call.
type ECS interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	ListServices(ctx context.Context, in *ecs.ListServicesInput, optFns ...func(*ecs.Options)) (*ecs.ListServicesOutput, error)
	ListTasks(ctx context.Context, in *ecs.ListTasksInput, optFns ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// Clients hands out the clients of an account and region (accounts.Provider); it fails, saying
// why, for an account whose services may not be read.
type Clients interface {
	For(ctx context.Context, account, region string) (*accounts.Clients, error)
}

// Groups reads Slack user group members (*slack.Client), for MEDIC_SLACK_ALLOWED_GROUPS.
type Groups interface {
	GetUserGroupMembersContext(ctx context.Context, group string, options ...slackapi.GetUserGroupMembersOption) ([]string, error)
}

// LogTailer reads a container's last log lines (tasklogs.Reader).
type LogTailer interface {
	Last(ctx context.Context, t tasklogs.Task) (tasklogs.Tail, error)
}

// JobKind says what a deferred Job does.
type JobKind string

// The job kinds: read a service (status), a task's logs or its diagnosis (why), a period report or
// a postmortem, who is on call, announce a change to the receivers, post a reply, run a fix.
const (
	JobStatus     JobKind = "status"
	JobLogs       JobKind = "logs"
	JobWhy        JobKind = "why"
	JobReport     JobKind = "report"
	JobPostmortem JobKind = "postmortem"
	JobOncall     JobKind = "oncall"
	JobAnnounce   JobKind = "announce"
	JobReply      JobKind = "reply"
	JobFix        JobKind = "fix"
)

// Job is work done after the acknowledgement: it answers through ResponseURL.
type Job struct {
	Kind JobKind            `json:"kind"`
	Fix  *remediate.Request `json:"fix,omitempty"`
	Args []string           `json:"args,omitempty"`
	// Account and Region say whose service a status or logs job reads ("" : the home account).
	Account     string `json:"account,omitempty"`
	Region      string `json:"region,omitempty"`
	User        string `json:"user,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
	Incident    string `json:"incident,omitempty"`
	Notice      string `json:"notice,omitempty"`
	Text        string `json:"text,omitempty"`
}

// Deferrer runs a job after the request has been answered: a goroutine in `medic serve`, an
// asynchronous invocation of the Slack function itself in Lambda (which freezes once it answers).
type Deferrer func(ctx context.Context, j Job) error

// Rememberer records a key for a window and refuses a second one (incident.Marks, the store):
// the signatures of Slack requests already acted on.
type Rememberer interface {
	Remember(ctx context.Context, key string, until time.Time) error
}

// Handler serves Slack requests.
type Handler struct {
	SigningSecret config.Secret
	// Seen remembers accepted signatures, so a replayed request is refused; nil: every request
	// is refused, since a replay could not be told apart.
	Seen Rememberer
	// SlackAPIURL is MEDIC_SLACK_API_URL: besides Slack's own hooks.slack.com, response_url may
	// point at its host (a test double). Nothing else is ever posted to.
	SlackAPIURL   string
	AllowedUsers  []string
	AllowedGroups []string
	Manager       *incident.Manager
	Sender        notify.Sender
	// Clients, when set, reads each service with its own account's clients (and ECS is ignored).
	Clients Clients
	// ECS serves every service when Clients is nil (one account: tests); with neither, status and
	// logs say ECS cannot be reached.
	ECS    ECS
	Logs   LogTailer // nil: logs come only from incidents
	Groups Groups    // nil: group membership cannot be checked
	Region string
	// Runbooks are the runbooks in force, which `/medic runbook` answers from; nil: none.
	Runbooks *runbook.Set
	// OnCall answers `/medic oncall`; nil: who is on call cannot be told here.
	OnCall *OnCall
	// Fix carries out a fix (remediate.Remediator.Handle, or an invocation of the remediation
	// function); nil: fixes are not available here.
	Fix   func(ctx context.Context, req remediate.Request) (remediate.Outcome, error)
	Defer Deferrer
	Log   *zap.Logger
	Now   func() time.Time
	HTTP  *http.Client // for response_url

	// Classifier diagnoses the tasks status, why and logs read from ECS: the operator's rules of
	// the runbook folder's classify.yaml before the built-in ones, as the pipeline does. nil: the
	// built-in rules only.
	Classifier *classify.Classifier

	groupMu    sync.Mutex
	groupCache map[string]groupEntry
}

type groupEntry struct {
	members []string
	at      time.Time
}

// Reply is a slash command answer (or a response_url message).
type Reply struct {
	ResponseType    string `json:"response_type,omitempty"` // "ephemeral" (default) or "in_channel"
	Text            string `json:"text"`
	ReplaceOriginal bool   `json:"replace_original,omitempty"`
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ServeHTTP routes POST /slack/commands and POST /slack/interactions.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(body) > MaxBody {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	req, err := verify(r.Header, body, h.SigningSecret.Reveal(), h.now())
	if err != nil {
		// 401 and nothing else: a caller without the secret learns nothing.
		h.Log.Warn("slack request refused", zap.String("reason", err.Error()), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	// A signature is good for its whole 5-minute window: remember it for that long (past the
	// window the timestamp check refuses it anyway), so the same bytes act once.
	if err := h.seen().Remember(r.Context(), "slack-sig#"+req.sig, req.at.Add(maxSkew+time.Minute)); err != nil {
		if errors.Is(err, incident.ErrDuplicate) {
			h.Log.Warn("slack request refused", zap.String("reason", "replayed: signature already seen"), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		// Without the record a replay could not be told apart: refuse, Slack shows the user an error.
		h.Log.Error("remember slack signature", zap.Error(err))
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/commands"):
		writeReply(w, h.command(r.Context(), form))
	case strings.HasSuffix(r.URL.Path, "/interactions"):
		h.interaction(r.Context(), form)
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (h *Handler) seen() Rememberer {
	if h.Seen != nil {
		return h.Seen
	}
	return forgetful{}
}

// forgetful stands in for a missing Seen: with no record of the signatures already acted on a
// replay could not be told apart, so every request is refused.
type forgetful struct{}

func (forgetful) Remember(context.Context, string, time.Time) error {
	return errors.New("no record of the Slack signatures already seen (Handler.Seen unset)")
}

func writeReply(w http.ResponseWriter, rep Reply) {
	if rep.ResponseType == "" {
		rep.ResponseType = "ephemeral"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}

// caller is who sent a request, by Slack user id. Slack still sends user_name but has deprecated
// it: anyone can pick a name equal to someone's id, so it is never used to decide or to record.
// https://api.slack.com/changelog/2017-09-the-one-about-usernames
type caller struct{ id string }

func (c caller) String() string { return c.id }

// actor is how the caller is recorded on timelines: "slack:<user id>".
func (c caller) actor() string { return "slack:" + c.id }

// allowed reports whether the user may run changing commands: their user id is in the allow-list,
// or they are a member of an allowed user group. With no allow-list configured, nobody may:
// changing commands are off until someone is granted them.
func (h *Handler) allowed(ctx context.Context, c caller) bool {
	if c.id == "" {
		return false
	}
	if slices.Contains(h.AllowedUsers, c.id) {
		return true
	}
	if h.Groups == nil {
		return false
	}
	for _, g := range h.AllowedGroups {
		if slices.Contains(h.members(ctx, g), c.id) {
			return true
		}
	}
	return false
}

// members reads a user group's members, cached for five minutes.
func (h *Handler) members(ctx context.Context, group string) []string {
	h.groupMu.Lock()
	if h.groupCache == nil {
		h.groupCache = map[string]groupEntry{}
	}
	e, ok := h.groupCache[group]
	h.groupMu.Unlock()
	if ok && h.now().Sub(e.at) < 5*time.Minute {
		return e.members
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	m, err := h.Groups.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		h.Log.Warn("read Slack user group", zap.String("group", group), zap.Error(err))
		return nil
	}
	h.groupMu.Lock()
	h.groupCache[group] = groupEntry{members: m, at: h.now()}
	h.groupMu.Unlock()
	return m
}

// runLater hands a job to the Deferrer, to be done after Slack has its acknowledgement (Slack
// waits 3 s for one); with no Deferrer, the job is dropped.
func (h *Handler) runLater(ctx context.Context, j Job) {
	if h.Defer == nil {
		return
	}
	if err := h.Defer(ctx, j); err != nil {
		h.Log.Error("defer slack job", zap.String("kind", string(j.Kind)), zap.Error(err))
	}
}

// interaction handles a button click on an incident message.
func (h *Handler) interaction(ctx context.Context, form url.Values) {
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil || cb.Type != slackapi.InteractionTypeBlockActions {
		return
	}
	c := caller{id: cb.User.ID}
	for _, a := range cb.ActionCallback.BlockActions {
		var verb string
		switch a.ActionID {
		case slack.ActionAcknowledge:
			verb = "ack"
		case slack.ActionResolve:
			verb = "resolve"
		case slack.ActionRollback:
			verb = "rollback"
		case slack.ActionRunFix:
			verb = "fix"
		default:
			continue
		}
		rep := h.change(withResponseURL(ctx, cb.ResponseURL), c, verb, []string{a.Value})
		if rep.Text != "" && cb.ResponseURL != "" {
			h.runLater(ctx, Job{Kind: JobReply, ResponseURL: cb.ResponseURL, Text: rep.Text})
		}
	}
}

// Run does a deferred job: read ECS, read logs, announce a change, or reply.
func (h *Handler) Run(ctx context.Context, j Job) error {
	var rep Reply
	switch j.Kind {
	case JobStatus:
		rep = h.status(ctx, j.Account, j.Region, j.Args)
	case JobLogs:
		rep = h.logsFromECS(ctx, j.Account, j.Region, j.Args)
	case JobWhy:
		rep = h.whyFromECS(ctx, j.Account, j.Region, j.Args)
	case JobReport:
		rep = h.periodReport(ctx, j.Args)
	case JobPostmortem:
		if len(j.Args) != 1 {
			return errors.New("postmortem job without an incident")
		}
		rep = h.postmortem(ctx, j.Args)
	case JobOncall:
		rep = h.onCall(ctx, j.Args)
	case JobAnnounce:
		inc, err := h.Manager.Get(ctx, j.Incident)
		if err != nil {
			return err
		}
		notify.Announce(ctx, h.Sender, h.Manager, h.Log, notify.Kind(j.Notice), inc)
		return nil
	case JobReply:
		rep = Reply{Text: j.Text}
	case JobFix:
		if h.Fix == nil || j.Fix == nil {
			return errors.New("no remediation here")
		}
		out, err := h.Fix(ctx, *j.Fix)
		action := esc(string(out.Action))
		if action == "" {
			action = "The fix"
		}
		switch {
		case err != nil:
			h.Log.Warn("slack fix failed", zap.String("incident", j.Fix.Incident), zap.Error(err))
			rep = Reply{Text: fmt.Sprintf(":x: `%s` failed: %s. Automation is stopped for this incident; its timeline has the details. Do it by hand in the ECS console, or try again once the cause is fixed.", action, esc(shortReason(err)))}
		case out.Skipped != "":
			rep = Reply{Text: fmt.Sprintf(":no_entry_sign: `%s` not done: %s", action, esc(out.Skipped))}
		case out.DryRun:
			rep = Reply{Text: ":memo: Dry run (MEDIC_DRY_RUN is on, nothing changed): would " + esc(out.Plan)}
		default:
			rep = Reply{ResponseType: "in_channel", Text: ":wrench: Done: " + esc(out.Plan)}
		}
	default:
		return fmt.Errorf("unknown job %q", j.Kind)
	}
	return h.respond(ctx, j.ResponseURL, rep)
}

// respond posts to a response_url (valid 30 minutes, up to 5 times).
// https://api.slack.com/interactivity/handling#message_responses
func (h *Handler) respond(ctx context.Context, responseURL string, rep Reply) error {
	if responseURL == "" {
		return nil
	}
	if !h.slackURL(responseURL) {
		// response_url comes in the request body: it must be Slack's, or ecs-medic would post
		// wherever a request told it to.
		return fmt.Errorf("response_url is not Slack's (https://hooks.slack.com/...): not followed")
	}
	if rep.ResponseType == "" {
		rep.ResponseType = "ephemeral"
	}
	b, _ := json.Marshal(rep)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := h.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post to response_url: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("post to response_url: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Goroutines is the Deferrer of `medic serve`: the job runs in the background, bounded in time.
func Goroutines(h *Handler) Deferrer {
	return func(_ context.Context, j Job) error {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := h.Run(ctx, j); err != nil {
				h.Log.Warn("slack job", zap.String("kind", string(j.Kind)), zap.Error(err))
			}
		}()
		return nil
	}
}

// slackURL reports whether u is one of Slack's response_url addresses: https on hooks.slack.com,
// or the host of MEDIC_SLACK_API_URL (a test double of Slack).
func (h *Handler) slackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User != nil || p.Host == "" {
		return false
	}
	if p.Scheme == "https" && p.Host == "hooks.slack.com" {
		return true
	}
	if h.SlackAPIURL == "" {
		return false
	}
	base, err := url.Parse(h.SlackAPIURL)
	return err == nil && base.Host != "" && base.Scheme == p.Scheme && base.Host == p.Host
}

// shortReason says why an AWS call failed in a few words (its error code and message), without
// the request ids and SDK wrapping that mean nothing to a responder.
func shortReason(err error) string { return notify.Reason(err) }

// esc escapes text that came from events or users for Slack (see notify.SlackEscape).
func esc(s string) string { return notify.SlackEscape(s) }
