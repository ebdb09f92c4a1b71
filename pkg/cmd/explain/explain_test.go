package explain

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
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
		{"unknown gate", []string{"-n", "mlflow", "-f", exampleDir, "--feature-gates", "Foo=true"}, `unknown feature gate "Foo"`},
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
	hpa := `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
`
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
	if !strings.Contains(out, "Deployment") || !strings.Contains(out, "web") {
		t.Errorf("output does not name the missing scale target:\n%s", out)
	}
}
