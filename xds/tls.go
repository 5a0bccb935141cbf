package xds

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"google.golang.org/grpc/credentials"
)

// refusingCreds are the server's TLS credentials, logging and counting
// every handshake they refuse: gRPC itself drops such a connection
// without a word in the server's log, and an operator debugging a proxy
// that cannot connect needs to see why.
type refusingCreds struct {
	credentials.TransportCredentials
	s *Server
}

// serverCreds returns the TLS credentials of cfg, whose GetConfigForClient
// may hand out a new certificate or client CA at every handshake.
func (s *Server) serverCreds(cfg *tls.Config) credentials.TransportCredentials {
	return refusingCreds{TransportCredentials: credentials.NewTLS(cfg), s: s}
}

// ServerHandshake performs the TLS handshake, reporting a refusal.
func (c refusingCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.s.handshakeRefused(conn.RemoteAddr(), err)
	}
	return out, info, err
}

// Clone returns a copy that reports to the same server.
func (c refusingCreds) Clone() credentials.TransportCredentials {
	return refusingCreds{TransportCredentials: c.TransportCredentials.Clone(), s: c.s}
}

// handshakeRefused logs and counts a refused TLS handshake. A client that
// closed the connection before finishing (a TCP health check, a port
// scan) is counted but logged only at debug level.
func (s *Server) handshakeRefused(remote net.Addr, err error) {
	reason, why := handshakeReason(err)
	s.refused.WithLabelValues(reason).Inc()
	addr := ""
	if remote != nil {
		addr = remote.String()
	}
	if reason == "aborted" {
		s.log.Debug("xds connection refused: "+why, "reason", reason, "remote", addr, "error", err)
		return
	}
	s.log.Warn("xds connection refused: "+why, "reason", reason, "remote", addr, "error", err)
}

// handshakeReason names why a handshake failed, as a metric label and in
// words.
func handshakeReason(err error) (string, string) {
	var record tls.RecordHeaderError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &record):
		return "plaintext", "client did not speak TLS (plaintext connection to a TLS xDS server)"
	case errors.As(err, &unknown):
		return "unknown_authority", "client certificate is not signed by a trusted client CA (--tls-client-ca)"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "expired", "client certificate has expired or is not yet valid"
	case errors.As(err, &invalid):
		return "bad_certificate", "client certificate is not valid for a client"
	case strings.Contains(err.Error(), "didn't provide a certificate"):
		return "no_client_certificate", "client presented no certificate but mutual TLS requires one"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return "aborted", "client closed the connection during the TLS handshake"
	}
	return "handshake", "TLS handshake failed"
}
