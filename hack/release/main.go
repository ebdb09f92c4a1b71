// Command release writes the reproducible release artifacts of kubectl-mlflow: the per-platform
// archives, the checksums file and the krew plugin manifest. hack/release.sh runs it with `go run`.
//
// Usage:
//
//	go run ./hack/release archive -mtime 2026-01-02T15:04:05Z -out dist/x.tar.gz FILE...
//	go run ./hack/release checksums -out dist/checksums.txt FILE...
//	go run ./hack/release manifest -template krew-manifest.yaml -version v0.1.0 -checksums dist/checksums.txt -out dist/mlflow.yaml
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("missing subcommand: use archive, checksums or manifest")
	}
	switch args[0] {
	case "archive":
		return runArchive(args[1:])
	case "checksums":
		return runChecksums(args[1:])
	case "manifest":
		return runManifest(args[1:])
	default:
		return fmt.Errorf("unknown subcommand %q: use archive, checksums or manifest", args[0])
	}
}

func runArchive(args []string) error {
	flags := flag.NewFlagSet("archive", flag.ContinueOnError)
	out := flags.String("out", "", "archive to write; a name ending in .zip writes a zip, .tar.gz a gzip-compressed tar")
	mtime := flags.String("mtime", "", "modification time of every entry, RFC 3339 (the commit date)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *out == "" || flags.NArg() == 0 {
		return errors.New("archive needs -out and at least one file")
	}
	modified, err := time.Parse(time.RFC3339, *mtime)
	if err != nil {
		return fmt.Errorf("invalid -mtime %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z: %w", *mtime, err)
	}

	entries, err := readEntries(flags.Args())
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	switch {
	case strings.HasSuffix(*out, ".zip"):
		err = writeZip(f, entries, modified)
	case strings.HasSuffix(*out, ".tar.gz"):
		err = writeTarGz(f, entries, modified)
	default:
		err = fmt.Errorf("invalid -out %q: the name must end in .zip or .tar.gz", *out)
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(*out)
	}
	return err
}

func runChecksums(args []string) error {
	flags := flag.NewFlagSet("checksums", flag.ContinueOnError)
	out := flags.String("out", "", "checksums file to write, in the format of sha256sum")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *out == "" || flags.NArg() == 0 {
		return errors.New("checksums needs -out and at least one file")
	}
	data, err := formatChecksums(flags.Args())
	if err != nil {
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

func runManifest(args []string) error {
	flags := flag.NewFlagSet("manifest", flag.ContinueOnError)
	templatePath := flags.String("template", "krew-manifest.yaml", "krew manifest template")
	version := flags.String("version", "", "plugin version, a semantic version with a leading v")
	checksumsPath := flags.String("checksums", "", "checksums file written by the checksums subcommand")
	baseURL := flags.String("base-url", "", "URL of the folder that serves the archives (default: the GitHub release of -version)")
	builtOnly := flags.Bool("built-platforms-only", false, "drop the platforms that have no archive in -checksums instead of failing")
	out := flags.String("out", "", "manifest to write")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *version == "" || *checksumsPath == "" || *out == "" {
		return errors.New("manifest needs -version, -checksums and -out")
	}

	template, err := os.ReadFile(*templatePath)
	if err != nil {
		return err
	}
	checksumData, err := os.ReadFile(*checksumsPath)
	if err != nil {
		return err
	}
	checksums, err := parseChecksums(checksumData)
	if err != nil {
		return fmt.Errorf("invalid checksums file %s: %w", *checksumsPath, err)
	}
	manifest, err := renderManifest(template, manifestInput{
		Version:            *version,
		BaseURL:            *baseURL,
		Checksums:          checksums,
		BuiltPlatformsOnly: *builtOnly,
	})
	if err != nil {
		return fmt.Errorf("failed to render %s: %w", *templatePath, err)
	}
	return os.WriteFile(*out, manifest, 0o644)
}
