package certdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("x", size)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("site.pem", 10)
	write("notes.txt", 10)
	write("bad name.pem", 10)
	write("huge.pem", MaxBundleBytes+1)
	if err := os.Mkdir(filepath.Join(dir, "folder.pem"), 0o700); err != nil {
		t.Fatal(err)
	}
	valid := func(name string) error {
		if strings.Contains(name, " ") {
			return errors.New("has a space")
		}
		return nil
	}
	bundles, problems, err := Read(dir, valid)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range bundles {
		names = append(names, n)
	}
	if !slices.Equal(names, []string{"site"}) || string(bundles["site"].Value) != "xxxxxxxxxx" {
		t.Errorf("bundles %v, want only site", names)
	}
	if len(problems) != 2 || !strings.Contains(strings.Join(problems, "\n"), "bad name.pem") || !strings.Contains(strings.Join(problems, "\n"), "huge.pem: larger than") {
		t.Errorf("problems %q, want the bad name and the huge file", problems)
	}
	if _, _, err := Read(filepath.Join(dir, "missing"), valid); err == nil {
		t.Error("reading a missing directory did not fail")
	}
}
