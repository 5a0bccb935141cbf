package consulagent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the module whose root holds bin/consul.
const modulePath = "github.com/switchyard/switchyard"

// binaryEnv overrides where the consul binary is looked up.
const binaryEnv = "SWITCHYARD_CONSUL_BIN"

// Binary returns the path of the consul binary: $SWITCHYARD_CONSUL_BIN if it
// is set, else bin/consul at the root of the Switchyard module found by
// walking up from the working directory. It fails when the file is missing or
// not executable, naming the path it looked at.
func Binary() (string, error) {
	if p := os.Getenv(binaryEnv); p != "" {
		return checkBinary(p)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find consul binary: %w", err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	return checkBinary(filepath.Join(root, "bin", "consul"))
}

// checkBinary makes sure path is an executable regular file.
func checkBinary(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("consul binary not found at %s: run `make consul`", path)
	}
	return path, nil
}

// moduleRoot walks up from dir to the directory whose go.mod declares the
// Switchyard module. The walk ends at the filesystem root.
func moduleRoot(dir string) (string, error) {
	start := dir
	for {
		ok, err := declaresModule(filepath.Join(dir, "go.mod"))
		if err != nil {
			return "", err
		}
		if ok {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("consul binary not found: no go.mod of %s above %s: set %s or run from the repository", modulePath, start, binaryEnv)
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod at path declares modulePath. A
// missing file is not an error.
func declaresModule(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return false, nil
}
