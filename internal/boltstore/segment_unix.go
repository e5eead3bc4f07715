//go:build unix

package boltstore

import (
	"fmt"
	"os"
	"syscall"
)

// segment is one log file mapped into memory (MAP_SHARED): a record copied into the mapping is in
// the operating system's page cache at once, with no system call, so it survives the process
// being killed. Sync writes it to the disk.
type segment struct {
	f    *os.File
	data []byte
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
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("map log segment: %w", err)
	}
	return &segment{f: f, data: data}, nil
}

// write copies p into the segment at off.
func (s *segment) write(off int, p []byte) error {
	copy(s.data[off:], p)
	return nil
}

func (s *segment) size() int { return len(s.data) }

func (s *segment) sync() error { return s.f.Sync() }

func (s *segment) close() error {
	err := syscall.Munmap(s.data)
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
