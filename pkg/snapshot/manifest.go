package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// StdinSource is the source name that reads the manifests from standard input.
const StdinSource = "-"

// ManifestOptions configure ReadManifests.
type ManifestOptions struct {
	// Namespace is given to objects without metadata.namespace and to external metric values,
	// which have no namespace field. Empty means "default".
	Namespace string
	// Stdin is read for the source "-".
	Stdin io.Reader
}

// document is one decoded object with the place it was read from.
type document struct {
	file string
	// index is the 1-based position of the document in its file.
	index int
	// item is the 0-based position in a List document, or -1 for a document that is not a List.
	item int
	json []byte
	meta objectHeader
}

// objectHeader contains the fields every object is dispatched on.
type objectHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// position returns where a document was read, for errors about malformed input.
func (d *document) position() string {
	if d.item >= 0 {
		return fmt.Sprintf("%s: document %d, items[%d]", d.file, d.index, d.item)
	}
	return fmt.Sprintf("%s: document %d", d.file, d.index)
}

// ReadManifests reads HPAs, their scale targets, pods, metrics, Events, PodDisruptionBudgets,
// ResourceQuotas and Namespaces from sources: files, directories (read recursively, *.yaml, *.yml
// and *.json files in lexical order) or StdinSource. Documents may be multi-document YAML, JSON, or
// List kinds. Objects of other kinds, Secrets included, are skipped without reading their content.
//
// HPAs get the API server's defaults. An error is returned for malformed input and for objects
// that the API server would reject, listing every problem found. A missing scale target is not
// an error: the HPA's ScaleResult carries it.
func ReadManifests(sources []string, options ManifestOptions) (*Snapshot, error) {
	if len(sources) == 0 {
		return nil, errors.New("no manifest source given: pass -f with a file, a directory, or - for stdin")
	}
	if options.Namespace == "" {
		options.Namespace = metav1.NamespaceDefault
	}

	files, err := expandSources(sources)
	if err != nil {
		return nil, err
	}

	reader := newManifestDecoder(options.Namespace)
	reader.snapshot.Source = "manifests " + strings.Join(sources, ", ")
	for _, file := range files {
		if err := reader.readFile(file, options.Stdin); err != nil {
			return nil, err
		}
	}
	return reader.finish()
}

// expandSources returns the files to read, in order. A directory contributes its manifest files
// in lexical order.
func expandSources(sources []string) ([]string, error) {
	var files []string
	stdinSeen := false
	for _, source := range sources {
		if source == StdinSource {
			if stdinSeen {
				return nil, errors.New("stdin (-) is given twice as a manifest source: give it once")
			}
			stdinSeen = true
			files = append(files, source)
			continue
		}

		info, err := os.Stat(source)
		if err != nil {
			return nil, fmt.Errorf("failed to read manifest source: %w", err)
		}
		if !info.IsDir() {
			files = append(files, source)
			continue
		}

		found := 0
		err = filepath.WalkDir(source, func(path string, entry fs.DirEntry, walkErr error) error {
			if walkErr != nil {
				return walkErr
			}
			if entry.IsDir() || !isManifestFile(path) {
				return nil
			}
			files = append(files, path)
			found++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("failed to read directory %s: %w", source, err)
		}
		if found == 0 {
			return nil, fmt.Errorf("directory %s contains no *.yaml, *.yml or *.json file", source)
		}
	}
	return files, nil
}

func isManifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// readFile splits one file into documents and decodes each one.
func (r *manifestDecoder) readFile(file string, stdin io.Reader) error {
	var data []byte
	var err error
	if file == StdinSource {
		if stdin == nil {
			return errors.New("manifest source - (stdin) was given but no standard input is available")
		}
		data, err = io.ReadAll(stdin)
		file = "stdin"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("failed to read manifests: %w", err)
	}

	documents := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	// Each Read consumes at least one line, so the loop ends at the end of the data.
	for index := 1; ; index++ {
		raw, err := documents.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d is malformed: %w", file, index, err)
		}
		if err := r.readDocument(file, index, raw); err != nil {
			return err
		}
	}
}

// readDocument decodes one YAML or JSON document, expanding List kinds.
func (r *manifestDecoder) readDocument(file string, index int, raw []byte) error {
	jsonData, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("%s: document %d is malformed: %w", file, index, err)
	}
	trimmed := bytes.TrimSpace(jsonData)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		// An empty document, for example one that helm rendered from a disabled template.
		return nil
	}

	doc := document{file: file, index: index, item: -1, json: trimmed}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(trimmed, &doc.meta); err != nil {
		return fmt.Errorf("%s: document %d is not a Kubernetes object: %w", file, index, err)
	}
	if doc.meta.Kind == "" || doc.meta.APIVersion == "" {
		return fmt.Errorf("%s: document %d has no apiVersion or kind: every object needs both", file, index)
	}
	if !strings.HasSuffix(doc.meta.Kind, "List") {
		return r.decodeObject(&doc)
	}

	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(trimmed, &list); err != nil {
		return fmt.Errorf("%s: %s in document %d is malformed: %w", file, doc.meta.Kind, index, err)
	}
	// Items of typed lists (PodMetricsList, MetricValueList, ...) may leave out apiVersion and kind,
	// which are then those of the list without the List suffix. Items of a v1 List carry their own.
	itemKind := strings.TrimSuffix(doc.meta.Kind, "List")
	for i, itemData := range list.Items {
		item := document{file: file, index: index, item: i, json: itemData}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(itemData, &item.meta); err != nil {
			return fmt.Errorf("%s is not a Kubernetes object: %w", item.position(), err)
		}
		if item.meta.Kind == "" && itemKind != "" {
			item.meta.Kind = itemKind
			item.meta.APIVersion = doc.meta.APIVersion
		}
		if item.meta.Kind == "" || item.meta.APIVersion == "" {
			return fmt.Errorf("%s has no apiVersion or kind: every item of a v1 List needs both", item.position())
		}
		if err := r.decodeObject(&item); err != nil {
			return err
		}
	}
	return nil
}

// groupKindOf returns the group and kind of a document header.
func groupKindOf(meta objectHeader) schema.GroupKind {
	return schema.GroupKind{Group: groupOf(meta.APIVersion), Kind: meta.Kind}
}

// logSkipped records an object of a kind that no command uses. Only the kind and name are logged,
// so the content of a Secret never reaches the log.
func logSkipped(doc *document, reason string) {
	klog.V(2).InfoS("Skipping manifest object", "position", doc.position(), "apiVersion", doc.meta.APIVersion,
		"kind", doc.meta.Kind, "namespace", doc.meta.Metadata.Namespace, "name", doc.meta.Metadata.Name, "reason", reason)
}
