package faultproxy

import (
	"fmt"
	"time"
)

// Kind is what the proxy does with connections.
type Kind int

const (
	// Pass forwards traffic, shaped by the latency and bandwidth limit.
	Pass Kind = iota
	// Blackhole accepts and holds connections and forwards nothing.
	Blackhole
	// Reset closes every connection with an RST and resets new ones.
	Reset
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Pass:
		return "pass"
	case Blackhole:
		return "blackhole"
	case Reset:
		return "reset"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Mode is the proxy's behaviour. The zero value passes traffic unshaped.
type Mode struct {
	// Kind is pass, blackhole or reset.
	Kind Kind
	// Latency delays each chunk read from one side before it is written to
	// the other, in each direction, while passing.
	Latency time.Duration
	// BytesPerSecond limits each direction of each connection while
	// passing; zero means no limit.
	BytesPerSecond int
}

// String describes the mode for logs.
func (m Mode) String() string {
	s := m.Kind.String()
	if m.Latency > 0 {
		s += fmt.Sprintf(" latency=%s", m.Latency)
	}
	if m.BytesPerSecond > 0 {
		s += fmt.Sprintf(" bandwidth=%dB/s", m.BytesPerSecond)
	}
	return s
}
