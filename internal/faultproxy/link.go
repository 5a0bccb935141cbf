package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunkSize is the most a pipe reads at once.
const chunkSize = 32 << 10

// slicesPerSecond is how finely a bandwidth limit is applied: each write
// carries at most a twentieth of a second's worth of bytes.
const slicesPerSecond = 20

// link is one proxied connection: the client side, and the upstream side
// once it is dialled.
type link struct {
	client net.Conn

	mu       sync.Mutex
	upstream net.Conn
	closed   bool
}

// setUpstream records the dialled upstream connection; false means the
// link was closed meanwhile, and up has been closed.
func (l *link) setUpstream(up net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		resetConn(up)
		return false
	}
	l.upstream = up
	return true
}

// close closes both sides once, with an RST when rst is set.
func (l *link) close(rst bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	for _, c := range []net.Conn{l.client, l.upstream} {
		if c == nil {
			continue
		}
		if rst {
			resetConn(c)
		} else {
			_ = c.Close()
		}
	}
}

// pipe copies src to dst through the proxy's mode until src ends or
// either side fails. An end of stream is passed on as a half close; a
// failure closes the whole link.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(dst, buf[:n], time.Now()) {
			l.close(p.Mode().Kind == Reset)
			return
		}
		if errors.Is(err, io.EOF) {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
		if err != nil {
			l.close(false)
			return
		}
	}
}

// forward writes b to dst once traffic passes, no earlier than the
// latency after readAt and no faster than the bandwidth limit, checking
// the mode again before each slice. It reports whether all of b was
// written.
func (p *Proxy) forward(dst net.Conn, b []byte, readAt time.Time) bool {
	for len(b) > 0 {
		m, ok := p.gate()
		if !ok {
			return false
		}
		if !p.wait(time.Until(readAt.Add(m.Latency))) {
			return false
		}
		n := len(b)
		if m.BytesPerSecond > 0 {
			n = min(n, max(1, m.BytesPerSecond/slicesPerSecond))
		}
		if _, err := dst.Write(b[:n]); err != nil {
			return false
		}
		b = b[n:]
		if m.BytesPerSecond > 0 && !p.wait(time.Duration(n)*time.Second/time.Duration(m.BytesPerSecond)) {
			return false
		}
	}
	return true
}
