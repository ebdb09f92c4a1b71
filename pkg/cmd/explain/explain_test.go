package explain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

const exampleDir = "../../../examples/mlflow"

func runExplain(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	// The kubeconfig flags live on the root command in production; register them here.
	flags := genericclioptions.NewConfigFlags(false)
	cmd := NewCmdExplainHPA(flags, streams)
	flags.AddFlags(cmd.PersistentFlags())
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func exampleNow(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(exampleDir, "NOW"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestExplainExampleJSON(t *testing.T) {
	out, _, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t), "-o", "json")
	if err != nil {
		t.Fatalf("explain-hpa failed: %v", err)
	}
	var doc struct {
		Kind  string `json:"kind"`
		Items []struct {
			Namespace       string `json:"namespace"`
			Name            string `json:"name"`
			CurrentReplicas int32  `json:"currentReplicas"`
			DesiredReplicas int32  `json:"desiredReplicas"`
			Metrics         []struct {
				Type             string `json:"type"`
				Name             string `json:"name"`
				ProposedReplicas int32  `json:"proposedReplicas"`
			} `json:"metrics"`
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
				Reason string `json:"reason"`
			} `json:"conditions"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}

	if len(doc.Items) != 1 {
		t.Fatalf("items = %d, want 1", len(doc.Items))
	}
	item := doc.Items[0]
	if item.Namespace != "mlflow" || item.Name != "mlflow" {
		t.Errorf("item = %s/%s, want mlflow/mlflow", item.Namespace, item.Name)
	}
	if item.CurrentReplicas != 3 {
		t.Errorf("currentReplicas = %d, want 3", item.CurrentReplicas)
	}
	// A fresh controller memory holds the scale-up in the 30 s scale-up window.
	if item.DesiredReplicas != 3 {
		t.Errorf("desiredReplicas = %d, want 3", item.DesiredReplicas)
	}

	if len(item.Metrics) != 2 {
		t.Fatalf("metrics = %d, want 2", len(item.Metrics))
	}
	// cpu: (560+480+420)/3 = 486m of 500m is 97%; 97/70 = 1.386; ceil(1.386*3) = 5.
	if item.Metrics[0].ProposedReplicas != 5 {
		t.Errorf("cpu proposal = %d, want 5", item.Metrics[0].ProposedReplicas)
	}
	if item.Metrics[0].Type != "Resource" {
		t.Errorf("cpu metric type = %q, want Resource", item.Metrics[0].Type)
	}

	reasons := map[string]string{}
	for _, c := range item.Conditions {
		reasons[c.Type] = c.Reason
	}
	if reasons["AbleToScale"] != "ScaleUpStabilized" {
		t.Errorf("AbleToScale reason = %q, want ScaleUpStabilized", reasons["AbleToScale"])
	}
	if reasons["ScalingActive"] != "ValidMetricFound" {
		t.Errorf("ScalingActive reason = %q, want ValidMetricFound", reasons["ScalingActive"])
	}
}

func TestExplainMemoryFileAllowsScaleUp(t *testing.T) {
	memory := `apiVersion: kubectl-mlflow.io/v1alpha1
kind: ControllerMemory
hpas:
- namespace: mlflow
  name: mlflow
  recommendations:
  - {replicas: 5, timestamp: "2026-12-04T09:59:00Z"}
  - {replicas: 5, timestamp: "2026-12-04T09:59:45Z"}
`
	file := filepath.Join(t.TempDir(), "memory.yaml")
	if err := os.WriteFile(file, []byte(memory), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t), "--memory", file, "-o", "json")
	if err != nil {
		t.Fatalf("explain-hpa failed: %v", err)
	}
	if !strings.Contains(out, `"desiredReplicas": 5`) {
		t.Errorf("with recommendations of 5 in the scale-up window the HPA should scale to 5:\n%s", out)
	}
}

func TestExplainFromStdin(t *testing.T) {
	var manifests bytes.Buffer
	files, err := filepath.Glob(filepath.Join(exampleDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example manifests: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		manifests.WriteString("---\n")
		manifests.Write(data)
		manifests.WriteString("\n")
	}
	out, _, err := runExplain(t, manifests.String(), "-n", "mlflow", "-f", "-", "--now", exampleNow(t))
	if err != nil {
		t.Fatalf("explain-hpa from stdin failed: %v", err)
	}
	if !strings.Contains(out, "mlflow/mlflow") {
		t.Errorf("text output does not name the HPA:\n%s", out)
	}
}

func TestExplainErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown HPA", []string{"nope", "-n", "mlflow", "-f", exampleDir}, `horizontalpodautoscaler "nope" not found`},
		{"empty namespace", []string{"-n", "elsewhere", "-f", exampleDir}, "no HorizontalPodAutoscaler found"},
		{"bad output", []string{"-n", "mlflow", "-f", exampleDir, "-o", "wide"}, `invalid --output "wide"`},
		{"bad now", []string{"-n", "mlflow", "-f", exampleDir, "--now", "yesterday"}, `invalid --now "yesterday"`},
		{"name with all namespaces", []string{"mlflow", "-A", "-f", exampleDir}, "cannot be combined with --all-namespaces"},
		{"gate without value", []string{"-n", "mlflow", "-f", exampleDir, "--feature-gates", "HPAScaleToZero"}, `invalid feature gate "HPAScaleToZero": use Name=true or Name=false`},
		{"gate with bad value", []string{"-n", "mlflow", "-f", exampleDir, "--feature-gates", "Foo=maybe"}, `invalid value "maybe" for feature gate Foo`},
		{"gate with bad name", []string{"-n", "mlflow", "-f", exampleDir, "--feature-gates", "HPA-Scale=true"}, `invalid feature gate name "HPA-Scale"`},
		{"locked gate off", []string{"-n", "mlflow", "-f", exampleDir, "--feature-gates", "HPAConfigurableTolerance=false"}, "locked to true"},
		{"both stdin", []string{"-n", "mlflow", "-f", "-", "--memory", "-"}, `--filename and --memory cannot both read stdin ("-"): write one of them to a file`},
		{"both stdin among files", []string{"-n", "mlflow", "-f", exampleDir, "-f", "-", "--memory", "-"}, "cannot both read stdin"},
		{"missing file", []string{"-n", "mlflow", "-f", "does-not-exist.yaml"}, "does-not-exist.yaml"},
		{"negative tolerance", []string{"-n", "mlflow", "-f", exampleDir, "--tolerance", "-1"}, "invalid --tolerance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runExplain(t, "", c.args...)
			if err == nil {
				t.Fatalf("explain-hpa %v succeeded, want an error containing %q", c.args, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestExplainMalformedManifest(t *testing.T) {
	dir := t.TempDir()
	bad := "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec:\n  maxReplicas: [\n"
	if err := os.WriteFile(filepath.Join(dir, "hpa.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runExplain(t, "", "-n", "shop", "-f", dir)
	if err == nil {
		t.Fatal("a malformed manifest was accepted")
	}
	if !strings.Contains(err.Error(), "hpa.yaml") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestExplainMissingScaleTargetExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	hpa := cpuHPAManifest("shop", "web", "web")
	if err := os.WriteFile(filepath.Join(dir, "hpa.yaml"), []byte(hpa), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runExplain(t, "", "-n", "shop", "-f", dir)
	if err == nil {
		t.Fatal("explain-hpa succeeded although the scale target is missing")
	}
	if !strings.Contains(out, "FailedGetScale") {
		t.Errorf("output does not show FailedGetScale:\n%s", out)
	}
	if !strings.Contains(out, "unknown: the scale could not be read (minReplicas 1, maxReplicas 5)") {
		t.Errorf("output does not say that the replica count is unknown, with the HPA's bounds:\n%s", out)
	}
	if !strings.Contains(out, "Deployment") || !strings.Contains(out, "web") {
		t.Errorf("output does not name the missing scale target:\n%s", out)
	}
}

func TestReadmeTourMatchesOutput(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const command = "$ kubectl mlflow explain-hpa mlflow -n mlflow -f examples/mlflow --now 2026-12-04T10:00:00Z\n"
	start := strings.Index(string(readme), "```\n"+command)
	if start < 0 {
		t.Fatal("README.md has no tour block that starts with the demo command")
	}
	block := string(readme)[start+len("```\n"+command):]
	excerpt := block[:strings.Index(block, "```\n")]

	out, _, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t))
	if err != nil {
		t.Fatalf("explain-hpa failed: %v", err)
	}
	// The README runs from the repository root, so the source reads examples/mlflow there.
	out = strings.ReplaceAll(out, exampleDir, "examples/mlflow")
	// The README shows the output up to the conditions.
	end := strings.Index(out, "  Conditions")
	if end < 0 {
		t.Fatalf("output has no conditions section:\n%s", out)
	}
	if want := strings.TrimRight(out[:end], "\n") + "\n"; excerpt != want {
		t.Errorf("README tour differs from the output; replace it with:\n%s", want)
	}
}

// writeMemoryFile writes a controller memory file for the HPA mlflow/mlflow of the example with
// the given entries and returns its path.
func writeMemoryFile(t *testing.T, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "memory.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\n"+content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestExplainMemoryAfterEvaluationTime(t *testing.T) {
	tests := []struct {
		name     string
		entry    string
		wantText []string
	}{
		{
			name:  "recommendation",
			entry: `  recommendations: [{replicas: 5, timestamp: "2026-12-04T09:59:00Z"}, {replicas: 6, timestamp: "2026-12-04T10:00:01Z"}]`,
			wantText: []string{
				"memory.yaml: HPA mlflow/mlflow: recommendations[1] is timestamped 2026-12-04T10:00:01Z",
				"after the evaluation time 2026-12-04T10:00:00Z (--now)",
				"fix the timestamp or pass --now with a time at or after it",
			},
		},
		{
			name:     "scale-up event",
			entry:    `  scaleUpEvents: [{replicaChange: 1, timestamp: "2026-12-04T11:00:00Z"}]`,
			wantText: []string{"HPA mlflow/mlflow: scaleUpEvents[0] is timestamped 2026-12-04T11:00:00Z"},
		},
		{
			name:     "scale-down event",
			entry:    `  scaleDownEvents: [{replicaChange: 1, timestamp: "2026-12-04T09:00:00Z"}, {replicaChange: 2, timestamp: "2026-12-05T00:00:00Z"}]`,
			wantText: []string{"HPA mlflow/mlflow: scaleDownEvents[1] is timestamped 2026-12-05T00:00:00Z"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			file := writeMemoryFile(t, "hpas:\n- namespace: mlflow\n  name: mlflow\n"+test.entry+"\n")
			_, _, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t), "--memory", file)
			if err == nil {
				t.Fatal("explain-hpa accepted a memory entry after the evaluation time")
			}
			for _, want := range test.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestExplainMemoryAtEvaluationTime(t *testing.T) {
	file := writeMemoryFile(t, "hpas:\n- namespace: mlflow\n  name: mlflow\n  recommendations: [{replicas: 3, timestamp: \"2026-12-04T10:00:00Z\"}]\n")
	_, _, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t), "--memory", file)
	if err != nil {
		t.Errorf("explain-hpa rejected a recommendation stored at the evaluation time: %v", err)
	}
}

func TestExplainMemoryFromStdinNamedStdin(t *testing.T) {
	memory := "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {namespace: mlflow, name: mlflow, scaleUpEvents: [{replicaChange: 0, timestamp: \"2026-12-04T09:00:00Z\"}]}\n"
	_, _, err := runExplain(t, memory, "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t), "--memory", "-")
	if err == nil {
		t.Fatal("explain-hpa accepted a replicaChange of 0")
	}
	if !strings.Contains(err.Error(), "stdin: hpas[0].scaleUpEvents[0].replicaChange is 0") {
		t.Errorf("error does not name stdin and the position: %v", err)
	}
}

func TestExplainMemoryUnmatchedEntryWarns(t *testing.T) {
	file := writeMemoryFile(t, `hpas:
- {namespace: mlflow, name: mlflow, recommendations: [{replicas: 3, timestamp: "2026-12-04T09:59:00Z"}]}
- {namespace: mlflow, name: mlfow, recommendations: [{replicas: 3, timestamp: "2026-12-04T09:59:00Z"}]}
- {namespace: other, name: mlflow}
`)
	_, errOut, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t), "--memory", file)
	if err != nil {
		t.Fatalf("explain-hpa failed: %v", err)
	}
	wantLines := []string{
		"Warning: " + file + " has an entry for HPA mlflow/mlfow, which matches none of the HPAs read (mlflow/mlflow): check its namespace and name",
		"Warning: " + file + " has an entry for HPA other/mlflow, which matches none of the HPAs read (mlflow/mlflow): check its namespace and name",
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(wantLines) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantLines), errOut)
	}
	for i, want := range wantLines {
		if lines[i] != want {
			t.Errorf("stderr line %d = %q, want %q", i, lines[i], want)
		}
	}
}

func TestListNamesBound(t *testing.T) {
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("ns/hpa-%02d", i)
	}
	if got, want := listNames(names[:2]), "ns/hpa-00, ns/hpa-01"; got != want {
		t.Errorf("listNames of 2 = %q, want %q", got, want)
	}
	if got := listNames(names); !strings.HasSuffix(got, "ns/hpa-09 and 2 more") {
		t.Errorf("listNames of 12 = %q, want the first 10 and \"and 2 more\"", got)
	}
}

func TestExplainUnknownFeatureGatesWarn(t *testing.T) {
	_, errOut, err := runExplain(t, "", "mlflow", "-n", "mlflow", "-f", exampleDir, "--now", exampleNow(t),
		"--feature-gates", "TopologyAwareHints=true,HPAScaleToZero=true,AllAlpha=false", "--feature-gates", "InPlacePodVerticalScaling=false")
	if err != nil {
		t.Fatalf("explain-hpa rejected well-formed gates: %v", err)
	}
	wantLines := []string{
		"Warning: feature gate AllAlpha is ignored: set the gates that change HPA decisions (HPAScaleToZero, HPAConfigurableTolerance, PodLevelResources, HPAGeneration) by name",
		"Warning: feature gate InPlacePodVerticalScaling is ignored: it is not one of the gates that change HPA decisions (HPAScaleToZero, HPAConfigurableTolerance, PodLevelResources, HPAGeneration); check the spelling if you meant one of them",
		"Warning: feature gate TopologyAwareHints is ignored: it is not one of the gates that change HPA decisions (HPAScaleToZero, HPAConfigurableTolerance, PodLevelResources, HPAGeneration); check the spelling if you meant one of them",
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(wantLines) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantLines), errOut)
	}
	for i, want := range wantLines {
		if lines[i] != want {
			t.Errorf("stderr line %d = %q, want %q", i, lines[i], want)
		}
	}
}

func TestApplyFeatureGates(t *testing.T) {
	defaults := hpa.DefaultSettings().FeatureGates
	tests := []struct {
		name         string
		values       map[string]bool
		want         hpa.FeatureGates
		wantWarnings int
	}{
		{name: "no gates keeps defaults", values: nil, want: defaults},
		{
			name:   "known gates applied",
			values: map[string]bool{"HPAScaleToZero": false, "PodLevelResources": false, "HPAGeneration": false, "HPAConfigurableTolerance": true},
			want:   hpa.FeatureGates{HPAConfigurableTolerance: true},
		},
		{name: "unknown gate only warns", values: map[string]bool{"SomeOtherGate": false}, want: defaults, wantWarnings: 1},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := defaults
			warnings, err := applyFeatureGates(&got, test.values)
			if err != nil {
				t.Fatalf("applyFeatureGates: %v", err)
			}
			if got != test.want {
				t.Errorf("gates = %+v, want %+v", got, test.want)
			}
			if len(warnings) != test.wantWarnings {
				t.Errorf("warnings = %q, want %d", warnings, test.wantWarnings)
			}
		})
	}
}

// writeExampleWithBrokenHPA copies the example manifests to a temp dir and adds a second HPA in
// the same namespace whose scale target does not exist.
func writeExampleWithBrokenHPA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(exampleDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example manifests: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	broken := cpuHPAManifest("mlflow", "broken", "missing")
	if err := os.WriteFile(filepath.Join(dir, "zz-broken-hpa.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExplainPartialFailureWarns(t *testing.T) {
	dir := writeExampleWithBrokenHPA(t)
	out, errOut, err := runExplain(t, "", "-A", "-f", dir, "--now", exampleNow(t))
	if err != nil {
		t.Fatalf("explain-hpa failed although one HPA could be explained: %v", err)
	}
	want := "Warning: 1 of 2 HPAs could not be explained: mlflow/broken (see their errors above)\n"
	if errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	if !strings.Contains(out, "FailedGetScale") {
		t.Errorf("output does not show the failure of mlflow/broken:\n%s", out)
	}
}

func TestExplainAllSucceededNoWarning(t *testing.T) {
	_, errOut, err := runExplain(t, "", "-A", "-f", exampleDir, "--now", exampleNow(t))
	if err != nil {
		t.Fatalf("explain-hpa failed: %v", err)
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want nothing when every HPA was explained", errOut)
	}
}

func TestExplainHelpDocumentsExitStatus(t *testing.T) {
	out, _, err := runExplain(t, "", "--help")
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Exit status:", "0  a decision was computed for every HPA, or for at least one", "1  no decision could be computed for any HPA"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not contain %q:\n%s", want, out)
		}
	}
}

// cpuHPAManifest is an autoscaling/v2 HPA on 60% CPU for the Deployment target, 1 to 5 replicas.
func cpuHPAManifest(namespace, name, target string) string {
	return fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: %s, namespace: %s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %s}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
`, name, namespace, target)
}
