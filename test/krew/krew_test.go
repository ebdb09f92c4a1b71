// Package krew tests the release archives and krew manifests of kubectl-mlflow with the real krew,
// validate-krew-manifest and kubectl binaries. hack/krew-test.sh builds krew v0.4.3 and sets the
// environment that these tests need; without it they are skipped, so `go test ./...` passes on a
// machine without krew.
//
// Environment:
//
//	KREW_BIN                    krew binary (sigs.k8s.io/krew/cmd/krew); TestKrewInstall needs it
//	VALIDATE_KREW_MANIFEST_BIN  validate-krew-manifest binary; TestKrewInstall needs it
//	KUBECTL                     kubectl binary (default: kubectl on PATH)
//	RELEASE_REPRODUCIBLE_TEST   set to 1 to run TestReleaseReproducible
//	RELEASE_PLATFORMS           GOOS/GOARCH list for TestReleaseReproducible (default: all release platforms)
package krew

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testVersion is stamped into the binary that the install test builds. It differs from any real
// release, so the version check cannot pass by accident against an installed copy.
const testVersion = "v0.1.0-krewtest.1"

// commandTimeout bounds every external command, so a hung krew or kubectl fails the test. It is
// long because hack/release.sh builds every platform from a cold Go build cache in one command.
const commandTimeout = 30 * time.Minute

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "krew-manifest.yaml")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// requireEnv returns the value of name or skips the test when it is unset.
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Skipf("%s is not set; run hack/krew-test.sh (make krew-test)", name)
	}
	return value
}

// commandResult is the outcome of one external command.
type commandResult struct {
	stdout, stderr string
	err            error
}

// run runs name with args in dir with env (nil keeps the test's environment) and fails the test
// when the command cannot start or times out. A non-zero exit status is returned in err.
func run(t *testing.T, dir string, env []string, name string, args ...string) commandResult {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", name, err)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return commandResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
	case <-time.After(commandTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s timed out after %s; stderr:\n%s", name, strings.Join(args, " "), commandTimeout, stderr.String())
		return commandResult{}
	}
}

// mustRun is run for commands that must succeed.
func mustRun(t *testing.T, dir string, env []string, name string, args ...string) commandResult {
	t.Helper()
	result := run(t, dir, env, name, args...)
	if result.err != nil {
		t.Fatalf("%s %s failed: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), result.err, result.stdout, result.stderr)
	}
	return result
}

// withEnv returns the test's environment with the given NAME=value entries replacing or adding to it.
func withEnv(overrides ...string) []string {
	replaced := map[string]bool{}
	for _, kv := range overrides {
		name, _, _ := strings.Cut(kv, "=")
		replaced[name] = true
	}
	env := append([]string{}, overrides...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !replaced[name] {
			env = append(env, kv)
		}
	}
	return env
}

func archiveName(version, goos, goarch string) string {
	if goos == "windows" {
		return fmt.Sprintf("kubectl-mlflow_%s_%s_%s.zip", version, goos, goarch)
	}
	return fmt.Sprintf("kubectl-mlflow_%s_%s_%s.tar.gz", version, goos, goarch)
}

func TestKrewInstall(t *testing.T) {
	krewBin := requireEnv(t, "KREW_BIN")
	validateBin := requireEnv(t, "VALIDATE_KREW_MANIFEST_BIN")
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		var err error
		if kubectl, err = exec.LookPath("kubectl"); err != nil {
			t.Fatalf("kubectl not found on PATH and KUBECTL is not set: %v", err)
		}
	}
	root := repoRoot(t)

	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	home := filepath.Join(tmp, "home")
	krewRoot := filepath.Join(tmp, "krew")
	toolBin := filepath.Join(tmp, "toolbin")
	for _, dir := range []string{home, toolBin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// validate-krew-manifest installs through `kubectl krew`, so krew must be on PATH as a plugin.
	if err := os.Symlink(krewBin, filepath.Join(toolBin, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}

	// The archives are served on loopback so that validate-krew-manifest can download them.
	server := httptest.NewServer(http.FileServer(http.Dir(dist)))
	defer server.Close()

	// Build the host platform's archive and a manifest that lists only that platform.
	mustRun(t, root, withEnv(
		"VERSION="+testVersion,
		"PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH,
		"DIST_DIR="+dist,
		"BASE_URL="+server.URL,
		"BUILT_PLATFORMS_ONLY=1",
	), filepath.Join(root, "hack", "release.sh"))
	manifest := filepath.Join(dist, "mlflow.yaml")
	archive := filepath.Join(dist, archiveName(testVersion, runtime.GOOS, runtime.GOARCH))
	if _, err := os.Stat(archive); err != nil {
		t.Fatalf("release.sh wrote no archive for the host platform: %v", err)
	}

	// krew and kubectl run with a temporary HOME and KREW_ROOT, so nothing of the user's changes.
	// KREW_NO_UPGRADE_CHECK keeps krew from asking the network for its latest release.
	originalPath := os.Getenv("PATH")
	krewEnv := withEnv(
		"HOME="+home,
		"KREW_ROOT="+krewRoot,
		"KREW_NO_UPGRADE_CHECK=1",
		"KUBECONFIG="+filepath.Join(home, "kubeconfig"),
		"PATH="+filepath.Join(krewRoot, "bin")+string(os.PathListSeparator)+toolBin+string(os.PathListSeparator)+originalPath,
	)

	t.Run("validate rendered manifest with install", func(t *testing.T) {
		result := mustRun(t, tmp, krewEnv, validateBin, "-manifest", manifest)
		if !strings.Contains(result.stderr+result.stdout, "installed fine") {
			t.Errorf("validate-krew-manifest did not report the install:\n%s%s", result.stdout, result.stderr)
		}
	})

	t.Run("validate committed manifest", func(t *testing.T) {
		// The committed manifest points at the GitHub release, which this test must not download.
		mustRun(t, tmp, krewEnv, validateBin, "-skip-install", "-manifest", filepath.Join(root, "plugins", "mlflow.yaml"))
	})

	t.Run("validate template", func(t *testing.T) {
		rendered := renderTemplateWithSampleChecksums(t, root, filepath.Join(tmp, "template"))
		mustRun(t, tmp, krewEnv, validateBin, "-skip-install", "-manifest", rendered)
	})

	// krew list and uninstall refuse to run until an index exists, and `krew update` would clone
	// krew-index from the network. An empty local git repository is an index with no plugins.
	mustRun(t, tmp, krewEnv, "git", "init", "--quiet", filepath.Join(krewRoot, "index", "default"))

	mustRun(t, tmp, krewEnv, krewBin, "install", "--manifest="+manifest, "--archive="+archive)
	if listed := mustRun(t, tmp, krewEnv, krewBin, "list").stdout; !strings.Contains(listed, "mlflow") {
		t.Errorf("krew list does not show mlflow after install:\n%s", listed)
	}

	storeDir := filepath.Join(krewRoot, "store", "mlflow", testVersion)
	t.Run("installed files", func(t *testing.T) {
		for _, name := range []string{"kubectl-mlflow", "kubectl_complete-mlflow", "LICENSE", "README.md"} {
			if _, err := os.Stat(filepath.Join(storeDir, name)); err != nil {
				t.Errorf("krew did not install %s: %v", name, err)
			}
		}
		info, err := os.Stat(filepath.Join(storeDir, "kubectl_complete-mlflow"))
		if err == nil && info.Mode()&0o111 == 0 {
			t.Errorf("kubectl_complete-mlflow mode = %v, want executable", info.Mode())
		}
		if _, err := os.Lstat(filepath.Join(krewRoot, "bin", "kubectl-mlflow")); err != nil {
			t.Errorf("krew did not link kubectl-mlflow into %s/bin: %v", krewRoot, err)
		}
	})

	t.Run("kubectl mlflow version", func(t *testing.T) {
		result := mustRun(t, tmp, krewEnv, kubectl, "mlflow", "version")
		if !strings.Contains(result.stdout, testVersion) {
			t.Errorf("kubectl mlflow version = %q, want it to contain %q", result.stdout, testVersion)
		}
	})

	t.Run("kubectl plugin list", func(t *testing.T) {
		// kubectl exits non-zero when any plugin on PATH has a warning, also for plugins that
		// are not ours, so the check reads the listing itself.
		result := run(t, tmp, krewEnv, kubectl, "plugin", "list")
		want := filepath.Join(krewRoot, "bin", "kubectl-mlflow")
		if !strings.Contains(result.stdout, want) {
			t.Errorf("kubectl plugin list does not list %s (exit: %v):\n%s\n%s", want, result.err, result.stdout, result.stderr)
		}
		if strings.Contains(result.stderr, "kubectl-mlflow") {
			t.Errorf("kubectl plugin list warns about kubectl-mlflow:\n%s", result.stderr)
		}
	})

	t.Run("kubectl mlflow --help", func(t *testing.T) {
		result := mustRun(t, tmp, krewEnv, kubectl, "mlflow", "--help")
		for _, want := range []string{"kubectl mlflow [command]", "explain-hpa", "completion"} {
			if !strings.Contains(result.stdout, want) {
				t.Errorf("kubectl mlflow --help does not contain %q:\n%s", want, result.stdout)
			}
		}
	})

	t.Run("kubectl completes through the helper", func(t *testing.T) {
		// krew links only the binary into bin/; the caveats tell users to copy the helper there.
		helper, err := os.ReadFile(filepath.Join(storeDir, "kubectl_complete-mlflow"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(krewRoot, "bin", "kubectl_complete-mlflow"), helper, 0o755); err != nil {
			t.Fatal(err)
		}

		result := mustRun(t, tmp, krewEnv, kubectl, "__complete", "mlflow", "")
		for _, want := range []string{"explain-hpa", "version", "completion"} {
			if !strings.Contains(result.stdout, want) {
				t.Errorf("kubectl __complete mlflow \"\" does not offer %q:\n%s", want, result.stdout)
			}
		}
		result = mustRun(t, tmp, krewEnv, kubectl, "__complete", "mlflow", "version", "--out")
		if !strings.Contains(result.stdout, "--output") {
			t.Errorf("kubectl __complete mlflow version --out does not offer --output:\n%s", result.stdout)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		mustRun(t, tmp, krewEnv, krewBin, "uninstall", "mlflow")
		if _, err := os.Lstat(filepath.Join(krewRoot, "bin", "kubectl-mlflow")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("kubectl-mlflow is still in %s/bin after uninstall (err: %v)", krewRoot, err)
		}
		if _, err := os.Stat(storeDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after uninstall (err: %v)", storeDir, err)
		}
		result := run(t, tmp, krewEnv, kubectl, "mlflow", "version")
		if result.err == nil {
			t.Errorf("kubectl mlflow version succeeded after uninstall:\n%s", result.stdout)
		}
		// krew leaves the copied helper behind; users delete it as docs/install.md describes. krew
		// v0.4.3 also refuses to run when bin/ holds files but no plugin has a receipt, which
		// happens here because krew itself was not installed through krew.
		if err := os.Remove(filepath.Join(krewRoot, "bin", "kubectl_complete-mlflow")); err != nil {
			t.Errorf("the copied helper is gone after uninstall: %v", err)
		}
		if listed := mustRun(t, tmp, krewEnv, krewBin, "list").stdout; strings.Contains(listed, "mlflow") {
			t.Errorf("krew list still shows mlflow after uninstall:\n%s", listed)
		}
	})
}

// renderTemplateWithSampleChecksums renders krew-manifest.yaml for every platform with made-up
// checksums, the way `make release` does, and returns the path of the result. The file is named
// mlflow.yaml because validate-krew-manifest checks that the name matches the plugin.
func renderTemplateWithSampleChecksums(t *testing.T, root, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var checksums strings.Builder
	for i, platform := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"} {
		goos, goarch, _ := strings.Cut(platform, "/")
		fmt.Fprintf(&checksums, "%064x  %s\n", i+1, archiveName("v0.0.1", goos, goarch))
	}
	checksumsPath := filepath.Join(dir, "checksums.txt")
	if err := os.WriteFile(checksumsPath, []byte(checksums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mlflow.yaml")
	mustRun(t, root, nil, "go", "run", "./hack/release", "manifest",
		"-template", "krew-manifest.yaml", "-version", "v0.0.1", "-checksums", checksumsPath, "-out", out)
	return out
}

func TestReleaseReproducible(t *testing.T) {
	if os.Getenv("RELEASE_REPRODUCIBLE_TEST") != "1" {
		t.Skip("RELEASE_REPRODUCIBLE_TEST is not 1; run hack/krew-test.sh (make krew-test)")
	}
	root := repoRoot(t)
	platforms := os.Getenv("RELEASE_PLATFORMS")

	// The two runs differ in time zone, umask and output folder, none of which may reach the bytes.
	tmp := t.TempDir()
	var dists []string
	for i, zone := range []string{"UTC", "Asia/Tokyo"} {
		dist := filepath.Join(tmp, fmt.Sprintf("dist-%d", i))
		overrides := []string{"VERSION=v0.1.0", "DIST_DIR=" + dist, "TZ=" + zone}
		if platforms != "" {
			overrides = append(overrides, "PLATFORMS="+platforms, "BUILT_PLATFORMS_ONLY=1")
		}
		env := withEnv(overrides...)
		umask := []string{"022", "077"}[i]
		mustRun(t, root, env, "bash", "-c", "umask "+umask+" && exec hack/release.sh")
		dists = append(dists, dist)
	}

	first := readFile(t, filepath.Join(dists[0], "checksums.txt"))
	second := readFile(t, filepath.Join(dists[1], "checksums.txt"))
	if first != second {
		t.Fatalf("checksums differ between two runs:\n%s\n---\n%s", first, second)
	}
	if strings.Count(first, "\n") == 0 {
		t.Fatalf("checksums.txt is empty")
	}
	if a, b := readFile(t, filepath.Join(dists[0], "mlflow.yaml")), readFile(t, filepath.Join(dists[1], "mlflow.yaml")); a != b {
		t.Errorf("mlflow.yaml differs between two runs:\n%s\n---\n%s", a, b)
	}

	buildDate := strings.TrimSpace(mustRun(t, root, nil, "git", "log", "-1", "--format=%cI").stdout)
	wantTime, err := time.Parse(time.RFC3339, buildDate)
	if err != nil {
		t.Fatal(err)
	}
	tarballs, _ := filepath.Glob(filepath.Join(dists[0], "*.tar.gz"))
	for _, tarball := range tarballs {
		checkTarEntries(t, tarball, wantTime)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkTarEntries checks that a release tarball holds the four expected files in name order, owned
// by 0:0, with the commit date as mtime and the executable bit only on the programs.
func checkTarEntries(t *testing.T, path string, wantTime time.Time) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("%s: gzip header has name %q and time %v, want neither", path, gz.Name, gz.ModTime)
	}

	wantNames := []string{"LICENSE", "README.md", "kubectl-mlflow", "kubectl_complete-mlflow"}
	wantModes := map[string]int64{"LICENSE": 0o644, "README.md": 0o644, "kubectl-mlflow": 0o755, "kubectl_complete-mlflow": 0o755}
	reader := tar.NewReader(gz)
	var names []string
	for {
		header, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		names = append(names, header.Name)
		if header.Uid != 0 || header.Gid != 0 || header.Uname != "" || header.Gname != "" {
			t.Errorf("%s: %s is owned by %d:%d (%q:%q), want 0:0 with no names", path, header.Name, header.Uid, header.Gid, header.Uname, header.Gname)
		}
		if !header.ModTime.Equal(wantTime) {
			t.Errorf("%s: %s mtime = %v, want the commit date %v", path, header.Name, header.ModTime, wantTime)
		}
		if header.Mode != wantModes[header.Name] {
			t.Errorf("%s: %s mode = %o, want %o", path, header.Name, header.Mode, wantModes[header.Name])
		}
	}
	if strings.Join(names, ",") != strings.Join(wantNames, ",") {
		t.Errorf("%s: entries = %q, want %q", path, names, wantNames)
	}
}

func TestCommittedManifestChecksums(t *testing.T) {
	if os.Getenv("RELEASE_REPRODUCIBLE_TEST") != "1" {
		t.Skip("RELEASE_REPRODUCIBLE_TEST is not 1; run hack/krew-test.sh (make krew-test)")
	}
	root := repoRoot(t)
	source := strings.TrimSpace(readFile(t, filepath.Join(root, "plugins", "SOURCE")))
	if source == "" {
		t.Fatal("plugins/SOURCE is empty: write the commit that plugins/mlflow.yaml was built from")
	}
	if result := run(t, root, nil, "git", "cat-file", "-e", source+"^{commit}"); result.err != nil {
		t.Skipf("commit %s of plugins/SOURCE is not in this clone (a shallow clone?): %v", source, result.err)
	}

	manifest := readFile(t, filepath.Join(root, "plugins", "mlflow.yaml"))
	version := regexp.MustCompile(`(?m)^  version: (\S+)$`).FindStringSubmatch(manifest)
	if version == nil {
		t.Fatal("plugins/mlflow.yaml has no spec.version")
	}
	archive := fmt.Sprintf("kubectl-mlflow_%s_linux_amd64.tar.gz", version[1])
	entry := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(archive) + `\s+sha256: "?([0-9a-f]{64})"?`).FindStringSubmatch(manifest)
	if entry == nil {
		t.Fatalf("plugins/mlflow.yaml has no sha256 for %s", archive)
	}

	// Build that commit's archive in a worktree of its own, exactly as the release did.
	worktree := filepath.Join(t.TempDir(), "source")
	mustRun(t, root, nil, "git", "worktree", "add", "--detach", worktree, source)
	t.Cleanup(func() { run(t, root, nil, "git", "worktree", "remove", "--force", worktree) })
	dist := filepath.Join(t.TempDir(), "dist")
	mustRun(t, worktree, withEnv("VERSION="+version[1], "DIST_DIR="+dist, "PLATFORMS=linux/amd64", "BUILT_PLATFORMS_ONLY=1"), "hack/release.sh")

	checksums := readFile(t, filepath.Join(dist, "checksums.txt"))
	want := entry[1] + "  " + archive
	if !strings.Contains(checksums, want) {
		t.Errorf("the release of commit %s gives\n%s\nbut plugins/mlflow.yaml says %s: regenerate it (docs/install.md)", source, checksums, want)
	}
}
