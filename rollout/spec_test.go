package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validSpec is a spec every test starts from.
func validSpec() Spec {
	return Spec{
		Service: "web", From: "v1", To: "v2", Steps: []int{10, 50, 100},
		Interval: time.Minute, MinHealthy: 1, RequireAck: 1, MaxErrorRate: 0.01,
		Webhooks: []string{"https://hooks.example.com/check"},
	}
}

func TestParseSteps(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"10,50,100", []int{10, 50, 100}, ""},
		{" 5 , 25%,100 ", []int{5, 25, 100}, ""},
		{"100", []int{100}, ""},
		{"", nil, "no steps"},
		{"10,,100", nil, "step 2"},
		{"10,half,100", nil, `"half" is not a whole percentage`},
		{"1.5,100", nil, "step 1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSteps(tt.in)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"100%", 1, ""},
		{"1.5%", 0.015, ""},
		{"50", 0.5, ""},
		{"0%", 0, ""},
		{"101%", 0, "out of range"},
		{"-1%", 0, "out of range"},
		{"NaN%", 0, "not a percentage"},
		{"Inf", 0, "not a percentage"},
		{"lots", 0, "not a percentage"},
		{"", 0, "not a percentage"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePercent(tt.in)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Spec)
		wantErr string
	}{
		{"valid", func(*Spec) {}, ""},
		{"no error-rate gate", func(s *Spec) { s.MaxErrorRate = 0 }, ""},
		{"no service", func(s *Spec) { s.Service = "" }, "invalid service name"},
		{"service with slash", func(s *Spec) { s.Service = "web/x" }, "invalid service name"},
		{"no from", func(s *Spec) { s.From = "" }, "--from"},
		{"bad to", func(s *Spec) { s.To = "v 2" }, "--to"},
		{"from is to", func(s *Spec) { s.To = "v1" }, `--to: "v1" is also --from`},
		{"no steps", func(s *Spec) { s.Steps = nil }, "--steps: no steps"},
		{"descending", func(s *Spec) { s.Steps = []int{50, 10, 100} }, "--steps: steps must be ascending: 10% follows 50%"},
		{"repeated", func(s *Spec) { s.Steps = []int{50, 50, 100} }, "ascending"},
		{"not ending at 100", func(s *Spec) { s.Steps = []int{10, 50} }, "--steps: the last step is 50%; it must be 100%"},
		{"zero step", func(s *Spec) { s.Steps = []int{0, 100} }, "--steps: step 1 is 0%, out of range"},
		{"over 100", func(s *Spec) { s.Steps = []int{50, 150} }, "out of range"},
		{"short interval", func(s *Spec) { s.Interval = time.Millisecond }, "--interval: 1ms is out of range 1s-24h0m0s"},
		{"long interval", func(s *Spec) { s.Interval = 25 * time.Hour }, "--interval"},
		{"min healthy", func(s *Spec) { s.MinHealthy = 1.5 }, "--min-healthy: 150% is out of range"},
		{"require ack", func(s *Spec) { s.RequireAck = -0.1 }, "--require-ack"},
		{"error rate", func(s *Spec) { s.MaxErrorRate = 2 }, "--max-error-rate"},
		{"webhook scheme", func(s *Spec) { s.Webhooks = []string{"ftp://x/y"} }, "--webhook: \"ftp://x/y\" is not an http:// or https:// URL"},
		{"webhook relative", func(s *Spec) { s.Webhooks = []string{"/hook"} }, "--webhook"},
		{"webhook no host", func(s *Spec) { s.Webhooks = []string{"http://"} }, "--webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.change(&s)
			checkErr(t, s.Validate(), tt.wantErr)
		})
	}
}

// checkErr fails unless err contains want, or is nil when want is empty.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
