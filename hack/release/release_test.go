package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var commitDate = time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))

// writeInputs writes the files of an archive with the given modes and mtime, and returns their paths.
func writeInputs(t *testing.T, dir string, mode os.FileMode, mtime time.Time) []string {
	t.Helper()
	files := map[string]string{"kubectl-mlflow": "binary", "LICENSE": "license", "README.md": "readme"}
	var paths []string
	for _, name := range []string{"kubectl-mlflow", "README.md", "LICENSE"} {
		path := filepath.Join(dir, name)
		fileMode := mode &^ 0o111
		if name == "kubectl-mlflow" {
			fileMode = mode
		}
		if err := os.WriteFile(path, []byte(files[name]), fileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, fileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

func archiveBytes(t *testing.T, paths []string, write func(io.Writer, []entry, time.Time) error) []byte {
	t.Helper()
	entries, err := readEntries(paths)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := write(&out, entries, commitDate); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestArchivesIgnoreSourceMetadata(t *testing.T) {
	// The two inputs differ in permission bits beyond the executable bit, in mtime and in the
	// order of the command line, none of which may change the archive.
	first := writeInputs(t, t.TempDir(), 0o755, time.Unix(1, 0))
	second := writeInputs(t, t.TempDir(), 0o700, time.Now())
	reversed := []string{second[2], second[1], second[0]}

	for _, format := range []struct {
		name  string
		write func(io.Writer, []entry, time.Time) error
	}{{"tar.gz", writeTarGz}, {"zip", writeZip}} {
		a := archiveBytes(t, first, format.write)
		b := archiveBytes(t, reversed, format.write)
		if !bytes.Equal(a, b) {
			t.Errorf("%s archives of the same files differ", format.name)
		}
	}
}

func TestTarGzEntries(t *testing.T) {
	data := archiveBytes(t, writeInputs(t, t.TempDir(), 0o775, time.Now()), writeTarGz)
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header name = %q, time = %v, want both empty", gz.Name, gz.ModTime)
	}

	reader := tar.NewReader(gz)
	var got []string
	for {
		header, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %o %d:%d %s", header.Name, header.Mode, header.Uid, header.Gid, header.ModTime.UTC().Format(time.RFC3339)))
	}
	want := []string{
		"LICENSE 644 0:0 2026-03-04T04:06:07Z",
		"README.md 644 0:0 2026-03-04T04:06:07Z",
		"kubectl-mlflow 755 0:0 2026-03-04T04:06:07Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestZipEntries(t *testing.T) {
	data := archiveBytes(t, writeInputs(t, t.TempDir(), 0o755, time.Now()), writeZip)
	reader, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range reader.File {
		got = append(got, fmt.Sprintf("%s %o %s", f.Name, f.Mode().Perm(), f.Modified.UTC().Format(time.RFC3339)))
	}
	want := []string{
		"LICENSE 644 2026-03-04T04:06:07Z",
		"README.md 644 2026-03-04T04:06:07Z",
		"kubectl-mlflow 755 2026-03-04T04:06:07Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadEntriesRejectsDuplicateNames(t *testing.T) {
	first := writeInputs(t, t.TempDir(), 0o755, time.Now())
	second := writeInputs(t, t.TempDir(), 0o755, time.Now())
	if _, err := readEntries([]string{first[0], second[0]}); err == nil {
		t.Error("readEntries accepted two files with the same base name")
	}
}

func TestChecksumsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"b.zip": "bb", "a.tar.gz": "aa"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := formatChecksums([]string{filepath.Join(dir, "b.zip"), filepath.Join(dir, "a.tar.gz")})
	if err != nil {
		t.Fatal(err)
	}
	// sha256 of "aa" and "bb", as printed by sha256sum.
	want := "961b6dd3ede3cb8ecbaacbd68de040cd78eb2ed5889130cceb4c49268ea4d506  a.tar.gz\n" +
		"3b64db95cb55c763391c707108489ae18b4112d783300de38e033b4c98c3deaf  b.zip\n"
	if string(data) != want {
		t.Errorf("checksums:\n%s\nwant:\n%s", data, want)
	}

	parsed, err := parseChecksums(data)
	if err != nil {
		t.Fatal(err)
	}
	if parsed["a.tar.gz"] != "961b6dd3ede3cb8ecbaacbd68de040cd78eb2ed5889130cceb4c49268ea4d506" || len(parsed) != 2 {
		t.Errorf("parsed checksums = %v", parsed)
	}
	if _, err := parseChecksums([]byte("not-a-sum  a.tar.gz\n")); err == nil {
		t.Error("parseChecksums accepted an invalid sha256")
	}
}

// sampleChecksums returns a distinct made-up sha256 for every platform of the template.
func sampleChecksums(version string) map[string]string {
	checksums := map[string]string{}
	for i, platform := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"} {
		goos, goarch, _ := strings.Cut(platform, "/")
		checksums[archiveName(version, goos, goarch)] = fmt.Sprintf("%064x", i+1)
	}
	return checksums
}

func readTemplate(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "krew-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// plugin holds the fields of a krew Plugin manifest that these tests read.
type plugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version   string `json:"version"`
		Caveats   string `json:"caveats"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

func parsePlugin(t *testing.T, data []byte) plugin {
	t.Helper()
	var p plugin
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		// Strict parsing fails on fields this struct leaves out, so fall back to the lenient one.
		if err := yaml.Unmarshal(data, &p); err != nil {
			t.Fatalf("invalid manifest: %v\n%s", err, data)
		}
	}
	return p
}

func TestRenderManifestFillsEveryPlatform(t *testing.T) {
	checksums := sampleChecksums("v1.2.3")
	data, err := renderManifest(readTemplate(t), manifestInput{Version: "v1.2.3", Checksums: checksums})
	if err != nil {
		t.Fatal(err)
	}
	p := parsePlugin(t, data)
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "mlflow" {
		t.Errorf("header = %s %s %s", p.APIVersion, p.Kind, p.Metadata.Name)
	}
	if p.Spec.Version != "v1.2.3" {
		t.Errorf("version = %q, want v1.2.3", p.Spec.Version)
	}
	if !strings.Contains(p.Spec.Caveats, "/store/mlflow/v1.2.3/kubectl_complete-mlflow") {
		t.Errorf("caveats do not name the helper of v1.2.3:\n%s", p.Spec.Caveats)
	}
	if len(p.Spec.Platforms) != 6 {
		t.Fatalf("%d platforms, want 6", len(p.Spec.Platforms))
	}

	for _, platform := range p.Spec.Platforms {
		goos, goarch := platform.Selector.MatchLabels["os"], platform.Selector.MatchLabels["arch"]
		name := archiveName("v1.2.3", goos, goarch)
		if want := releaseURLPrefix + "v1.2.3/" + name; platform.URI != want {
			t.Errorf("%s/%s uri = %q, want %q", goos, goarch, platform.URI, want)
		}
		if platform.Sha256 != checksums[name] {
			t.Errorf("%s/%s sha256 = %q, want %q", goos, goarch, platform.Sha256, checksums[name])
		}
		binary, helper := "kubectl-mlflow", "kubectl_complete-mlflow"
		if goos == "windows" {
			binary, helper = "kubectl-mlflow.exe", "kubectl_complete-mlflow.cmd"
		}
		if platform.Bin != binary {
			t.Errorf("%s/%s bin = %q, want %q", goos, goarch, platform.Bin, binary)
		}
		var from []string
		for _, f := range platform.Files {
			from = append(from, f.From)
		}
		if got, want := strings.Join(from, " "), strings.Join([]string{binary, helper, "LICENSE", "README.md"}, " "); got != want {
			t.Errorf("%s/%s files = %s, want %s", goos, goarch, got, want)
		}
	}
}

func TestRenderManifestMissingChecksum(t *testing.T) {
	checksums := sampleChecksums("v1.2.3")
	delete(checksums, archiveName("v1.2.3", "darwin", "arm64"))
	_, err := renderManifest(readTemplate(t), manifestInput{Version: "v1.2.3", Checksums: checksums})
	if err == nil || !strings.Contains(err.Error(), "darwin_arm64") {
		t.Errorf("err = %v, want it to name the darwin/arm64 archive", err)
	}
}

func TestRenderManifestBuiltPlatformsOnly(t *testing.T) {
	name := archiveName("v1.2.3", "linux", "amd64")
	data, err := renderManifest(readTemplate(t), manifestInput{
		Version:            "v1.2.3",
		BaseURL:            "http://127.0.0.1:8080/",
		Checksums:          map[string]string{name: strings.Repeat("a", 64)},
		BuiltPlatformsOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := parsePlugin(t, data)
	if len(p.Spec.Platforms) != 1 {
		t.Fatalf("%d platforms, want only linux/amd64:\n%s", len(p.Spec.Platforms), data)
	}
	if got, want := p.Spec.Platforms[0].URI, "http://127.0.0.1:8080/"+name; got != want {
		t.Errorf("uri = %q, want %q", got, want)
	}
}

func TestRenderManifestRejectsInvalidVersion(t *testing.T) {
	for _, version := range []string{"0.1.0", "v0.1", "latest", ""} {
		if _, err := renderManifest(readTemplate(t), manifestInput{Version: version, Checksums: sampleChecksums(version)}); err == nil {
			t.Errorf("version %q accepted, want an error", version)
		}
	}
}

// TestCommittedManifestMatchesTemplate checks that plugins/mlflow.yaml is the template rendered for
// the version and checksums it contains, so it cannot drift from krew-manifest.yaml. Whether those
// checksums belong to the published archives is checked by comparing with dist/checksums.txt of
// `make release` at the release commit; see docs/install.md.
func TestCommittedManifestMatchesTemplate(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "..", "plugins", "mlflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsePlugin(t, committed)
	checksums := map[string]string{}
	for _, platform := range p.Spec.Platforms {
		checksums[filepath.Base(platform.URI)] = platform.Sha256
	}

	rendered, err := renderManifest(readTemplate(t), manifestInput{Version: p.Spec.Version, Checksums: checksums})
	if err != nil {
		t.Fatalf("failed to render the template for %s: %v", p.Spec.Version, err)
	}
	if !bytes.Equal(rendered, committed) {
		t.Errorf("plugins/mlflow.yaml differs from krew-manifest.yaml rendered for %s; run "+
			"`make release VERSION=%s` and copy dist/mlflow.yaml to plugins/mlflow.yaml.\nrendered:\n%s",
			p.Spec.Version, p.Spec.Version, rendered)
	}
}
