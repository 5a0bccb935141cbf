package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Parse reads a fleet profile written in JSON or YAML, fills in the
// defaults of the fields it leaves out and validates it. Decoding is
// strict: an unknown field or a value of the wrong type is an error that
// names the field's path. The error joins every problem found; the
// profile is returned even when it is invalid, so that a caller can show
// what it read.
func Parse(data []byte) (Profile, error) {
	js, err := toJSON(data)
	if err != nil {
		return Profile{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return Profile{}, fmt.Errorf("fleet profile is not valid JSON: %w", err)
	}
	if dec.More() {
		return Profile{}, errors.New("fleet profile has more than one JSON value")
	}
	if errs := checkShape(raw, reflect.TypeFor[Profile](), ""); len(errs) > 0 {
		return Profile{}, errors.Join(errs...)
	}
	var p Profile
	if err := json.Unmarshal(js, &p); err != nil {
		return Profile{}, fmt.Errorf("decode fleet profile: %w", err)
	}
	p.applyDefaults()
	return p, p.Validate()
}

// toJSON returns data as JSON: as it is when it is a JSON object, and
// converted when it is YAML.
func toJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("fleet profile is empty")
	}
	if trimmed[0] == '{' {
		return trimmed, nil
	}
	js, err := yaml.YAMLToJSON(trimmed)
	if err != nil {
		return nil, fmt.Errorf("fleet profile is not valid YAML: %w", err)
	}
	return js, nil
}

// checkShape compares a decoded JSON value with the Go type it is meant
// for and names, by path, each unknown field and each value of the wrong
// kind. encoding/json's own errors name neither the index of a list item
// nor every problem, and an operator needs both.
func checkShape(v any, t reflect.Type, path string) []error {
	if v == nil {
		return nil // null leaves the zero value, as encoding/json does
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkObject(v, t, path)
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return []error{shapeErr(path, "a list", v)}
		}
		var errs []error
		for i, item := range items {
			errs = append(errs, checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return []error{shapeErr(path, "an object", v)}
		}
		var errs []error
		for _, k := range sortedKeys(m) {
			errs = append(errs, checkShape(m[k], t.Elem(), fmt.Sprintf("%s[%q]", path, k))...)
		}
		return errs
	case reflect.String:
		if _, ok := v.(string); !ok {
			return []error{shapeErr(path, "a string", v)}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return []error{shapeErr(path, "true or false", v)}
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			return []error{shapeErr(path, "a whole number", v)}
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			return []error{fmt.Errorf("%s: %s is not a whole number in range", path, n)}
		}
	}
	return nil
}

// checkObject checks a JSON object against struct type t.
func checkObject(v any, t reflect.Type, path string) []error {
	m, ok := v.(map[string]any)
	if !ok {
		return []error{shapeErr(path, "an object", v)}
	}
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = f.Type
	}
	var errs []error
	for _, k := range sortedKeys(m) {
		sub := k
		if path != "" {
			sub = path + "." + k
		}
		ft, known := fields[k]
		if !known {
			errs = append(errs, fmt.Errorf("%s: unknown field", sub))
			continue
		}
		errs = append(errs, checkShape(m[k], ft, sub)...)
	}
	return errs
}

// shapeErr says that the value at path is of the wrong kind.
func shapeErr(path, want string, got any) error {
	if path == "" {
		path = "profile"
	}
	return fmt.Errorf("%s: want %s, got %s", path, want, kindOf(got))
}

// kindOf names the kind of a decoded JSON value.
func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "true or false"
	}
	return "null"
}

// sortedKeys returns the keys of m in order, so that errors come out in
// the same order on every run.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
