package xds

import (
	"fmt"
	"log/slog"
)

// cacheLogger adapts slog to go-control-plane's logger interface.
type cacheLogger struct {
	log *slog.Logger
}

// Debugf logs at debug level.
func (l cacheLogger) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

// Infof logs at info level. go-control-plane's info messages are per-request
// chatter, so they go to debug.
func (l cacheLogger) Infof(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

// Warnf logs at debug level: go-control-plane's only warnings are an ADS
// watch waiting for a client to ask for new resources, which is the normal
// course of adding a service.
func (l cacheLogger) Warnf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

// Errorf logs at error level.
func (l cacheLogger) Errorf(format string, args ...any) { l.log.Error(fmt.Sprintf(format, args...)) }
