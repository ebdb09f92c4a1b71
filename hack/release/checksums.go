package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// formatChecksums returns "<sha256>  <base name>" lines sorted by name, the format that
// `sha256sum -c` reads.
func formatChecksums(paths []string) ([]byte, error) {
	sums := map[string]string{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(path)
		if _, ok := sums[name]; ok {
			return nil, fmt.Errorf("invalid checksums input: two files are named %q", name)
		}
		sum := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(sum[:])
	}

	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	sort.Strings(names)
	var out bytes.Buffer
	for _, name := range names {
		fmt.Fprintf(&out, "%s  %s\n", sums[name], name)
	}
	return out.Bytes(), nil
}

// parseChecksums reads the output of formatChecksums into a map from file name to sha256.
func parseChecksums(data []byte) (map[string]string, error) {
	checksums := map[string]string{}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"<sha256>  <file>\", got %q", line, text)
		}
		sum, name := fields[0], strings.TrimPrefix(fields[1], "*")
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
			return nil, fmt.Errorf("line %d: invalid sha256 %q", line, sum)
		}
		checksums[name] = strings.ToLower(sum)
	}
	return checksums, scanner.Err()
}
