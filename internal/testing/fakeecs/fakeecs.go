// Package fakeecs is an in-process Amazon ECS endpoint for tests and load runs: an httptest server
// that speaks ECS's real wire protocol (AWS JSON 1.1, operation chosen by the X-Amz-Target header,
// errors as {"__type": ..., "message": ...}) so that the real SDK client is exercised end to end.
// It records every call, and can be told to be slow, down, or to fail or throttle the next calls
// (fakes.Faults: a fault's Op is the ECS operation, "DescribeServices").
package fakeecs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// targetPrefix is ECS's JSON 1.1 service prefix in X-Amz-Target.
const targetPrefix = "AmazonEC2ContainerServiceV20141113."

// Service is a service the fake knows.
type Service struct {
	Cluster        string
	Name           string
	Desired        int
	Running        int
	Pending        int
	TaskDefinition string
	Deployments    []Deployment
	Tags           map[string]string
	// MaxCapacity is the Application Auto Scaling maximum of the service (0: not registered).
	MaxCapacity int
	// Controller is the deployment controller type ("" answers ECS, as ECS does).
	Controller string
	// Spot runs the service on the FARGATE_SPOT capacity provider instead of the FARGATE launch type.
	Spot bool
}

// Deployment is one deployment of a fake service.
type Deployment struct {
	ID             string
	Status         string
	TaskDefinition string
	RolloutState   string
	Reason         string
	Desired        int
	Running        int
	Failed         int
	CreatedAt      time.Time
}

// Call is one request the fake received.
type Call struct {
	Operation string
	Body      map[string]any
	// AccessKey is the access key id that signed the request (SigV4 Authorization header): which
	// credentials, and so which account, made the call.
	AccessKey string
}

// Server is the fake ECS endpoint.
type Server struct {
	*httptest.Server
	fakes.Faults
	fakes.Recorder[Call]

	mu       sync.Mutex
	services map[string]*Service        // key cluster/name
	taskDefs map[string]json.RawMessage // "family:revision" → taskDefinition JSON
	stopped  []stoppedTask
	account  string
}

// New starts a fake ECS with the given services. Close it when done.
func New(services ...Service) *Server {
	s := &Server{services: map[string]*Service{}, taskDefs: map[string]json.RawMessage{}}
	for i := range services {
		s.Put(services[i])
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// SetAccount sets the account id the fake's ARNs carry (default 111122223333): a fake standing
// for a member account.
func (s *Server) SetAccount(account string) { s.mu.Lock(); s.account = account; s.mu.Unlock() }

// arnPrefix is "arn:aws:ecs:us-east-1:<account>:"; callers may hold s.mu.
func (s *Server) arnPrefix() string {
	a := s.account
	if a == "" {
		a = "111122223333"
	}
	return "arn:aws:ecs:us-east-1:" + a + ":"
}

// Put adds or replaces a service.
func (s *Server) Put(svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := svc
	s.services[svc.Cluster+"/"+svc.Name] = &cp
}

// SetCounts changes a service's desired and running counts.
func (s *Server) SetCounts(cluster, name string, desired, running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc, ok := s.services[cluster+"/"+name]; ok {
		svc.Desired, svc.Running = desired, running
	}
}

// Throttled is the fault ECS answers a throttled call with (HTTP 400, ThrottlingException), for
// FailNext.
var Throttled = fakes.Fault{Status: http.StatusBadRequest, Code: "ThrottlingException"}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if scaling, isScaling := strings.CutPrefix(target, "AnyScaleFrontendService."); isScaling {
		target = targetPrefix + "Scaling" + scaling // Application Auto Scaling, served here too
	}
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		writeErr(w, http.StatusBadRequest, "UnknownOperationException", "bad target "+target)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeErr(w, http.StatusForbidden, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErr(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.Record(op, Call{Operation: op, Body: body, AccessKey: fakes.SigningKey(r)})
	if f, failed := s.Take(r.Context(), op); failed {
		msg := "injected failure"
		if f.Code == Throttled.Code {
			msg = "Rate exceeded"
		}
		writeErr(w, f.Status, fakes.AWSErrorCode(f), msg)
		return
	}
	switch op {
	case "DescribeServices":
		s.describeServices(w, body)
	case "DescribeTaskDefinition":
		s.describeTaskDefinition(w, body)
	case "RegisterTaskDefinition":
		s.registerTaskDefinition(w, body)
	case "UpdateService":
		s.updateService(w, body)
	case "ListTagsForResource":
		s.listTags(w, body)
	case "ScalingDescribeScalableTargets":
		s.describeScalableTargets(w, body)
	case "ListTasks":
		s.listTasks(w, body)
	case "DescribeTasks":
		s.describeTasks(w, body)
	case "ListClusters":
		s.listClusters(w)
	case "ListServices":
		s.listServices(w, body)
	default:
		writeErr(w, http.StatusBadRequest, "InvalidParameterException", "fakeecs does not implement "+op)
	}
}

func (s *Server) describeServices(w http.ResponseWriter, body map[string]any) {
	cluster := clusterName(body)
	names, _ := body["services"].([]any)
	out := map[string]any{"services": []any{}, "failures": []any{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		name, _ := n.(string)
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:] // a service ARN
		}
		svc, ok := s.services[cluster+"/"+name]
		if !ok {
			out["failures"] = append(out["failures"].([]any), map[string]any{
				"arn":    fmt.Sprintf(s.arnPrefix()+"service/%s/%s", cluster, name),
				"reason": "MISSING",
			})
			continue
		}
		deps := []any{}
		for _, d := range svc.Deployments {
			deps = append(deps, map[string]any{
				"id": d.ID, "status": d.Status, "taskDefinition": d.TaskDefinition,
				"rolloutState": d.RolloutState, "rolloutStateReason": d.Reason,
				"desiredCount": d.Desired, "runningCount": d.Running, "failedTasks": d.Failed,
				"createdAt": float64(d.CreatedAt.UnixMilli()) / 1000,
			})
		}
		entry := map[string]any{
			"serviceName":          svc.Name,
			"serviceArn":           fmt.Sprintf(s.arnPrefix()+"service/%s/%s", cluster, svc.Name),
			"clusterArn":           s.arnPrefix() + "cluster/" + cluster,
			"status":               "ACTIVE",
			"desiredCount":         svc.Desired,
			"runningCount":         svc.Running,
			"pendingCount":         svc.Pending,
			"taskDefinition":       svc.TaskDefinition,
			"deployments":          deps,
			"deploymentController": map[string]any{"type": cmp.Or(svc.Controller, "ECS")},
		}
		if svc.Spot {
			entry["capacityProviderStrategy"] = []any{map[string]any{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}}
		} else {
			entry["launchType"] = "FARGATE"
		}
		if includes(body, "TAGS") {
			tags := []map[string]string{}
			for k, v := range svc.Tags {
				tags = append(tags, map[string]string{"key": k, "value": v})
			}
			entry["tags"] = tags
		}
		out["services"] = append(out["services"].([]any), entry)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// PutTaskDefinition registers a task definition (the JSON of DescribeTaskDefinition's
// "taskDefinition"), found by its ARN or family:revision.
func (s *Server) PutTaskDefinition(familyRevision string, def json.RawMessage) {
	s.mu.Lock()
	s.taskDefs[familyRevision] = def
	s.mu.Unlock()
}

// Mutations returns the calls that change something (RegisterTaskDefinition, UpdateService).
func (s *Server) Mutations() []Call {
	var out []Call
	for _, c := range s.Calls("") {
		if c.Operation == "RegisterTaskDefinition" || c.Operation == "UpdateService" {
			out = append(out, c)
		}
	}
	return out
}

// Service returns a copy of a service as the fake holds it now.
func (s *Server) Service(cluster, name string) Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc, ok := s.services[cluster+"/"+name]; ok {
		return *svc
	}
	return Service{}
}

func (s *Server) registerTaskDefinition(w http.ResponseWriter, body map[string]any) {
	family, _ := body["family"].(string)
	s.mu.Lock()
	rev := 1
	for k := range s.taskDefs {
		if f, r, ok := strings.Cut(k, ":"); ok && f == family {
			var n int
			fmt.Sscan(r, &n)
			if n >= rev {
				rev = n + 1
			}
		}
	}
	def := map[string]any{}
	for k, v := range body {
		if k != "tags" {
			def[k] = v
		}
	}
	def["revision"] = rev
	def["status"] = "ACTIVE"
	def["taskDefinitionArn"] = fmt.Sprintf(s.arnPrefix()+"task-definition/%s:%d", family, rev)
	raw, _ := json.Marshal(def)
	s.taskDefs[fmt.Sprintf("%s:%d", family, rev)] = raw
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"taskDefinition": json.RawMessage(raw), "tags": body["tags"]})
}

func (s *Server) updateService(w http.ResponseWriter, body map[string]any) {
	cluster := clusterName(body)
	name, _ := body["service"].(string)
	s.mu.Lock()
	svc, ok := s.services[cluster+"/"+name]
	if ok {
		if td, _ := body["taskDefinition"].(string); td != "" {
			if !strings.HasPrefix(td, "arn:") {
				td = s.arnPrefix() + "task-definition/" + td
			}
			svc.TaskDefinition = td
			svc.Deployments = append([]Deployment{{ID: fmt.Sprintf("ecs-svc/%d", len(svc.Deployments)+100), Status: "PRIMARY",
				TaskDefinition: td, RolloutState: "IN_PROGRESS", Desired: svc.Desired}}, svc.Deployments...)
			for i := 1; i < len(svc.Deployments); i++ {
				svc.Deployments[i].Status = "ACTIVE"
			}
		}
		if d, ok := body["desiredCount"].(float64); ok {
			svc.Desired = int(d)
		}
	}
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusBadRequest, "ServiceNotFoundException", "Service not found.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"service": map[string]any{"serviceName": name, "desiredCount": svc.Desired, "taskDefinition": svc.TaskDefinition}})
}

func (s *Server) listTags(w http.ResponseWriter, body map[string]any) {
	arn, _ := body["resourceArn"].(string)
	parts := strings.Split(arn, "/")
	tags := []map[string]string{}
	if len(parts) >= 3 {
		s.mu.Lock()
		if svc, ok := s.services[parts[len(parts)-2]+"/"+parts[len(parts)-1]]; ok {
			for k, v := range svc.Tags {
				tags = append(tags, map[string]string{"key": k, "value": v})
			}
		}
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"tags": tags})
}

func (s *Server) describeScalableTargets(w http.ResponseWriter, body map[string]any) {
	ids, _ := body["ResourceIds"].([]any)
	targets := []map[string]any{}
	s.mu.Lock()
	for _, x := range ids {
		id, _ := x.(string) // service/<cluster>/<service>
		parts := strings.Split(id, "/")
		if len(parts) == 3 {
			if svc, ok := s.services[parts[1]+"/"+parts[2]]; ok && svc.MaxCapacity > 0 {
				targets = append(targets, map[string]any{"ServiceNamespace": "ecs", "ResourceId": id,
					"ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 1, "MaxCapacity": svc.MaxCapacity})
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"ScalableTargets": targets})
}

func (s *Server) describeTaskDefinition(w http.ResponseWriter, body map[string]any) {
	ref, _ := body["taskDefinition"].(string)
	if i := strings.LastIndex(ref, "task-definition/"); i >= 0 {
		ref = ref[i+len("task-definition/"):]
	}
	s.mu.Lock()
	def, ok := s.taskDefs[ref]
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusBadRequest, "ClientException", "Unable to describe task definition.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"taskDefinition": def})
}

type stoppedTask struct {
	cluster, service, arn string
	task                  json.RawMessage
}

// PutStoppedTask adds a stopped task of a service (the JSON of one DescribeTasks "tasks" entry,
// which must carry its taskArn).
func (s *Server) PutStoppedTask(cluster, service string, task json.RawMessage) {
	var t struct {
		TaskArn string `json:"taskArn"`
	}
	_ = json.Unmarshal(task, &t)
	s.mu.Lock()
	s.stopped = append(s.stopped, stoppedTask{cluster: cluster, service: service, arn: t.TaskArn, task: task})
	s.mu.Unlock()
}

func (s *Server) listTasks(w http.ResponseWriter, body map[string]any) {
	cluster := clusterName(body)
	service, _ := body["serviceName"].(string)
	s.mu.Lock()
	arns := []string{}
	for _, t := range s.stopped {
		if t.cluster == cluster && (service == "" || t.service == service) {
			arns = append(arns, t.arn)
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"taskArns": arns})
}

func (s *Server) describeTasks(w http.ResponseWriter, body map[string]any) {
	want, _ := body["tasks"].([]any)
	s.mu.Lock()
	tasks, failures := []json.RawMessage{}, []any{}
	for _, x := range want {
		id, _ := x.(string)
		found := false
		for _, t := range s.stopped {
			if t.arn == id || strings.HasSuffix(t.arn, "/"+id) {
				tasks, found = append(tasks, t.task), true
				break
			}
		}
		if !found {
			failures = append(failures, map[string]any{"arn": id, "reason": "MISSING"})
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"tasks": tasks, "failures": failures})
}

func includes(body map[string]any, field string) bool {
	inc, _ := body["include"].([]any)
	for _, x := range inc {
		if x == field {
			return true
		}
	}
	return false
}

func clusterName(body map[string]any) string {
	cluster, _ := body["cluster"].(string)
	if i := strings.LastIndexByte(cluster, '/'); i >= 0 {
		cluster = cluster[i+1:]
	}
	if cluster == "" {
		cluster = "default"
	}
	return cluster
}

func (s *Server) listClusters(w http.ResponseWriter) {
	s.mu.Lock()
	seen := map[string]bool{}
	arns := []string{}
	for _, svc := range s.services {
		if !seen[svc.Cluster] {
			seen[svc.Cluster] = true
			arns = append(arns, s.arnPrefix()+"cluster/"+svc.Cluster)
		}
	}
	s.mu.Unlock()
	sort.Strings(arns)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"clusterArns": arns})
}

func (s *Server) listServices(w http.ResponseWriter, body map[string]any) {
	cluster := clusterName(body)
	s.mu.Lock()
	arns := []string{}
	for _, svc := range s.services {
		if svc.Cluster == cluster {
			arns = append(arns, fmt.Sprintf(s.arnPrefix()+"service/%s/%s", cluster, svc.Name))
		}
	}
	s.mu.Unlock()
	sort.Strings(arns)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"serviceArns": arns})
}

func writeErr(w http.ResponseWriter, status int, typ, msg string) {
	fakes.WriteAWSError(w, status, typ, msg)
}
