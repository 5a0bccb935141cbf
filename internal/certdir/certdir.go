// Package certdir reads the certificate bundles a fleet may serve from a
// directory on the control-plane host: every regular file <name>.pem is
// the bundle (certificate chain and private key, PEM) of certificate
// <name>. The snapshot publisher reads it again every few seconds, so a
// certificate manager that replaces a file is followed.
package certdir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxBundleBytes bounds one bundle file.
const MaxBundleBytes = 1 << 20

// Bundle is one file's content and path.
type Bundle struct {
	Path  string
	Value []byte
}

// Read returns the bundles of dir by certificate name. A file whose name
// is not a usable certificate name, or that is too large or unreadable,
// is left out and named in problems; only an unreadable directory is an
// error.
func Read(dir string, validName func(string) error) (bundles map[string]Bundle, problems []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate directory: %w", err)
	}
	bundles = map[string]Bundle{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pem")
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := validName(name); err != nil {
			problems = append(problems, fmt.Sprintf("%s: not a certificate name: %v", path, err))
			continue
		}
		value, err := readBounded(path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		bundles[name] = Bundle{Path: path, Value: value}
	}
	return bundles, problems, nil
}

// readBounded reads a regular file of at most MaxBundleBytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxBundleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxBundleBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxBundleBytes)
	}
	return b, nil
}
