package faultproxy

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds the proxy's dial of its target.
const dialTimeout = 5 * time.Second

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	lis    net.Listener
	// ctx is cancelled by Close; every goroutine of the proxy watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	mode Mode
	// changed is closed and replaced on every mode change, to wake the
	// connections that wait for a blackhole to end.
	changed chan struct{}
	links   map[*link]struct{}
	closed  bool
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// to target (host:port), passing traffic until told otherwise.
func Start(target string) (*Proxy, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:  target,
		lis:     lis,
		ctx:     ctx,
		cancel:  cancel,
		changed: make(chan struct{}),
		links:   map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the "127.0.0.1:port" address clients connect to.
func (p *Proxy) Addr() string {
	return p.lis.Addr().String()
}

// Mode returns the mode in force.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Set switches the proxy to m at once. Switching to Reset resets every
// open connection; switching away from Blackhole lets the held connections
// resume.
func (p *Proxy) Set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m.Kind == Reset {
		for l := range p.links {
			l.close(true)
		}
	}
}

// Connections returns how many connections the proxy holds open.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close stops listening, closes every connection and waits until every
// goroutine of the proxy has returned.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	err := p.lis.Close()
	for l := range p.links {
		l.close(false)
	}
	p.mu.Unlock()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("faultproxy: close listener: %w", err)
	}
	return nil
}

// accept takes connections until the listener is closed.
func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return // only Close makes Accept fail on a loopback listener
		}
		p.mu.Lock()
		if p.closed || p.mode.Kind == Reset {
			p.mu.Unlock()
			resetConn(c)
			continue
		}
		l := &link{client: c}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve waits for traffic to pass, dials the target and copies both ways
// until both directions end, then forgets the link.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer p.forget(l)
	if _, ok := p.gate(); !ok {
		l.close(true)
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		l.close(true)
		return
	}
	if !l.setUpstream(up) {
		return
	}
	var pipes sync.WaitGroup
	pipes.Add(1)
	go func() {
		defer pipes.Done()
		p.pipe(l, l.client, up)
	}()
	p.pipe(l, up, l.client)
	pipes.Wait()
	l.close(false)
}

// forget removes l from the open links.
func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}

// gate waits while the proxy is a blackhole and returns the mode in force
// once it passes traffic; false means the connection must end (reset mode
// or a closed proxy).
func (p *Proxy) gate() (Mode, bool) {
	for {
		p.mu.Lock()
		m, changed, closed := p.mode, p.changed, p.closed
		p.mu.Unlock()
		if closed {
			return m, false
		}
		switch m.Kind {
		case Pass:
			return m, true
		case Reset:
			return m, false
		}
		select {
		case <-changed:
		case <-p.ctx.Done():
			return m, false
		}
	}
}

// wait waits for d, or less when the proxy closes, and reports whether
// the whole d passed.
func (p *Proxy) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// resetConn closes c with an RST rather than a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
