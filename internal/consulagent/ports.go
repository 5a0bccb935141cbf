//go:build linux

package consulagent

import (
	"errors"
	"fmt"
	"net"
)

// ports are the listening ports of one dev agent. Every one of them is chosen
// here: dev mode otherwise pins some (gRPC-TLS to 8503), and two agents on one
// machine then fail with a misleading "no leader".
type ports struct {
	HTTP, GRPC, GRPCTLS, SerfLAN, SerfWAN, Server int
}

// freePorts picks distinct loopback ports that are free for TCP and UDP (Serf
// uses both) at the time of the call. Another process can still take one
// before the agent binds it; Start retries when that happens.
func freePorts() (ports, error) {
	const n = 6
	var held []func() error
	defer func() {
		for _, c := range held {
			_ = c()
		}
	}()
	got := make([]int, 0, n)
	for attempt := 0; len(got) < n && attempt < 10*n; attempt++ {
		p, closers, err := reservePort()
		held = append(held, closers...)
		if err != nil {
			continue
		}
		got = append(got, p)
	}
	if len(got) < n {
		return ports{}, errors.New("no free loopback ports")
	}
	return ports{HTTP: got[0], GRPC: got[1], GRPCTLS: got[2], SerfLAN: got[3], SerfWAN: got[4], Server: got[5]}, nil
}

// reservePort binds a TCP port on 127.0.0.1 and the same UDP port, and
// returns the closers so the caller holds both until all ports are chosen.
func reservePort() (int, []func() error, error) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, fmt.Errorf("reserve tcp port: %w", err)
	}
	p := tl.Addr().(*net.TCPAddr).Port
	ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return 0, []func() error{tl.Close}, fmt.Errorf("reserve udp port %d: %w", p, err)
	}
	return p, []func() error{tl.Close, ul.Close}, nil
}
