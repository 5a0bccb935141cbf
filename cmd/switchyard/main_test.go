package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every stage of
// Switchyard, every xDS client and every backend must stop when told. It
// then removes the switchyard binary the child-process tests built.
//
// One goroutine is gRPC-Go's and cannot be stopped: an xDS client with
// "tls" channel credentials in its bootstrap starts a pemfile watcher and
// drops the function that stops it (grpc-go v1.85.0
// internal/xds/xdsclient/clientimpl.go, populateGRPCTransportConfigsFromServerConfig).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		switchyardBinary.Remove()
		os.Exit(code)
	}), goleak.IgnoreTopFunction("google.golang.org/grpc/credentials/tls/certprovider/pemfile.(*watcher).run"))
}
