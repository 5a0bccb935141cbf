package discovery

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// ConnCounter counts the connections an HTTP transport holds open to Consul,
// so that the number Switchyard holds against the agent's
// limits.http_max_conns_per_client is measured rather than assumed. The zero
// value is ready to use and safe for concurrent use.
type ConnCounter struct {
	open, peak atomic.Int64
}

// Open returns the number of connections dialled and not yet closed.
func (c *ConnCounter) Open() int64 {
	return c.open.Load()
}

// Peak returns the most connections that were ever open at once.
func (c *ConnCounter) Peak() int64 {
	return c.peak.Load()
}

// opened counts a dialled connection and raises the peak if needed.
func (c *ConnCounter) opened() {
	n := c.open.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
}

// Wrap makes t count its connections in c and open at most maxConns of them
// at once (further requests wait for a free one), keeping up to maxConns idle
// for reuse. Pass the Transport of an api.Config before api.NewClient, so
// that Consul's TLS settings are still applied to it.
func (c *ConnCounter) Wrap(t *http.Transport, maxConns int) {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.opened()
		return &countedConn{Conn: conn, counter: c}, nil
	}
	t.MaxConnsPerHost = maxConns
	t.MaxIdleConnsPerHost = maxConns
	t.MaxIdleConns = max(t.MaxIdleConns, maxConns)
}

// countedConn decrements its counter once, on the first Close.
type countedConn struct {
	net.Conn
	counter *ConnCounter
	once    sync.Once
}

// Close closes the connection and uncounts it.
func (c *countedConn) Close() error {
	c.once.Do(func() { c.counter.open.Add(-1) })
	return c.Conn.Close()
}
