package scenario

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Poster sends bodies to target from `clients` senders and returns what it sent and the CPU
// time the sending took, or -1 when that cannot be told apart from the server's.
type Poster func(ctx context.Context, target string, bodies [][]byte, clients int) (Sent, time.Duration, error)

// InProcess is the Poster that runs Post in this process: its CPU cannot be told apart from a
// server in the same process (-1).
func InProcess(ctx context.Context, target string, bodies [][]byte, clients int) (Sent, time.Duration, error) {
	s, err := Post(ctx, target, bodies, clients)
	return s, -1, err
}

// ChildPoster is the Poster that runs Post in a process of its own: the command given (a
// program that calls RunPostChild, e.g. `medic-load -post-child`), which gets the target, the
// senders and the bodies on its standard input and answers with what it sent and the CPU time it
// spent sending. So the load generator and the server under test are separate processes, as a
// sender and `medic serve` are, and the CPU of each is measured apart.
func ChildPoster(name string, args ...string) Poster {
	return func(ctx context.Context, target string, bodies [][]byte, clients int) (Sent, time.Duration, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		in, err := cmd.StdinPipe()
		if err != nil {
			return Sent{}, 0, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return Sent{}, 0, err
		}
		if err := cmd.Start(); err != nil {
			return Sent{}, 0, fmt.Errorf("load generator: %w", err)
		}
		werr := make(chan error, 1)
		go func() {
			w := bufio.NewWriter(in)
			err := writeChildRequest(w, target, clients, bodies)
			if err == nil {
				err = w.Flush()
			}
			_ = in.Close()
			werr <- err
		}()
		var res childResult
		derr := json.NewDecoder(out).Decode(&res)
		_, _ = io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			return Sent{}, 0, fmt.Errorf("load generator: %w", err)
		}
		if err := <-werr; err != nil {
			return Sent{}, 0, fmt.Errorf("load generator input: %w", err)
		}
		if derr != nil {
			return Sent{}, 0, fmt.Errorf("load generator answer: %w", derr)
		}
		if res.Error != "" {
			return res.Sent, res.CPU, fmt.Errorf("load generator: %s", res.Error)
		}
		return res.Sent, res.CPU, nil
	}
}

// childResult is what the child answers, as JSON.
type childResult struct {
	Sent  Sent
	CPU   time.Duration
	Error string
}

// writeChildRequest frames the target, the senders and the bodies: each a uvarint length and its
// bytes (the senders as a decimal string), the count of bodies first.
func writeChildRequest(w io.Writer, target string, clients int, bodies [][]byte) error {
	var b []byte
	put := func(p []byte) { b = append(binary.AppendUvarint(b, uint64(len(p))), p...) }
	put([]byte(target))
	put([]byte(fmt.Sprint(clients)))
	b = binary.AppendUvarint(b, uint64(len(bodies)))
	if _, err := w.Write(b); err != nil {
		return err
	}
	for _, body := range bodies {
		if _, err := w.Write(binary.AppendUvarint(nil, uint64(len(body)))); err != nil {
			return err
		}
		if _, err := w.Write(body); err != nil {
			return err
		}
	}
	return nil
}

// RunPostChild is the child side of ChildPoster: it reads the request from r, sends it with Post,
// and writes the result to w. Only the sending is timed and counted.
func RunPostChild(ctx context.Context, r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	next := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > 64<<20 {
			return nil, fmt.Errorf("a part of %d bytes", n)
		}
		p := make([]byte, n)
		_, err = io.ReadFull(br, p)
		return p, err
	}
	target, err := next()
	if err != nil {
		return fmt.Errorf("read target: %w", err)
	}
	rawClients, err := next()
	if err != nil {
		return fmt.Errorf("read senders: %w", err)
	}
	var clients int
	if _, err := fmt.Sscan(string(rawClients), &clients); err != nil {
		return fmt.Errorf("senders %q: %w", rawClients, err)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return fmt.Errorf("read count: %w", err)
	}
	bodies := make([][]byte, 0, min(n, 1<<20))
	for range n {
		b, err := next()
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		bodies = append(bodies, b)
	}
	cpu0 := selfCPU()
	sent, err := Post(ctx, string(target), bodies, clients)
	res := childResult{Sent: sent, CPU: selfCPU() - cpu0}
	if err != nil {
		res.Error = err.Error()
	}
	res.Sent.Latencies = nil // the parent has no use for them
	return json.NewEncoder(w).Encode(res)
}
