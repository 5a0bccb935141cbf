// Package faultproxy is an in-process TCP proxy for fault-injection tests:
// it listens on 127.0.0.1:0, forwards every connection to a target and can
// be switched at run time between passing traffic, a blackhole, resetting
// connections, and shaping them with a per-chunk latency and a bandwidth
// limit.
//
// A blackhole models a network partition that heals: connections are
// accepted and held, nothing is forwarded in either direction, and when
// the proxy passes traffic again the held connections resume where they
// stopped, as TCP retransmissions would after a short outage. Reset models
// a peer that is gone: every open connection is closed with an RST and new
// ones are accepted and reset at once.
package faultproxy
