package rollout

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Interval bounds: a step shorter than a second cannot see a health check
// change, and one longer than a day is a rollout nobody watches.
const (
	MinInterval = time.Second
	MaxInterval = 24 * time.Hour
)

// Spec is what an operator asks for with `switchyard rollout start`: shift
// the traffic of Service from subset From to subset To in Steps, holding
// each step for Interval while the gates hold.
type Spec struct {
	// Service is the Consul service whose service-splitter the rollout
	// rewrites.
	Service string
	// From and To are service-resolver subsets of Service.
	From, To string
	// Steps are the percentages of traffic sent to To, strictly ascending
	// and ending at 100.
	Steps []int
	// Interval is how long each step holds before the next.
	Interval time.Duration
	// MinHealthy is the fraction (0..1) of To's instances that must pass.
	MinHealthy float64
	// RequireAck is the fraction (0..1) of the proxies routing Service that
	// must have accepted a step's routes before its interval counts.
	RequireAck float64
	// MaxErrorRate is the highest error fraction (0..1) the canary may show
	// over a step; zero turns the error-rate gate off.
	MaxErrorRate float64
	// Webhooks are http(s) URLs that must answer 2xx before each step.
	Webhooks []string
}

// specJSON is Spec as stored: the interval as a Go duration string, so the
// KV value and `-o json` stay readable.
type specJSON struct {
	Service      string   `json:"service"`
	From         string   `json:"from"`
	To           string   `json:"to"`
	Steps        []int    `json:"steps"`
	Interval     string   `json:"interval"`
	MinHealthy   float64  `json:"minHealthy"`
	RequireAck   float64  `json:"requireAck"`
	MaxErrorRate float64  `json:"maxErrorRate"`
	Webhooks     []string `json:"webhooks,omitempty"`
}

// MarshalJSON writes the spec with a readable interval.
func (s Spec) MarshalJSON() ([]byte, error) {
	return json.Marshal(specJSON{
		Service: s.Service, From: s.From, To: s.To, Steps: s.Steps,
		Interval:   s.Interval.String(),
		MinHealthy: s.MinHealthy, RequireAck: s.RequireAck, MaxErrorRate: s.MaxErrorRate,
		Webhooks: s.Webhooks,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Spec) UnmarshalJSON(data []byte) error {
	var j specJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	interval, err := time.ParseDuration(j.Interval)
	if err != nil {
		return fmt.Errorf("spec interval: %w", err)
	}
	*s = Spec{
		Service: j.Service, From: j.From, To: j.To, Steps: j.Steps,
		Interval:   interval,
		MinHealthy: j.MinHealthy, RequireAck: j.RequireAck, MaxErrorRate: j.MaxErrorRate,
		Webhooks: j.Webhooks,
	}
	return nil
}

// ParseSteps reads a comma-separated list of whole percentages such as
// "10,50,100". Order and range are Validate's to judge.
func ParseSteps(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no steps given")
	}
	parts := strings.Split(s, ",")
	steps := make([]int, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSuffix(strings.TrimSpace(p), "%")
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("step %d: %q is not a whole percentage", i+1, parts[i])
		}
		steps = append(steps, n)
	}
	return steps, nil
}

// ParsePercent reads a percentage such as "100%", "1.5%" or "50" and
// returns it as a fraction: "1.5%" is 0.015.
func ParsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a percentage such as 100%% or 1.5%%", s)
	}
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("%s is out of range 0%%-100%%", s)
	}
	return v / 100, nil
}

// Validate names the first flag whose value is unusable.
func (s Spec) Validate() error {
	if err := s.ValidateWithoutFrom(); err != nil {
		return err
	}
	if err := CheckName(s.From); err != nil {
		return fmt.Errorf("invalid value for --from: %w", err)
	}
	if s.From == s.To {
		return fmt.Errorf("invalid value for --to: %q is also --from; a rollout moves traffic between two subsets", s.To)
	}
	return nil
}

// ValidateWithoutFrom is Validate without the checks of From, for a caller
// that has yet to fill From in from the service-resolver: it lets the CLI
// reject a mistyped flag before it asks Consul anything.
func (s Spec) ValidateWithoutFrom() error {
	if err := CheckName(s.Service); err != nil {
		return fmt.Errorf("invalid service name: %w", err)
	}
	if err := CheckName(s.To); err != nil {
		return fmt.Errorf("invalid value for --to: %w", err)
	}
	if err := validSteps(s.Steps); err != nil {
		return fmt.Errorf("invalid value for --steps: %w", err)
	}
	if s.Interval < MinInterval || s.Interval > MaxInterval {
		return fmt.Errorf("invalid value for --interval: %s is out of range %s-%s", s.Interval, MinInterval, MaxInterval)
	}
	for _, f := range []struct {
		flag string
		v    float64
	}{{"--min-healthy", s.MinHealthy}, {"--require-ack", s.RequireAck}, {"--max-error-rate", s.MaxErrorRate}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			return fmt.Errorf("invalid value for %s: %v%% is out of range 0%%-100%%", f.flag, f.v*100)
		}
	}
	for _, w := range s.Webhooks {
		if err := webhookURL(w); err != nil {
			return fmt.Errorf("invalid value for --webhook: %w", err)
		}
	}
	return nil
}

// validSteps checks that steps are percentages in 1..100, strictly
// ascending and ending at 100.
func validSteps(steps []int) error {
	if len(steps) == 0 {
		return fmt.Errorf("no steps given")
	}
	for i, p := range steps {
		if p < 1 || p > 100 {
			return fmt.Errorf("step %d is %d%%, out of range 1%%-100%%", i+1, p)
		}
		if i > 0 && p <= steps[i-1] {
			return fmt.Errorf("steps must be ascending: %d%% follows %d%%", p, steps[i-1])
		}
	}
	if last := steps[len(steps)-1]; last != 100 {
		return fmt.Errorf("the last step is %d%%; it must be 100%%", last)
	}
	return nil
}

// CheckName checks a service or subset name: letters, digits, '-', '_' and
// '.', which keeps it safe as a KV key segment, in a Consul API path and as
// a Consul subset name.
func CheckName(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > 63 {
		return fmt.Errorf("%q is longer than 63 characters", s)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("%q has %q; use letters, digits, '-', '_' and '.'", s, r)
		}
	}
	return nil
}

// webhookURL checks that s is an absolute http or https URL with a host.
func webhookURL(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", s)
	}
	return nil
}
