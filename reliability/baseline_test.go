package reliability

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// goroutineSlack is how many goroutines above its baseline Switchyard
	// may keep after a fault: a few retried watches and idle connections.
	goroutineSlack = 25
	// memorySlackBytes is how far the resident memory may stay above its
	// baseline after a fault, beyond memorySlackRatio of it.
	memorySlackBytes = 32 << 20
	// memorySlackRatio is the share of the baseline memory allowed on top.
	memorySlackRatio = 0.5
	// settleTimeout bounds the wait for goroutines and memory to settle.
	settleTimeout = 30 * time.Second
)

// usage is a reading of the Switchyard process's goroutines and memory.
type usage struct {
	Goroutines int
	RSS        float64
}

// String formats a reading for the test log.
func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %.1f MiB resident", u.Goroutines, u.RSS/(1<<20))
}

// usage reads go_goroutines and process_resident_memory_bytes from
// /metrics.
func (a adminClient) usage() (usage, error) {
	body, err := a.get("/metrics")
	if err != nil {
		return usage{}, err
	}
	var u usage
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "go_goroutines":
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return usage{}, fmt.Errorf("parse go_goroutines %q: %w", value, err)
			}
			u.Goroutines = int(n)
			found++
		case "process_resident_memory_bytes":
			if u.RSS, err = strconv.ParseFloat(value, 64); err != nil {
				return usage{}, fmt.Errorf("parse process_resident_memory_bytes %q: %w", value, err)
			}
			found++
		}
	}
	if found != 2 {
		return usage{}, fmt.Errorf("/metrics lacks go_goroutines or process_resident_memory_bytes")
	}
	return u, nil
}

// baseline reads the process's usage once its load is steady.
func (e *env) baseline(admin adminClient) usage {
	e.t.Helper()
	u, err := admin.usage()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("baseline: %s", u)
	return u
}

// backToBaseline waits until the process's goroutines and memory are back
// within the slack of base, and fails the test if they are not within
// settleTimeout.
func (e *env) backToBaseline(admin adminClient, base usage) {
	e.t.Helper()
	limitG := base.Goroutines + goroutineSlack
	limitM := base.RSS*(1+memorySlackRatio) + memorySlackBytes
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last usage
	for time.Since(start) < settleTimeout {
		u, err := admin.usage()
		if err == nil {
			last = u
			if u.Goroutines <= limitG && u.RSS <= limitM {
				e.t.Logf("after the fault: %s (baseline %s), settled in %s", u, base, time.Since(start).Round(time.Millisecond))
				return
			}
		}
		<-tick.C
	}
	e.t.Errorf("after the fault: %s, want at most %d goroutines and %.1f MiB (baseline %s)", last, limitG, limitM/(1<<20), base)
}
