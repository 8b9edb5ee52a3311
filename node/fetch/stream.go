package fetch

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrRestarted ends a Stream's reader whose bytes will not be the file's: the
// try it followed failed, or its bytes did not match the sha256, and the
// download started over (or gave up). What was read must be thrown away.
var ErrRestarted = errors.New("the download started over")

// Stream is a Fetch in progress whose bytes can be read while they arrive,
// so that work on them (unpacking into staging) overlaps the download. A
// reader ends with io.EOF only once every byte it returned is known to be
// the verified file's; a failed try ends it with ErrRestarted, a failed
// fetch with the fetch's error. So work whose readers all reached EOF was
// done on the verified bytes; anything else is to be thrown away (Wait
// still says how the fetch went).
type Stream struct {
	done chan struct{} // closed when the fetch is over
	path string
	err  error

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced at every change below
	file     *os.File      // the temporary file's bytes (a file of its own); nil before a try
	try      int           // the current try, from 1
	written  int64         // bytes of the current try in file
	verified bool          // the current try's bytes are the file's
	over     bool          // the fetch is over
	closed   bool
}

// Stream starts fetching like FetchSized and returns at once.
func (f *Fetcher) Stream(ctx context.Context, candidates []string, sum string, pinned int64) *Stream {
	s := &Stream{done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		path, err := f.fetch(ctx, candidates, sum, pinned, s)
		s.mu.Lock()
		s.path, s.err, s.over = path, err, true
		s.signal()
		s.mu.Unlock()
		close(s.done)
	}()
	return s
}

// Wait returns what FetchSized would have: the cached file's path, or why
// there is none.
func (s *Stream) Wait() (string, error) {
	<-s.done
	return s.path, s.err
}

// Close waits for the fetch and releases the stream's file; its readers
// fail from then on.
func (s *Stream) Close() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}

// Open returns a reader of the download's bytes from the start: those of
// the try under way, those of the cached file once the fetch is over.
func (s *Stream) Open() (io.ReadCloser, error) {
	return &streamReader{s: s}, nil
}

// signal wakes the readers; called with mu held.
func (s *Stream) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// attach gives the stream its own handle of the fetch's temporary file,
// which the fetch closes or renames when it is done.
func (s *Stream) attach(tmp *os.File) error {
	if s == nil {
		return nil
	}
	fd, err := unix.Dup(int(tmp.Fd()))
	if err != nil {
		return err
	}
	unix.CloseOnExec(fd)
	s.mu.Lock()
	s.file = os.NewFile(uintptr(fd), tmp.Name())
	s.mu.Unlock()
	return nil
}

// begin starts a try: what readers had is no longer the file's.
func (s *Stream) begin() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.try++
	s.written, s.verified = 0, false
	s.signal()
	s.mu.Unlock()
}

// wrote says n more bytes of the try are in the file.
func (s *Stream) wrote(n int) {
	if s == nil || n == 0 {
		return
	}
	s.mu.Lock()
	s.written += int64(n)
	s.signal()
	s.mu.Unlock()
}

// verify says the try's bytes matched the sha256.
func (s *Stream) verify() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.verified = true
	s.signal()
	s.mu.Unlock()
}

// streamWriter tells the stream what was written to the file.
type streamWriter struct {
	w io.Writer
	s *Stream
}

func (w streamWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.s.wrote(n)
	return n, err
}

// streamReader follows one try of the download, or reads the cached file.
type streamReader struct {
	s      *Stream
	try    int // the try it follows; 0 before the first read
	off    int64
	cached *os.File // the fetch was over before anything was read
}

func (r *streamReader) Read(b []byte) (int, error) {
	if r.cached != nil {
		return r.cached.Read(b)
	}
	s := r.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, os.ErrClosed
		}
		if r.try == 0 && s.over && (s.err != nil || s.try == 0 || !s.verified) {
			// Nothing followed: the cached file (a cache hit), or the error.
			path, err := s.path, s.err
			s.mu.Unlock()
			if err != nil {
				return 0, err
			}
			if r.cached, err = os.Open(path); err != nil {
				return 0, err
			}
			return r.cached.Read(b)
		}
		if r.try == 0 && s.try > 0 {
			r.try = s.try
		}
		switch {
		case r.try != 0 && r.try != s.try:
			s.mu.Unlock()
			return 0, ErrRestarted
		case r.try != 0 && r.off < s.written:
			return r.readAt(b)
		case r.try != 0 && s.verified:
			s.mu.Unlock()
			return 0, io.EOF
		case s.over:
			err := s.err
			s.mu.Unlock()
			if err == nil {
				err = ErrRestarted
			}
			return 0, err
		}
		wait := s.changed
		s.mu.Unlock()
		<-wait
	}
}

// readAt reads what the try has written past the reader's offset; called
// with mu held, which it releases. Bytes read while the try was replaced
// are not the try's: ErrRestarted.
func (r *streamReader) readAt(b []byte) (int, error) {
	s := r.s
	f := s.file
	if left := s.written - r.off; int64(len(b)) > left {
		b = b[:left]
	}
	s.mu.Unlock()
	n, err := f.ReadAt(b, r.off)
	if err == io.EOF && n == len(b) {
		err = nil
	}
	s.mu.Lock()
	same := s.try == r.try
	s.mu.Unlock()
	if !same {
		return 0, ErrRestarted
	}
	r.off += int64(n)
	return n, err
}

func (r *streamReader) Close() error {
	if r.cached != nil {
		return r.cached.Close()
	}
	return nil
}
