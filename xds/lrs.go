package xds

import (
	"errors"
	"fmt"
	"io"
	"time"

	lrsv3 "github.com/envoyproxy/go-control-plane/envoy/service/load_stats/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// lrsStream is one load reporting stream.
type lrsStream = lrsv3.LoadReportingService_StreamLoadStatsServer

// lrsService serves the load reporting service (LRS), to which Envoy
// (through its bootstrap's load_stats_config) and gRPC clients (for every
// cluster whose lrs_server is "self") report their request counts.
type lrsService struct {
	lrsv3.UnimplementedLoadReportingServiceServer
	s *Server
}

// StreamLoadStats serves one load reporting stream.
func (l lrsService) StreamLoadStats(st lrsStream) error {
	return l.s.serveLoadStats(st)
}

// Loads returns every cluster's cumulative load, sorted by cluster then service name.
func (s *Server) Loads() []ClusterLoad {
	return s.loads.loads()
}

// serveLoadStats answers a stream's first request (the one that carries
// the node) by asking for every cluster's load at LoadReportInterval, then
// adds every report to the load table until the client ends the stream,
// its context ends or the server stops. gRPC clients read only that one
// answer, so no other is sent.
func (s *Server) serveLoadStats(st lrsStream) error {
	ctx := st.Context()
	reqs, errc := receiveLoadStats(st)
	var rep *loadReporter
	var node string
	warned := false
	defer func() {
		if rep != nil {
			s.loads.close(rep)
			s.lrsMetrics.streams.Dec()
			s.log.Debug("load report stream closed", "node", node)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return errShutdown
		case err := <-errc:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case req := <-reqs:
			first := rep == nil
			if first {
				node = req.GetNode().GetId()
				if err := s.answerLoadStats(st, node); err != nil {
					return err
				}
				rep = s.loads.newReporter()
				s.lrsMetrics.streams.Inc()
				s.log.Debug("load report stream opened", "node", node, "interval", s.cfg.LoadReportInterval)
			}
			if first && len(req.GetClusterStats()) == 0 {
				continue // it only opens the stream
			}
			deltas, dropped := s.loads.record(rep, req.GetClusterStats(), time.Now())
			s.lrsMetrics.observe(deltas, dropped)
			if dropped > 0 && !warned {
				warned = true
				s.log.Warn("load report clusters left out: too many clusters reported", "node", node, "clusters", dropped, "max", maxLoadClusters)
			}
		}
	}
}

// receiveLoadStats receives a stream's requests on a goroutine of its own,
// until the stream fails or ends (the error, io.EOF for the client's end)
// or its context does.
func receiveLoadStats(st lrsStream) (<-chan *lrsv3.LoadStatsRequest, <-chan error) {
	reqs := make(chan *lrsv3.LoadStatsRequest)
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := st.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case reqs <- req:
			case <-st.Context().Done():
				return
			}
		}
	}()
	return reqs, errc
}

// answerLoadStats answers a stream's first request: report every
// cluster, every LoadReportInterval.
func (s *Server) answerLoadStats(st lrsStream, node string) error {
	err := st.Send(&lrsv3.LoadStatsResponse{
		SendAllClusters:       true,
		LoadReportingInterval: durationpb.New(s.cfg.LoadReportInterval),
	})
	if err != nil {
		return fmt.Errorf("answer load report stream of node %q: %w", node, err)
	}
	return nil
}
