package main

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/quantumtrader/quantum/policy"
)

// readmeProductionSteps returns the shell lines of the README's production
// steps: every ```sh block between <!-- production-steps and
// <!-- /production-steps -->, as written.
func readmeProductionSteps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<!-- production-steps.*?-->(.*?)<!-- /production-steps -->`).FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no <!-- production-steps --> ... <!-- /production-steps --> section")
	}
	var lines []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(m[1], -1) {
		for _, l := range strings.Split(string(block[1]), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) < 2 {
		t.Fatalf("the README's production steps hold %d commands: %q", len(lines), lines)
	}
	return lines
}

// copyCheckout copies the module (every file but .git) to a temporary
// directory: the README's steps run from a checkout and write the binary
// into it, which must not be this worktree.
func copyCheckout(t *testing.T) string {
	t.Helper()
	src, _ := filepath.Abs("../..")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".git" || rel == "quantum" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy the checkout: %v", err)
	}
	return dst
}

// needTool fails the test, saying how to install it, when a tool is missing.
func needTool(t *testing.T, name, install string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: this test runs it. Install it: %s (%v)", name, install, err)
	}
}

// TestReadmeProductionSteps runs the README's production steps 1 and 2
// exactly as written (the sh blocks between its production-steps markers:
// go build, then deploy/install.sh) in a copy of the checkout with ROOT set
// to a scratch root, and checks the effect of every step:
//
//   - step 2: every file and directory under /etc/quantum,
//     /etc/systemd/system and /usr/local/bin has its documented mode, and
//     nothing else is there; as root (CI), its documented owner too, the
//     quantum user created in the scratch root's etc/passwd by install.sh
//     (useradd --prefix) while the host's /etc/passwd and /etc/group stay
//     byte for byte the same; unprivileged, owners are left alone
//     (QUANTUM_INSTALL_NO_CHOWN=1) and only modes are checked;
//   - the refresh's template is installed and parses as a policy template,
//     the example environment is installed;
//   - every unit reads /etc/quantum/quantum.env and then its own Redis
//     user's env file; step 3: with the same password put in users.acl and
//     in that file, as the README says, each file's URL authenticates as
//     its user on a real redis-server loaded with deploy/redis/users.acl;
//   - step 5: systemd-analyze verify of every installed unit under the
//     scratch root prints nothing, and `systemctl --root enable` of the
//     units the README's step 5 names succeeds with their timers and
//     services wired.
//
// Steps 4 (edit settings), 6 (verify on a live host) and 7 (alerting) are
// not run here: they need a running systemd and Redis with the operator's
// values (tests of their own cover --env-file, verify and the rules).
func TestReadmeProductionSteps(t *testing.T) {
	steps := readmeProductionSteps(t)
	needTool(t, "go", "https://go.dev/dl (the README's step 1 builds with it)")
	needTool(t, "systemd-analyze", "apt-get install -y systemd")
	needTool(t, "systemctl", "apt-get install -y systemd")
	if _, err := os.Stat("/usr/lib/systemd/system/multi-user.target"); err != nil {
		t.Fatalf("systemd's own units are missing (%v): apt-get install -y systemd", err)
	}
	asRoot := os.Geteuid() == 0
	if asRoot {
		needTool(t, "useradd", "apt-get install -y passwd")
	}
	checkout := copyCheckout(t)
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// -trimpath keeps the build cache's keys free of the copy's path, so
	// that a second run does not compile the module again; it changes
	// nothing but the file names recorded in the binary.
	env := append(os.Environ(), "ROOT="+root, "GOFLAGS=-buildvcs=false -trimpath")
	if asRoot {
		// A system root as debootstrap leaves it: root in etc/passwd and etc/group.
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, "etc"), "passwd", "root:x:0:0:root:/root:/bin/bash\n")
		writeFile(t, filepath.Join(root, "etc"), "group", "root:x:0:\n")
	} else {
		t.Log("not root: owners are left alone (QUANTUM_INSTALL_NO_CHOWN=1) and not checked; modes are")
		env = append(env, "QUANTUM_INSTALL_NO_CHOWN=1")
	}
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	hostGroup, _ := os.ReadFile("/etc/group")
	cmd := exec.Command("sh", "-ec", strings.Join(steps, "\n"))
	cmd.Dir, cmd.Env = checkout, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's steps %q: %v\n%s", steps, err, out)
	}
	if p, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(p, hostPasswd) {
		t.Fatal("the install changed the host's /etc/passwd")
	}
	if g, _ := os.ReadFile("/etc/group"); !bytes.Equal(g, hostGroup) {
		t.Fatal("the install changed the host's /etc/group")
	}

	// Step 2: modes (and, as root, owners) of everything installed.
	type spec struct {
		mode  fs.FileMode
		owner string // user:group
	}
	want := map[string]spec{
		"usr/local/bin":               {0o755 | fs.ModeDir, "root:root"},
		"usr/local/bin/quantum":       {0o755, "root:root"},
		"etc/quantum":                 {0o750 | fs.ModeDir, "root:quantum"},
		"etc/quantum/keys":            {0o750 | fs.ModeDir, "root:quantum"},
		"etc/quantum/producers":       {0o700 | fs.ModeDir, "root:root"},
		"etc/quantum/quantum.env":     {0o640, "root:quantum"},
		"etc/quantum/policy.json":     {0o640, "root:quantum"},
		"etc/quantum/keys/policy.key": {0o600, "quantum:quantum"},
		"etc/quantum/keys/policy.pub": {0o644, "root:quantum"},
		"etc/quantum/keyring":         {0o600, "quantum:quantum"},
		"etc/quantum/result.key":      {0o600, "quantum:quantum"},
		"etc/systemd/system":          {0o755 | fs.ModeDir, "root:root"},
	}
	for _, s := range []string{"exitbrain_v3_5", "intent_bridge", "manual_close", "emergency_stop", "quantum_proof"} {
		want["etc/quantum/producers/"+s+".key"] = spec{0o600, "root:root"}
	}
	units, _ := filepath.Glob("../../deploy/systemd/quantum-*")
	roles := map[string]string{} // unit -> Redis role, from the drop-ins below
	for _, u := range units {
		name := filepath.Base(u)
		want["etc/systemd/system/"+name] = spec{0o644, "root:root"}
		if strings.HasSuffix(name, ".service") {
			want["etc/systemd/system/"+name+".d"] = spec{0o755 | fs.ModeDir, "root:root"}
			want["etc/systemd/system/"+name+".d/redis-user.conf"] = spec{0o644, "root:root"}
			roles[name] = ""
		}
	}
	for _, role := range []string{"apply-layer", "refresh", "watch", "alerts-forward", "proof"} {
		want["etc/quantum/redis-"+role+".env"] = spec{0o640, "root:quantum"}
	}
	ids := map[string]int{}
	if asRoot {
		for _, db := range []string{"passwd", "group"} {
			b, err := os.ReadFile(filepath.Join(root, "etc", db))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Split(l, ":"); len(f) >= 4 {
					id, _ := strconv.Atoi(f[2])
					ids[db+":"+f[0]] = id
				}
			}
		}
		if _, ok := ids["passwd:quantum"]; !ok {
			t.Fatalf("no quantum user in the scratch root's etc/passwd")
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc", "passwd")); !strings.Contains(string(b), "/nonexistent:/usr/sbin/nologin") {
			t.Errorf("the quantum user may log in or has a home: %s", b)
		}
	}
	seen := map[string]bool{}
	for _, top := range []string{"usr/local/bin", "etc/quantum", "etc/systemd/system"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			seen[rel] = true
			w, ok := want[rel]
			if !ok {
				t.Errorf("%s: installed, but documented nowhere (install.sh's table, this test)", rel)
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if got := info.Mode() & (fs.ModePerm | fs.ModeDir); got != w.mode {
				t.Errorf("%s: mode %v, want %v", rel, got, w.mode)
			}
			if asRoot {
				st := info.Sys().(*syscall.Stat_t)
				user, group, _ := strings.Cut(w.owner, ":")
				if int(st.Uid) != ids["passwd:"+user] || int(st.Gid) != ids["group:"+group] {
					t.Errorf("%s: owner %d:%d, want %s (%d:%d)", rel, st.Uid, st.Gid, w.owner, ids["passwd:"+user], ids["group:"+group])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if !seen[p] {
			t.Errorf("%s: not installed", p)
		}
	}

	// The template and the example environment.
	tmpl, _ := os.ReadFile(filepath.Join(root, "etc/quantum/policy.json"))
	if example, _ := os.ReadFile("../../deploy/policy.example.json"); !bytes.Equal(tmpl, example) {
		t.Error("/etc/quantum/policy.json is not deploy/policy.example.json")
	}
	if _, err := policy.ParseContentFile("policy.json", bytes.NewReader(tmpl)); err != nil {
		t.Errorf("the installed template does not parse: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/quantum/quantum.env")); !bytes.Contains(got, []byte("QUANTUM_")) {
		t.Errorf("/etc/quantum/quantum.env: %q", got)
	}

	// Each unit: quantum.env, then its own Redis user (step 3).
	aclURL := aclServer(t)
	for unit := range roles {
		body, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system", unit))
		if !bytes.Contains(body, []byte("EnvironmentFile=/etc/quantum/quantum.env")) && !bytes.Contains(body, []byte("EnvironmentFile=-/etc/quantum/quantum.env")) {
			t.Errorf("%s does not read /etc/quantum/quantum.env", unit)
		}
		dropIn, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system", unit+".d", "redis-user.conf"))
		m := regexp.MustCompile(`(?m)^EnvironmentFile=(/etc/quantum/redis-([a-z-]+)\.env)$`).FindSubmatch(dropIn)
		if m == nil {
			t.Errorf("%s: drop-in %q names no Redis user's env file", unit, dropIn)
			continue
		}
		envFile, role := string(m[1]), string(m[2])
		redisURL := ""
		fh, err := os.Open(filepath.Join(root, envFile))
		if err != nil {
			t.Errorf("%s: %v", unit, err)
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "QUANTUM_REDIS_URL="); ok {
				redisURL = v
			}
		}
		fh.Close()
		// The README: the same password in users.acl and in the env file.
		u, err := url.Parse(strings.ReplaceAll(redisURL, "CHANGE-ME-", "pw-"))
		if err != nil || u.User == nil {
			t.Errorf("%s: %s: QUANTUM_REDIS_URL %q names no user", unit, envFile, redisURL)
			continue
		}
		pw, _ := u.User.Password()
		if want := "quantum-" + role; u.User.Username() != want {
			t.Errorf("%s: %s connects as %s, want %s", unit, envFile, u.User.Username(), want)
		}
		base := aclURL(u.User.Username()) // the server's socket
		c := aclClient(t, "unix://"+u.User.Username()+":"+pw+"@"+base[strings.LastIndex(base, "@")+1:])
		if err := c.Ping(context.Background()).Err(); err != nil { // every role may PING; a wrong user or password is WRONGPASS
			t.Errorf("%s: %s does not authenticate on users.acl as %s: %v", unit, envFile, u.User.Username(), err)
		}
	}

	// Step 5: the units verify and enable under the scratch root.
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy systemd's units into the scratch root: %v %s", err, out)
	}
	var names []string
	for _, u := range units {
		names = append(names, filepath.Base(u))
	}
	verify := exec.Command("systemd-analyze", append([]string{"--root=" + root, "verify"}, names...)...)
	if out, err := verify.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify of the installed units: %v\n%s", err, out)
	}
	readme, _ := os.ReadFile("../../README.md")
	m := regexp.MustCompile("5\\. \\*\\*Enable\\*\\*: `systemctl enable --now ([^`]+)`").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README step 5 names no `systemctl enable --now UNITS`")
	}
	enable := strings.Fields(strings.ReplaceAll(string(m[1]), "\n", " "))
	out, err := exec.Command("systemctl", append([]string{"--root=" + root, "enable"}, enable...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl --root enable %v: %v\n%s", enable, err, out)
	}
	for _, u := range enable {
		links, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*.wants", u))
		if len(links) == 0 {
			t.Errorf("%s: enabled, but no .wants link (no [Install] section?)\n%s", u, out)
		}
		if timer, ok := strings.CutSuffix(u, ".timer"); ok {
			if _, err := os.Stat(filepath.Join(root, "etc/systemd/system", timer+".service")); err != nil {
				t.Errorf("%s has no service: %v", u, err)
			}
		}
	}
	if !t.Failed() {
		t.Logf("ran %q under %s; %d paths checked, owners checked: %v", steps, root, len(want), asRoot)
	}
}
