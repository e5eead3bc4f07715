// Package dynalite runs dynalite, a DynamoDB implementation on Node.js (installed by `make test`
// into testenv/ from the npm registry, version pinned in testenv/package-lock.json), for tests
// that need DynamoDB's real wire protocol and really checked conditional writes.
package dynalite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// Server is a running dynalite.
type Server struct {
	URL string
	cmd *exec.Cmd
}

// ErrNotInstalled means testenv/node_modules has no dynalite: run `make testenv` (make test does).
var ErrNotInstalled = errors.New("dynalite is not installed: run `make testenv` (or `make test`)")

// Start launches dynalite on a free loopback port, in memory.
func Start() (*Server, error) {
	cli, err := findCLI()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command("node", cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	// dynalite prints "Dynalite listening at: <url>" once it listens: that line says it is ready,
	// its output ending first says it died. The rest of its output goes on to stderr.
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said && strings.HasPrefix(sc.Text(), "Dynalite listening at:") {
				said = true
				ready <- true
				continue
			}
			fmt.Fprintln(os.Stderr, sc.Text())
		}
		if !said {
			ready <- false
		}
	}()
	if !<-ready {
		s.Stop()
		return nil, errors.New("dynalite ended before it listened")
	}
	return s, nil
}

// Stop ends the process.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Client returns a DynamoDB client for url (dynalite, or a proxy in front of it).
func Client(url string, retries int) *dynamodb.Client {
	cfg := fakes.AWSConfig(url)
	cfg.RetryMaxAttempts = retries
	return dynamodb.NewFromConfig(cfg)
}

var tableSeq atomic.Int64

// TableName returns a fresh table name for one test.
func TableName() string {
	return fmt.Sprintf("medic-test-%d-%d", os.Getpid(), tableSeq.Add(1))
}

// Runner is what Main runs: a package's *testing.M (this package does not import testing, so
// that a command such as medic-load can start dynalite too).
type Runner interface{ Run() int }

// Main runs a package's tests with a dynalite started for them and stopped after. Without
// dynalite installed the tests are skipped — except under CI, where that is a failure.
func Main(m Runner, srv **Server) int {
	s, err := Start()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		fmt.Fprintln(os.Stderr, "SKIP DynamoDB tests:", err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*srv = s
	defer s.Stop()
	return m.Run()
}

// findCLI finds testenv/node_modules/dynalite/cli.js above the working directory.
func findCLI() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "testenv", "node_modules", "dynalite", "cli.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", ErrNotInstalled
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotInstalled
		}
		dir = parent
	}
}

// WaitContext is a short context for test setup calls.
func WaitContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// NewTable creates a fresh table (TableName) with create, the store's layout, and waits until it
// is active.
func NewTable(url string, create func(context.Context, *dynamodb.Client, string) error) (string, error) {
	table := TableName()
	admin := Client(url, 3)
	ctx, cancel := WaitContext()
	defer cancel()
	if err := create(ctx, admin, table); err != nil {
		return "", fmt.Errorf("create table %s: %w", table, err)
	}
	err := dynamodb.NewTableExistsWaiter(admin).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 5*time.Second,
		func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
		})
	if err != nil {
		return "", fmt.Errorf("table %s: %w", table, err)
	}
	return table, nil
}
