package main

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// releaseURLPrefix is the download URL prefix of this repository's GitHub releases. The archives of
// version V are under releaseURLPrefix + V.
const releaseURLPrefix = "https://github.com/kubectl-mlflow/kubectl-mlflow/releases/download/"

// krewVersion is the version format that krew accepts: a semantic version with a leading "v".
var krewVersion = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// manifestInput holds the release facts that fill the placeholders of the manifest template.
type manifestInput struct {
	Version string
	// BaseURL is the folder URL that serves the archives. Empty means the GitHub release of Version.
	BaseURL string
	// Checksums maps an archive file name to its sha256 in lowercase hex.
	Checksums map[string]string
	// BuiltPlatformsOnly drops the platforms whose archive is missing from Checksums instead of
	// failing. Tests use it to install a release built for the host platform only.
	BuiltPlatformsOnly bool
}

// archiveName returns the release archive name of one platform; it must match hack/release.sh.
func archiveName(version, goos, goarch string) string {
	extension := ".tar.gz"
	if goos == "windows" {
		extension = ".zip"
	}
	return fmt.Sprintf("kubectl-mlflow_%s_%s_%s%s", version, goos, goarch, extension)
}

// renderManifest fills the krew manifest template. The template reads {{ .Version }} and calls
// {{ uri "OS" "ARCH" }} and {{ sha256 "OS" "ARCH" }} once for each platform.
func renderManifest(templateText []byte, in manifestInput) ([]byte, error) {
	if !krewVersion.MatchString(in.Version) {
		return nil, fmt.Errorf("invalid version %q: krew needs a semantic version with a leading v, such as v0.1.0", in.Version)
	}
	baseURL := in.BaseURL
	if baseURL == "" {
		baseURL = releaseURLPrefix + in.Version
	}
	baseURL = strings.TrimSuffix(baseURL, "/")

	var missing []string
	functions := template.FuncMap{
		"uri": func(goos, goarch string) string {
			return baseURL + "/" + archiveName(in.Version, goos, goarch)
		},
		"sha256": func(goos, goarch string) string {
			name := archiveName(in.Version, goos, goarch)
			sum, ok := in.Checksums[name]
			if !ok {
				missing = append(missing, name)
			}
			return sum
		},
	}
	tmpl, err := template.New("krew-manifest").Funcs(functions).Option("missingkey=error").Parse(string(templateText))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, in); err != nil {
		return nil, err
	}

	if len(missing) == 0 {
		return out.Bytes(), nil
	}
	if !in.BuiltPlatformsOnly {
		sort.Strings(missing)
		return nil, fmt.Errorf("no checksum for %s: build every platform of the template or pass -built-platforms-only", strings.Join(missing, ", "))
	}
	return dropUnbuiltPlatforms(out.Bytes())
}

// dropUnbuiltPlatforms removes the spec.platforms entries that have an empty sha256. It re-encodes
// the manifest, so comments and key order are lost: only test manifests go through it.
func dropUnbuiltPlatforms(manifest []byte) ([]byte, error) {
	var plugin map[string]any
	if err := yaml.Unmarshal(manifest, &plugin); err != nil {
		return nil, fmt.Errorf("failed to parse the rendered manifest: %w", err)
	}
	spec, ok := plugin["spec"].(map[string]any)
	if !ok {
		return nil, errors.New("rendered manifest has no spec")
	}
	platforms, _ := spec["platforms"].([]any)

	var built []any
	for _, platform := range platforms {
		fields, ok := platform.(map[string]any)
		if !ok {
			return nil, errors.New("rendered manifest has a spec.platforms entry that is not a mapping")
		}
		if sum, _ := fields["sha256"].(string); sum != "" {
			built = append(built, platform)
		}
	}
	if len(built) == 0 {
		return nil, errors.New("no platform of the template has an archive in the checksums file")
	}
	spec["platforms"] = built
	return yaml.Marshal(plugin)
}
