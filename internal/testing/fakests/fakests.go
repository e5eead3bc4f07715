// Package fakests is an in-process AWS STS endpoint for tests: an httptest server speaking STS's
// real query protocol (form-encoded Action=AssumeRole / GetCallerIdentity, XML answers, XML
// errors such as AccessDenied), so the SDK's own assume-role credentials provider is exercised end
// to end. It knows which account every access key belongs to — the long-lived keys it is given
// and the temporary ones it issues — so that other fakes can tell, from a request's signature,
// which account's credentials made it (Route). Calls are recorded and faults scripted as on every
// fake (fakes.Faults, a fault's Op being the Action).
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
package fakests

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// Call is one STS request received.
type Call struct {
	Action    string
	RoleArn   string
	AccessKey string // the key that signed the request
}

// Server is the fake STS.
type Server struct {
	*httptest.Server
	fakes.Faults
	fakes.Recorder[Call]

	mu      sync.Mutex
	keys    map[string]string // access key id → account
	roles   map[string]bool   // role ARN → may be assumed
	expiry  []time.Time       // scripted Expiration of the next issued credentials
	ttl     time.Duration
	now     func() time.Time
	issued  int
	unknown []string // keys seen on other fakes' requests that no account owns
}

// New starts a fake STS. keys maps long-lived access key ids to their account.
func New(keys map[string]string) *Server {
	s := &Server{keys: map[string]string{}, roles: map[string]bool{}, ttl: time.Hour, now: time.Now}
	for k, a := range keys {
		s.keys[k] = a
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// AllowRole lets role (arn:aws:iam::<account>:role/<name>) be assumed; any other is AccessDenied.
func (s *Server) AllowRole(arn string) { s.mu.Lock(); s.roles[arn] = true; s.mu.Unlock() }

// DenyRole makes role refuse to be assumed again.
func (s *Server) DenyRole(arn string) { s.mu.Lock(); delete(s.roles, arn); s.mu.Unlock() }

// ExpireAt scripts the Expiration of the next credentials issued, in order; after them,
// credentials last an hour from the fake's clock.
func (s *Server) ExpireAt(t ...time.Time) {
	s.mu.Lock()
	s.expiry = append(s.expiry, t...)
	s.mu.Unlock()
}

// AccountOf returns the account an access key belongs to, or "".
func (s *Server) AccountOf(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key]
}

// Route returns an endpoint that passes each signed request to the handler of the account whose
// credentials signed it: several accounts' fake ECS (or CloudWatch Logs) behind the one endpoint
// URL the SDK is given, as AWS serves every account from the same regional endpoint. A request
// signed by a key no account owns is refused as AWS refuses it.
func (s *Server) Route(byAccount map[string]http.Handler) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := fakes.SigningKey(r)
		h, ok := byAccount[s.AccountOf(key)]
		if !ok {
			s.mu.Lock()
			s.unknown = append(s.unknown, key)
			s.mu.Unlock()
			fakes.WriteAWSError(w, http.StatusBadRequest, "UnrecognizedClientException",
				fmt.Sprintf("The security token included in the request is invalid (key %s).", key))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Unrouted returns the access keys of requests Route could not attribute to an account.
func (s *Server) Unrouted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unknown...)
}

const ns = "https://sts.amazonaws.com/doc/2011-06-15/"

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Credentials credentialsXML `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type callerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

var roleRE = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/(.+)$`)

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.fail(w, http.StatusBadRequest, "InvalidAction", "STS takes form-encoded POST requests")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	key := fakes.SigningKey(r)
	c := Call{Action: r.Form.Get("Action"), RoleArn: r.Form.Get("RoleArn"), AccessKey: key}
	s.Record(c.Action, c)
	if f, failed := s.Take(r.Context(), c.Action); failed {
		code := f.Code
		if code == "" {
			code = "ServiceUnavailable"
		}
		s.fail(w, f.Status, code, "injected failure")
		return
	}
	s.mu.Lock()
	caller, known := s.keys[key]
	s.mu.Unlock()
	if r.Form.Get("Version") != "2011-06-15" {
		s.fail(w, http.StatusBadRequest, "InvalidParameterValue", "Version must be 2011-06-15")
		return
	}
	if !known {
		s.fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	switch c.Action {
	case "GetCallerIdentity":
		var out callerIdentityResponse
		out.Xmlns, out.RequestID = ns, "req-identity"
		out.Result.Account, out.Result.UserID = caller, key
		out.Result.Arn = "arn:aws:iam::" + caller + ":user/ecs-medic"
		writeXML(w, http.StatusOK, out)
	case "AssumeRole":
		s.assumeRole(w, r, caller)
	default:
		s.fail(w, http.StatusBadRequest, "InvalidAction", "fakests does not implement "+c.Action)
	}
}

func (s *Server) assumeRole(w http.ResponseWriter, r *http.Request, caller string) {
	arn, session := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	m := roleRE.FindStringSubmatch(arn)
	if m == nil || session == "" {
		s.fail(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint", arn))
		return
	}
	s.mu.Lock()
	allowed := s.roles[arn]
	if !allowed {
		s.mu.Unlock()
		s.fail(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: arn:aws:iam::%s:user/ecs-medic is not authorized to perform: sts:AssumeRole on resource: %s", caller, arn))
		return
	}
	s.issued++
	key := fmt.Sprintf("ASIA%s%08d", m[1][8:], s.issued)
	s.keys[key] = m[1]
	exp := s.now().Add(s.ttl)
	if len(s.expiry) > 0 {
		exp, s.expiry = s.expiry[0], s.expiry[1:]
	}
	s.mu.Unlock()
	var out assumeRoleResponse
	out.Xmlns, out.RequestID = ns, "req-assume"
	out.Result.AssumedRoleUser.Arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", m[1], m[2], session)
	out.Result.AssumedRoleUser.AssumedRoleID = "AROA" + m[1] + ":" + session
	out.Result.Credentials = credentialsXML{AccessKeyID: key, SecretAccessKey: "secret-" + key, SessionToken: "token-" + key,
		Expiration: exp.UTC().Format(time.RFC3339)}
	writeXML(w, http.StatusOK, out)
}

func (s *Server) fail(w http.ResponseWriter, status int, code, msg string) {
	var out errorResponse
	out.Xmlns, out.RequestID = ns, "req-error"
	out.Error.Type, out.Error.Code, out.Error.Message = "Sender", code, msg
	writeXML(w, status, out)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}
