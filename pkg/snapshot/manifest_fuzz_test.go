package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// FuzzReadManifests feeds arbitrary documents to the offline reader and, when they are accepted,
// to the engine: neither may panic. Run it with
// go test -run '^$' -fuzz FuzzReadManifests ./pkg/snapshot; plain go test runs the seeds only.
func FuzzReadManifests(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "mlflow", "*.yaml"))
	for _, file := range append(seeds, examples...) {
		data, err := os.ReadFile(file)
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec: {maxReplicas: 0, metrics: [{type: Pods}]}\n"))
	f.Add([]byte(`{"kind":"List","items":[{"kind":"PodMetrics","metadata":{"name":"p"},"containers":[{"usage":{"cpu":"-1"}}]}]}`))
	f.Add([]byte("---\n- [\n"))

	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := ReadManifests([]string{StdinSource}, ManifestOptions{Namespace: "mlflow", Stdin: bytes.NewReader(data)})
		if err != nil {
			return
		}
		for i := range snap.HPAs {
			h := &snap.HPAs[i]
			memory, _ := snap.MemoryFor(h, nil, now)
			hpa.Reconcile(snap.Input(h, now, hpa.DefaultSettings(), memory))
		}
	})
}
