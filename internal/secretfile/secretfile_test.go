package secretfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("s3cret-value"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		path string
		ok   bool
		want string
	}{
		{"owner only", write("a", 0o600), true, ""},
		{"read only", write("b", 0o400), true, ""},
		{"group readable", write("c", 0o640), false, "chmod 600"},
		{"world readable", write("d", 0o604), false, "chmod 600"},
		{"missing", filepath.Join(dir, "nope"), false, "no such file"},
		{"directory", dir, false, "not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(c.path)
			if (err == nil) != c.ok {
				t.Fatalf("Check(%s) = %v, want ok=%v", c.path, err, c.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret")) {
				t.Fatalf("Check(%s) = %q: want it to say %q and never the content", c.path, err, c.want)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":            nil,
		"a":           {"a"},
		" a , b ,,c ": {"a", "b", "c"},
		",":           nil,
	} {
		if got := SplitList(in); !slices.Equal(got, want) {
			t.Errorf("SplitList(%q) = %q, want %q", in, got, want)
		}
	}
}
