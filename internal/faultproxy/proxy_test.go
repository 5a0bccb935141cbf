package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// ioTimeout bounds every read and write the tests expect to succeed.
const ioTimeout = 5 * time.Second

// stallWindow is how long a read must stay unanswered to count as held.
const stallWindow = 300 * time.Millisecond

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer accepts connections on loopback and echoes what it reads,
// until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = lis.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}

// startProxy starts a proxy in front of a new echo server and closes it
// when the test ends.
func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

// dial connects to the proxy and closes the connection when the test ends.
func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads it back, returning how long it took.
func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if err := c.SetDeadline(start.Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("read back %d bytes that differ from those written", len(got))
	}
	return time.Since(start)
}

// assertHeld writes msg and checks that nothing comes back within the
// stall window.
func assertHeld(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(stallWindow)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write into the blackhole: %v", err)
	}
	n, err := c.Read(make([]byte, len(msg)))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read through the blackhole = %d bytes, %v; want a timeout", n, err)
	}
}

// readBack reads len(want) bytes and compares them.
func readBack(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read after the blackhole: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func TestPass(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p)
	for range 3 {
		roundTrip(t, c, []byte("hello"))
	}
	big := bytes.Repeat([]byte("x"), 256<<10)
	roundTripAsync(t, c, big)
}

// roundTripAsync writes msg from another goroutine while reading it back,
// for messages larger than the socket buffers.
func roundTripAsync(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	_, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if rerr != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read back: %v", rerr)
	}
}

// TestBlackholeHoldsAndResumes checks that a blackhole stalls an open
// connection and holds a new one, and that both resume once it passes.
func TestBlackholeHoldsAndResumes(t *testing.T) {
	p := startProxy(t)
	old := dial(t, p)
	roundTrip(t, old, []byte("before"))
	p.Set(Mode{Kind: Blackhole})
	assertHeld(t, old, []byte("during-old"))
	fresh := dial(t, p)
	assertHeld(t, fresh, []byte("during-new"))
	p.Set(Mode{})
	readBack(t, old, []byte("during-old"))
	readBack(t, fresh, []byte("during-new"))
	roundTrip(t, fresh, []byte("after"))
}

// TestResetClosesWithRST checks that reset ends an open connection and
// every new one with ECONNRESET, and that passing works again afterwards.
func TestResetClosesWithRST(t *testing.T) {
	p := startProxy(t)
	old := dial(t, p)
	roundTrip(t, old, []byte("before"))
	p.Set(Mode{Kind: Reset})
	assertReset(t, old)
	for range 3 {
		fresh, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
		if errors.Is(err, syscall.ECONNRESET) {
			continue // reset before connect returned
		}
		if err != nil {
			t.Fatal(err)
		}
		assertReset(t, fresh)
		_ = fresh.Close()
	}
	if n := p.Connections(); n != 0 {
		t.Errorf("connections held in reset mode = %d, want 0", n)
	}
	p.Set(Mode{})
	roundTrip(t, dial(t, p), []byte("after"))
}

// assertReset checks that reading c fails with a connection reset.
func assertReset(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	// Linux reports a received RST once, to whichever call comes first.
	_, err := c.Write([]byte("x"))
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write or read after reset = %v, want ECONNRESET", err)
	}
}

// TestLatency checks that each direction is delayed by the latency.
func TestLatency(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p)
	roundTrip(t, c, []byte("warm"))
	const latency = 100 * time.Millisecond
	p.Set(Mode{Latency: latency})
	if d := roundTrip(t, c, []byte("slow")); d < 2*latency {
		t.Errorf("round trip with %s latency each way took %s, want at least %s", latency, d, 2*latency)
	}
	p.Set(Mode{})
	if d := roundTrip(t, c, []byte("fast")); d >= latency {
		t.Errorf("round trip after the latency was lifted took %s", d)
	}
}

// TestBandwidth checks that a limit of 100 kB/s makes 50 kB each way take
// about half a second.
func TestBandwidth(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p)
	p.Set(Mode{BytesPerSecond: 100_000})
	start := time.Now()
	roundTripAsync(t, c, bytes.Repeat([]byte("b"), 50_000))
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("50 kB at 100 kB/s took %s, want at least 400ms", d)
	}
}

// TestCloseEndsEverything checks that Close ends held, open and idle
// connections and leaves no goroutine behind (goleak in TestMain).
func TestCloseEndsEverything(t *testing.T) {
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	open := dial(t, p)
	roundTrip(t, open, []byte("open"))
	p.Set(Mode{Kind: Blackhole, Latency: time.Hour})
	held := dial(t, p)
	assertHeld(t, held, []byte("held"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	for _, c := range []net.Conn{open, held} {
		if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read after Close = %v, want the connection closed", err)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), ioTimeout); err == nil {
		t.Error("dial after Close succeeded")
	}
}
