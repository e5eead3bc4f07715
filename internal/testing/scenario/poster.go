package scenario

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Post is the load generator of the ingest benchmarks: it sends each body in its own
// HTTP/1.1 POST to target (a full URL) from `clients` senders, each on one kept-alive connection,
// and reads each answer's status and body. It is the same client for ecs-medic and for
// Alertmanager, and it does as little as a client can: the request head is formatted once per
// sender, request and body leave in one write, the answer is parsed for its status, length and
// connection only. net/http's client costs several times that per request (a goroutine hand-off
// each way, header maps), a cost added to both sides of a comparison that squeezes its ratio.
// It returns what was sent and the 4xx answers (refused input) as Rejected; any other answer
// that is not 2xx is an error.
func Post(ctx context.Context, target string, bodies [][]byte, clients int) (Sent, error) {
	u, err := url.Parse(target)
	if err != nil {
		return Sent{}, fmt.Errorf("post: %w", err)
	}
	senders := make([]*sender, max(clients, 1))
	for i := range senders {
		senders[i] = &sender{addr: u.Host, head: "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
			"\r\nContent-Type: application/json\r\nContent-Length: "}
	}
	defer func() {
		for _, s := range senders {
			s.close()
		}
	}()
	rejected := make([]int, len(senders))
	sent, err := driveOn(ctx, len(bodies), len(senders), func(w, i int) error {
		status, err := senders[w].post(bodies[i])
		switch {
		case err != nil:
			return fmt.Errorf("request %d: %w", i, err)
		case status >= 400 && status < 500:
			rejected[w]++
		case status < 200 || status > 299:
			return fmt.Errorf("request %d: HTTP %d", i, status)
		}
		return nil
	})
	for _, n := range rejected {
		sent.Rejected += n
	}
	return sent, err
}

// sender is one connection of Post.
type sender struct {
	addr string
	head string // the request head up to the Content-Length value
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func (s *sender) close() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// post sends one request and reads its answer, opening the connection if it has none (first
// request, or the server closed it). A request on a kept-alive connection that failed before any
// byte of an answer is sent again once on a new one: a server closes an idle kept-alive
// connection without reading what was just written to it. net/http's client does the same only
// for requests it may replay; an event is one (its id makes a second delivery a redelivery), but
// were a server to read the request and then drop the connection, the resend would be counted as
// one more redelivery than the storm made, and the storm's check would say so.
func (s *sender) post(body []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		fresh := s.conn == nil
		if fresh {
			c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
			if err != nil {
				return 0, err
			}
			s.conn, s.r = c, bufio.NewReaderSize(c, 4096)
		}
		s.buf = append(append(strconv.AppendInt(append(s.buf[:0], s.head...), int64(len(body)), 10), "\r\n\r\n"...), body...)
		status, keep, err := s.roundTrip()
		if !keep || err != nil {
			s.close()
		}
		if err != nil && !fresh && attempt == 0 && status == 0 {
			continue
		}
		return status, err
	}
}

// roundTrip writes s.buf and reads the answer: its status, and whether the connection stays open.
func (s *sender) roundTrip() (status int, keep bool, err error) {
	if err := s.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, false, err
	}
	if _, err := s.conn.Write(s.buf); err != nil {
		return 0, false, err
	}
	line, err := s.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := s.r.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return status, false, fmt.Errorf("bad header %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return status, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = s.discardChunks()
	case length >= 0:
		_, err = s.r.Discard(length)
	default: // the body ends with the connection
		_, err = io.Copy(io.Discard, s.r)
		keep = false
	}
	if err != nil {
		return status, false, err
	}
	return status, keep, nil
}

// discardChunks reads a chunked body to its end.
func (s *sender) discardChunks() error {
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errors.New("bad chunk size")
		}
		if n == 0 { // the trailer, up to its blank line
			for {
				t, err := s.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := s.r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}
