package functions_test

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const (
	iamFile    = "../deploy/terraform/modules/ecs-medic/iam.tf"
	memberFile = "../deploy/terraform/modules/member/main.tf"
)

// policies reads the aws_iam_policy_document blocks of a Terraform file: document name → the
// actions its Allow statements grant, with those of the documents it names in
// source_policy_documents.
func policies(t *testing.T, path string) map[string]map[string]bool {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", path, diags)
	}
	out := map[string]map[string]bool{}
	sources := map[string][]string{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "data" || len(b.Labels) != 2 || b.Labels[0] != "aws_iam_policy_document" {
			continue
		}
		actions := map[string]bool{}
		if attr, ok := b.Body.Attributes["source_policy_documents"]; ok {
			for _, tr := range attr.Expr.Variables() {
				// data.aws_iam_policy_document.<name>[...].json
				if tr.RootName() != "data" || len(tr) < 3 {
					continue
				}
				if doc, ok := tr[2].(hcl.TraverseAttr); ok {
					sources[b.Labels[1]] = append(sources[b.Labels[1]], doc.Name)
				}
			}
		}
		var statements []*hclsyntax.Block
		for _, st := range b.Body.Blocks {
			switch {
			case st.Type == "statement":
				statements = append(statements, st)
			case st.Type == "dynamic" && len(st.Labels) == 1 && st.Labels[0] == "statement":
				for _, c := range st.Body.Blocks {
					if c.Type == "content" {
						statements = append(statements, c)
					}
				}
			}
		}
		for _, st := range statements {
			if eff, ok := st.Body.Attributes["effect"]; ok {
				if v, _ := eff.Expr.Value(nil); v.AsString() != "Allow" {
					continue
				}
			}
			attr, ok := st.Body.Attributes["actions"]
			if !ok {
				continue
			}
			v, diags := attr.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("%s: actions of %s must be literal: %s", path, b.Labels[1], diags)
			}
			for it := v.ElementIterator(); it.Next(); {
				_, a := it.Element()
				actions[a.AsString()] = true
			}
		}
		out[b.Labels[1]] = actions
	}
	for doc, srcs := range sources {
		for _, src := range srcs {
			if out[src] == nil {
				t.Fatalf("%s: %s sources unknown policy document %q", path, doc, src)
			}
			for a := range out[src] {
				out[doc][a] = true
			}
		}
	}
	return out
}

// Actions a function's role needs though its code never calls them: the Lambda service writes
// its logs and sends failed asynchronous invocations to the dead-letter queue with it.
var platform = map[string]bool{"logs:CreateLogStream": true, "logs:PutLogEvents": true, "sqs:SendMessage": true}

// memberAccess is granted only in organization mode, on the member role alone (the module's
// terraform test asserts the resource): it is how a function reaches a member account, whose
// role is checked against the same calls in TestIAMMemberRoleGrantsTheSameCalls.
var memberAccess = map[string]bool{"sts:AssumeRole": true}

func readOnly(action string) bool {
	_, op, _ := strings.Cut(action, ":")
	for _, p := range []string{"Get", "Describe", "List", "Query", "Scan", "BatchGet", "Filter"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// implied are permissions AWS checks on a call besides the call's own: registering a task
// definition with tags needs ecs:TagResource, and with task or execution roles iam:PassRole
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html,
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
var implied = map[string][]string{"ecs:RegisterTaskDefinition": {"ecs:TagResource", "iam:PassRole"}}

// checkPolicy returns what is wrong with a policy for the calls a function made.
func checkPolicy(granted, called map[string]bool) []string {
	var problems []string
	for a := range called {
		for _, i := range implied[a] {
			if !called[i] {
				defer delete(called, i)
				called[i] = true
			}
		}
	}
	for a := range called {
		if !granted[a] && a != "iam:PassRole" { // PassRole is granted per deployment (pass_role_arns)
			problems = append(problems, "missing "+a+" (the code calls it)")
		}
	}
	for a := range granted {
		if !called[a] && !platform[a] && !memberAccess[a] && !readOnly(a) {
			problems = append(problems, "grants "+a+", which changes something the code never calls")
		}
	}
	sort.Strings(problems)
	return problems
}

// scenarios are the end-to-end runs of each function whose AWS calls the policies must cover.
var scenarios = map[string]func(*testing.T) *world{
	"ecs-events": scenarioECSEvents, "alarm-events": scenarioAlarmEvents, "reconciler": scenarioReconciler,
	"slack": scenarioSlack, "remediate": scenarioRemediate,
}

// callsOf returns the AWS calls fn made in its end-to-end test, running it when it has not run.
func callsOf(t *testing.T, fn string) map[string]bool {
	t.Helper()
	observedMu.Lock()
	called := observed[fn]
	observedMu.Unlock()
	if called == nil {
		w := scenarios[fn](t)
		observe(fn, w)
		called = w.calls()
	}
	return called
}

func TestIAMGrantsEveryCallAndNoMore(t *testing.T) {
	docs := policies(t, iamFile)
	for fn := range scenarios {
		t.Run(fn, func(t *testing.T) {
			called := callsOf(t, fn)
			doc := strings.ReplaceAll(fn, "-", "_")
			granted, ok := docs[doc]
			if !ok {
				t.Fatalf("iam.tf has no aws_iam_policy_document %q for function %s", doc, fn)
			}
			if len(called) == 0 {
				t.Fatal("no AWS calls recorded: the recorder is broken")
			}
			for _, p := range checkPolicy(granted, called) {
				t.Error(p)
			}
			// No function but remediate may change ECS.
			for a := range granted {
				if strings.HasPrefix(a, "ecs:") && !readOnly(a) && fn != "remediate" {
					t.Errorf("%s may change ECS (%s): only the remediation function may", fn, a)
				}
			}
			t.Logf("%s calls %v", fn, keys(called))
		})
	}
}

// inMemberAccount says whether a call is one the functions make about a service, which in a
// member account goes through the member role.
func inMemberAccount(action string) bool {
	svc, _, _ := strings.Cut(action, ":")
	return (svc == "ecs" || svc == "logs" || svc == "application-autoscaling") && !platform[action]
}

// TestIAMMemberRoleGrantsTheSameCalls: in a member account the functions make the same ECS, Logs
// and Application Auto Scaling calls through the member role (those of every function's scenario,
// and those the member-account test saw made with the role). Its read policy must grant every
// read any function made and change nothing; its fix policy (attached with allow_fixes) every
// change the remediation function made, and nothing more.
func TestIAMMemberRoleGrantsTheSameCalls(t *testing.T) {
	docs := policies(t, memberFile)
	read, fix := docs["member_read"], docs["member_fix"]
	if read == nil || fix == nil {
		t.Fatalf("%s needs aws_iam_policy_document member_read and member_fix", memberFile)
	}
	reads, writes := map[string]bool{}, map[string]bool{}
	for fn := range scenarios {
		for a := range callsOf(t, fn) {
			switch {
			case !inMemberAccount(a):
			case readOnly(a):
				reads[a] = true
			default:
				writes[a] = true
			}
		}
	}
	// And what the member role was really used for, in the member-account end-to-end test.
	observedMu.Lock()
	used := observed["member-role"]
	observedMu.Unlock()
	if used == nil {
		TestMemberAccountFunctions(t)
		observedMu.Lock()
		used = observed["member-role"]
		observedMu.Unlock()
	}
	if len(used) == 0 {
		t.Fatal("the member-account test recorded no call through the member role")
	}
	for a := range used {
		if readOnly(a) {
			reads[a] = true
		} else {
			writes[a] = true
		}
	}
	if len(reads) == 0 || len(writes) == 0 {
		t.Fatalf("reads %v writes %v: the recorder is broken", keys(reads), keys(writes))
	}
	for a := range reads {
		if !read[a] {
			t.Errorf("member_read lacks %s (a function calls it)", a)
		}
	}
	for a := range read {
		if !readOnly(a) {
			t.Errorf("member_read grants %s, which changes something: fixes belong in member_fix", a)
		}
	}
	for _, p := range checkPolicy(fix, writes) {
		t.Error("member_fix:", p)
	}
	t.Logf("member role: reads %v, fixes %v", keys(reads), keys(writes))
}

// The cross-check must be able to fail: a policy that lacks an action the code uses, or grants
// a mutating one it does not, is reported.
func TestIAMCheckCatchesGaps(t *testing.T) {
	called := map[string]bool{"dynamodb:PutItem": true, "dynamodb:UpdateItem": true, "ecs:DescribeServices": true}
	granted := map[string]bool{"dynamodb:PutItem": true, "ecs:DescribeServices": true, "ecs:UpdateService": true, "dynamodb:Query": true}
	got := checkPolicy(granted, called)
	want := []string{"grants ecs:UpdateService, which changes something the code never calls", "missing dynamodb:UpdateItem (the code calls it)"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return fmt.Sprint(ks)
}
