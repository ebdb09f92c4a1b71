package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// entry is one file of a release archive, stored at the archive root under its base name.
type entry struct {
	name       string
	data       []byte
	executable bool
}

// readEntries reads the files to archive and sorts them by name, so the archive bytes do not
// depend on the order of the command line.
func readEntries(paths []string) ([]entry, error) {
	entries := make([]entry, 0, len(paths))
	seen := map[string]string{}
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("invalid archive input %s: not a regular file", path)
		}
		name := filepath.Base(path)
		if other, ok := seen[name]; ok {
			return nil, fmt.Errorf("invalid archive input: %s and %s have the same name %q", other, path, name)
		}
		seen[name] = path

		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{name: name, data: data, executable: info.Mode()&0o111 != 0})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// mode returns 0755 for executables and 0644 otherwise. Only the executable bit of the source file
// is kept, because other bits depend on the umask of the machine that built the release.
func (e entry) mode() os.FileMode {
	if e.executable {
		return 0o755
	}
	return 0o644
}

// writeTarGz writes a ustar archive, compressed by gzip with no name or timestamp in the gzip
// header. Every entry gets the same mtime and owner 0:0 with empty owner names.
func writeTarGz(w io.Writer, entries []entry, modified time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		header := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Size:     int64(len(e.data)),
			Mode:     int64(e.mode()),
			ModTime:  modified.UTC().Truncate(time.Second),
			Uid:      0,
			Gid:      0,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(header); err != nil {
			return fmt.Errorf("failed to write tar header of %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip writes a deflate-compressed zip whose entries carry Unix modes, so that krew keeps the
// executable bit when it extracts them.
func writeZip(w io.Writer, entries []entry, modified time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		header := &zip.FileHeader{
			Name:     e.name,
			Method:   zip.Deflate,
			Modified: modified.UTC().Truncate(time.Second),
		}
		header.SetMode(e.mode())
		fw, err := zw.CreateHeader(header)
		if err != nil {
			return fmt.Errorf("failed to write zip header of %s: %w", e.name, err)
		}
		if _, err := fw.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}
