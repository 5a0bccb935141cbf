package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// consulConnectionsMetric is the gauge of the HTTP connections Switchyard
// holds to Consul.
const consulConnectionsMetric = "switchyard_consul_connections"

// consulConnections scrapes the connections Switchyard holds to Consul, or
// returns nil when there is no admin address or the scrape fails.
func consulConnections(ctx context.Context, log *slog.Logger, tgt *target) *float64 {
	if tgt.adminAddr == "" {
		return nil
	}
	v, err := scrapeGauge(ctx, tgt.adminAddr, consulConnectionsMetric)
	if err != nil {
		log.Warn("no consul connection count", "error", err)
		return nil
	}
	return &v
}

// rss reads Switchyard's resident set size, or returns nil without a pid.
func rss(log *slog.Logger, pid int) *int64 {
	if pid == 0 {
		return nil
	}
	v, err := rssBytes(pid)
	if err != nil {
		log.Warn("no rss", "pid", pid, "error", err)
		return nil
	}
	return &v
}

// rssSlope grows the fleet to cfg.SlopeStreams, waits for the new streams
// to sync, and reports how much the target's RSS grew per added stream;
// for Consul that includes registering each added proxy, which every
// Envoy of its needs.
func rssSlope(ctx context.Context, cfg loadConfig, tgt *target, f *fleet, r *report) error {
	if tgt.pid == 0 || r.RSSBytes == nil {
		return fmt.Errorf("--slope-streams needs the switchyard pid (--start or --switchyard-pid)")
	}
	before := *r.RSSBytes
	liveBefore, liveErr := liveBytes(ctx, tgt.adminAddr)
	if tgt.beforeGrow != nil {
		if err := tgt.beforeGrow(ctx, cfg.Streams, cfg.SlopeStreams); err != nil {
			return err
		}
	}
	f.grow(cfg.SlopeStreams)
	if _, err := f.waitSynced(ctx, cfg.SyncTimeout); err != nil {
		return fmt.Errorf("sync at %d streams: %w", cfg.SlopeStreams, err)
	}
	after, err := rssBytes(tgt.pid)
	if err != nil {
		return err
	}
	added := float64(cfg.SlopeStreams - cfg.Streams)
	slope := float64(after-before) / added
	r.RSSPerStreamBytes, r.SlopeStreams = &slope, cfg.SlopeStreams
	if tgt.adminAddr == "" {
		return nil
	}
	liveAfter, err := liveBytes(ctx, tgt.adminAddr)
	if err = errors.Join(liveErr, err); err != nil {
		return fmt.Errorf("live memory per stream: %w", err)
	}
	live := (liveAfter - liveBefore) / added
	r.LiveBytesPerStream = &live
	return nil
}
