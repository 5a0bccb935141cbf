package fleet

import "strings"

// Operator returns the Envoy command operator an access-log field stands
// for, such as "%RESPONSE_CODE%" for "response_code", and false for a
// field Validate does not know.
func Operator(field string) (string, bool) {
	op, ok := knownAccessLogFields()[field]
	return op, ok
}

// TextFormat returns the text line of an access log: its fields'
// operators, separated by spaces, ending in a newline.
func (a AccessLog) TextFormat() string {
	ops := make([]string, 0, len(a.Fields))
	for _, f := range a.Fields {
		if op, ok := Operator(f); ok {
			ops = append(ops, op)
		}
	}
	return strings.Join(ops, " ") + "\n"
}

// JSONFields returns the JSON keys of an access log, each field's name,
// mapped to its operator.
func (a AccessLog) JSONFields() map[string]string {
	out := make(map[string]string, len(a.Fields))
	for _, f := range a.Fields {
		if op, ok := Operator(f); ok {
			out[f] = op
		}
	}
	return out
}

// SecretNames returns, in order and each once, the SDS secrets the
// profile's https listeners serve.
func (p Profile) SecretNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range p.Listeners {
		for _, c := range l.Certificates {
			if !seen[c.Secret] {
				seen[c.Secret] = true
				out = append(out, c.Secret)
			}
		}
	}
	return out
}
