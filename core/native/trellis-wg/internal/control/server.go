package control

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// Handler answers a server's requests.
type Handler interface {
	// Hello is the first frame body every new connection gets (a TypeInfo).
	Hello() []byte
	// Handle answers one request body with a reply body, or nil for none.
	Handle(body []byte) []byte
}

// clientQueue bounds what waits for one slow client; further datagrams for it are dropped.
const clientQueue = 4096

// Server accepts clients on a unix stream socket, mode 0600, and serves each with a reader (its
// requests, answered in order) and a writer (replies and broadcast frames).
type Server struct {
	path    string
	ln      *net.UnixListener
	handler Handler

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool

	// SlowDrops counts broadcast frames a client's full queue could not take.
	SlowDrops atomic.Uint64
}

type client struct {
	conn *net.UnixConn
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (c *client) close() {
	c.once.Do(func() {
		close(c.done)
		c.conn.Close()
	})
}

// Listen creates the socket at path and starts accepting. A socket file left by a process that is
// gone is replaced; one that still answers is an error (another trellis-wg serves it).
func Listen(path string, h Handler) (*Server, error) {
	s, err := bind(path, h)
	if err != nil {
		return nil, err
	}
	s.Start()
	return s, nil
}

// Start accepts clients on a server made by bind.
func (s *Server) Start() { go s.accept() }

// bind creates the socket without accepting yet, for a handler that needs the server first.
func bind(path string, h Handler) (*Server, error) {
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale control socket %s: %w", path, err)
		}
	}
	old := syscall.Umask(0o077)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	ln.SetUnlinkOnClose(true)
	return &Server{path: path, ln: ln, handler: h, clients: map[*client]struct{}{}}, nil
}

// Path is where the socket is.
func (s *Server) Path() string { return s.path }

// Clients is how many clients are connected.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func (s *Server) accept() {
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		c := &client{conn: conn, out: make(chan []byte, clientQueue), done: make(chan struct{})}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.clients[c] = struct{}{}
		s.mu.Unlock()
		c.out <- Frame(s.handler.Hello())
		go s.write(c)
		go s.read(c)
	}
}

func (s *Server) drop(c *client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	c.close()
}

func (s *Server) write(c *client) {
	defer s.drop(c)
	w := bufio.NewWriterSize(c.conn, 64<<10)
	for {
		select {
		case f := <-c.out:
			if _, err := w.Write(f); err != nil {
				return
			}
			// Flush when nothing else waits, so frames go out together under load and at once otherwise.
			if len(c.out) == 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		case <-c.done:
			return
		}
	}
}

func (s *Server) read(c *client) {
	defer s.drop(c)
	r := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		body, err := ReadFrame(r)
		if err != nil {
			return
		}
		reply := s.handler.Handle(body)
		if reply == nil {
			continue
		}
		select {
		case c.out <- Frame(reply):
		case <-c.done:
			return
		}
	}
}

// Broadcast queues a frame body for every client without waiting; it returns how many took it.
func (s *Server) Broadcast(body []byte) int {
	f := Frame(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.clients {
		select {
		case c.out <- f:
			n++
		default:
			s.SlowDrops.Add(1)
		}
	}
	return n
}

// Close stops accepting, disconnects every client and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	err := s.ln.Close()
	for _, c := range clients {
		c.close()
	}
	return err
}
