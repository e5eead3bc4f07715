//go:build !unix

package boltstore

import (
	"fmt"
	"os"
)

// segment is one log file, written with a system call per group of records where memory mapping
// is not available.
type segment struct {
	f *os.File
	n int
}

func createSegment(name string, size int) (*segment, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log segment: %w", err)
	}
	if err := f.Truncate(int64(size)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log segment: %w", err)
	}
	return &segment{f: f, n: size}, nil
}

func (s *segment) write(off int, p []byte) error {
	_, err := s.f.WriteAt(p, int64(off))
	return err
}

func (s *segment) size() int { return s.n }

func (s *segment) sync() error { return s.f.Sync() }

func (s *segment) close() error { return s.f.Close() }
