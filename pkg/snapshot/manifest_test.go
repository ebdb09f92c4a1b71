package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/types"
)

func readManifestsOrFail(t *testing.T, sources []string, options ManifestOptions) *Snapshot {
	t.Helper()
	snapshot, err := ReadManifests(sources, options)
	if err != nil {
		t.Fatalf("ReadManifests(%v): %v", sources, err)
	}
	return snapshot
}

func TestReadManifestsHelmOutput(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"testdata/helm-output.yaml"}, ManifestOptions{Namespace: "web-ns"})

	if len(snapshot.HPAs) != 1 {
		t.Fatalf("read %d HPAs, want 1", len(snapshot.HPAs))
	}
	hpaObj := snapshot.HPAs[0]
	if hpaObj.Namespace != "web-ns" {
		t.Errorf("HPA namespace = %q, want the -n namespace web-ns", hpaObj.Namespace)
	}
	result := snapshot.Scales[types.NamespacedName{Namespace: "web-ns", Name: "web"}]
	if result.Err != nil {
		t.Fatalf("scale error: %v", result.Err)
	}
	if result.Scale.SpecReplicas != 2 {
		t.Errorf("scale spec replicas = %d, want 2", result.Scale.SpecReplicas)
	}
	if result.Scale.StatusReplicas != 2 {
		t.Errorf("scale status replicas = %d, want 2", result.Scale.StatusReplicas)
	}
	if result.Scale.Selector != "app=web" {
		t.Errorf("scale selector = %q, want app=web", result.Scale.Selector)
	}
}

func TestReadManifestsNeverKeepsSecrets(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"testdata/helm-output.yaml"}, ManifestOptions{})

	var everything bytes.Buffer
	for _, note := range snapshot.Notes {
		everything.WriteString(note)
	}
	if strings.Contains(everything.String(), "c2VjcmV0") || strings.Contains(everything.String(), "web-db") {
		t.Errorf("notes mention the Secret: %q", everything.String())
	}
}

func TestReadManifestsAppliesHPADefaults(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"testdata/helm-output.yaml"}, ManifestOptions{})
	spec := snapshot.HPAs[0].Spec

	if spec.MinReplicas == nil || *spec.MinReplicas != 1 {
		t.Errorf("minReplicas = %v, want 1", spec.MinReplicas)
	}
	if len(spec.Metrics) != 1 {
		t.Fatalf("got %d metrics, want the default cpu metric", len(spec.Metrics))
	}
	metric := spec.Metrics[0]
	if metric.Type != autoscalingv2.ResourceMetricSourceType || metric.Resource == nil || metric.Resource.Name != "cpu" {
		t.Fatalf("default metric = %+v, want Resource cpu", metric)
	}
	if utilization := metric.Resource.Target.AverageUtilization; utilization == nil || *utilization != 80 {
		t.Errorf("default cpu utilization = %v, want 80", utilization)
	}
	if spec.Behavior != nil {
		t.Errorf("behavior = %+v, want nil when the manifest has none", spec.Behavior)
	}
}

func TestReadManifestsDefaultNotes(t *testing.T) {
	const header = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
`
	const cpuMetric = `  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
`
	metricsNote := "stdin: HorizontalPodAutoscaler shop/web: spec.metrics is empty, so the API server's default (cpu at 80% utilization) is used"
	minReplicasNote := "stdin: HorizontalPodAutoscaler shop/web: spec.minReplicas is not set, so the API server's default (1) is used"
	tests := []struct {
		name      string
		manifest  string
		wantNotes []string
		noNotes   []string
	}{
		{name: "both defaults", manifest: header, wantNotes: []string{metricsNote, minReplicasNote}},
		{name: "metrics given", manifest: header + cpuMetric, wantNotes: []string{minReplicasNote}, noNotes: []string{"spec.metrics is empty"}},
		{name: "nothing defaulted", manifest: header + "  minReplicas: 2\n" + cpuMetric, noNotes: []string{"spec.metrics is empty", "spec.minReplicas is not set"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Stdin: strings.NewReader(test.manifest)})
			for _, want := range test.wantNotes {
				if !slices.Contains(snapshot.Notes, want) {
					t.Errorf("notes %q do not contain %q", snapshot.Notes, want)
				}
			}
			for _, unwanted := range test.noNotes {
				if notesContain(snapshot.Notes, unwanted) {
					t.Errorf("notes %q mention %q, want no such default", snapshot.Notes, unwanted)
				}
			}
		})
	}
}

func TestReadManifestsBehaviorDefaults(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"testdata/dir"}, ManifestOptions{})
	behavior := snapshot.HPAs[0].Spec.Behavior
	if behavior == nil || behavior.ScaleUp == nil || behavior.ScaleDown == nil {
		t.Fatalf("behavior = %+v, want both rules defaulted", behavior)
	}

	up := behavior.ScaleUp
	if up.StabilizationWindowSeconds == nil || *up.StabilizationWindowSeconds != 0 {
		t.Errorf("scaleUp window = %v, want 0", up.StabilizationWindowSeconds)
	}
	if up.SelectPolicy == nil || *up.SelectPolicy != autoscalingv2.MaxChangePolicySelect {
		t.Errorf("scaleUp selectPolicy = %v, want Max", up.SelectPolicy)
	}
	wantUp := []autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 4, PeriodSeconds: 15}, {Type: "Percent", Value: 100, PeriodSeconds: 15}}
	if !equalPolicies(up.Policies, wantUp) {
		t.Errorf("scaleUp policies = %v, want %v", up.Policies, wantUp)
	}

	down := behavior.ScaleDown
	if down.StabilizationWindowSeconds == nil || *down.StabilizationWindowSeconds != 120 {
		t.Errorf("scaleDown window = %v, want the manifest's 120", down.StabilizationWindowSeconds)
	}
	if down.SelectPolicy == nil || *down.SelectPolicy != autoscalingv2.MaxChangePolicySelect {
		t.Errorf("scaleDown selectPolicy = %v, want Max", down.SelectPolicy)
	}
	wantDown := []autoscalingv2.HPAScalingPolicy{{Type: "Percent", Value: 100, PeriodSeconds: 15}}
	if !equalPolicies(down.Policies, wantDown) {
		t.Errorf("scaleDown policies = %v, want %v", down.Policies, wantDown)
	}
}

func TestScaleDownWindowStaysNil(t *testing.T) {
	hpaObj := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
	}}
	SetHPADefaults(hpaObj)
	if window := hpaObj.Spec.Behavior.ScaleDown.StabilizationWindowSeconds; window != nil {
		t.Errorf("scaleDown window = %d, want nil: the controller fills it from its flag", *window)
	}
}

func equalPolicies(a, b []autoscalingv2.HPAScalingPolicy) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadManifestsDirectory(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"testdata/dir"}, ManifestOptions{})

	if len(snapshot.HPAs) != 1 {
		t.Fatalf("read %d HPAs, want 1", len(snapshot.HPAs))
	}
	result := snapshot.Scales[types.NamespacedName{Namespace: "shop", Name: "api"}]
	if result.Err != nil {
		t.Fatalf("scale of the StatefulSet in a nested directory: %v", result.Err)
	}
	if result.Scale.SpecReplicas != 1 {
		t.Errorf("scale spec replicas = %d, want 1 for an unset spec.replicas", result.Scale.SpecReplicas)
	}
	if result.Scale.StatusReplicas != 1 {
		t.Errorf("scale status replicas = %d, want 1", result.Scale.StatusReplicas)
	}
}

func TestReadManifestsJSONLists(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"testdata/list.json", "testdata/podmetrics.json"}, ManifestOptions{})

	if len(snapshot.Pods) != 2 {
		t.Errorf("read %d pods from a v1 List, want 2", len(snapshot.Pods))
	}
	if len(snapshot.PodMetrics) != 1 {
		t.Fatalf("read %d PodMetrics from a PodMetricsList, want 1", len(snapshot.PodMetrics))
	}
	usage := snapshot.PodMetrics[0].Containers[0].Usage.Cpu().MilliValue()
	if usage != 150 {
		t.Errorf("PodMetrics cpu usage = %dm, want 150m", usage)
	}
}

func TestReadManifestsStdin(t *testing.T) {
	data, err := os.ReadFile("testdata/helm-output.yaml")
	if err != nil {
		t.Fatal(err)
	}
	snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Stdin: bytes.NewReader(data)})
	if len(snapshot.HPAs) != 1 {
		t.Errorf("read %d HPAs from stdin, want 1", len(snapshot.HPAs))
	}
}

func TestReadManifestsScaleObject(t *testing.T) {
	manifest := `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: rollout, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: web}
  maxReplicas: 4
---
apiVersion: autoscaling/v1
kind: Scale
metadata:
  name: web
  namespace: shop
  annotations:
    kubectl-mlflow.io/scale-target-kind: Rollout
spec: {replicas: 3}
status: {replicas: 3, selector: "app=web"}
`
	snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Stdin: strings.NewReader(manifest)})
	result := snapshot.Scales[types.NamespacedName{Namespace: "shop", Name: "rollout"}]
	if result.Err != nil {
		t.Fatalf("scale: %v", result.Err)
	}
	if result.Scale.SpecReplicas != 3 {
		t.Errorf("spec replicas = %d, want 3", result.Scale.SpecReplicas)
	}
	if result.Scale.Selector != "app=web" {
		t.Errorf("selector = %q, want app=web", result.Scale.Selector)
	}
}

func TestReadManifestsMissingScaleTarget(t *testing.T) {
	manifest := `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: mlflow, namespace: mlflow}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: mlflow}
  maxReplicas: 4
`
	snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Stdin: strings.NewReader(manifest)})
	result := snapshot.Scales[types.NamespacedName{Namespace: "mlflow", Name: "mlflow"}]
	if result.Err == nil {
		t.Fatal("scale error is nil, want an error naming the missing Deployment")
	}
	if !containsAll(result.Err.Error(), "Deployment mlflow/mlflow", "add the Deployment") {
		t.Errorf("scale error %q does not name the target and what to add", result.Err)
	}
}

func TestReadManifestsConvertsV1HPA(t *testing.T) {
	manifest := `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  targetCPUUtilizationPercentage: 65
`
	snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Stdin: strings.NewReader(manifest)})
	metrics := snapshot.HPAs[0].Spec.Metrics
	if len(metrics) != 1 || metrics[0].Resource == nil {
		t.Fatalf("metrics = %+v, want one Resource metric", metrics)
	}
	if utilization := metrics[0].Resource.Target.AverageUtilization; utilization == nil || *utilization != 65 {
		t.Errorf("cpu utilization = %v, want 65", utilization)
	}
}

func TestReadManifestsErrors(t *testing.T) {
	tests := []struct {
		name     string
		sources  []string
		stdin    string
		wantText []string
	}{
		{
			name:     "maxReplicas zero",
			sources:  []string{"testdata/invalid-hpa.yaml"},
			wantText: []string{"testdata/invalid-hpa.yaml: HorizontalPodAutoscaler mlflow/mlflow: spec.maxReplicas is 0: set it to at least 1"},
		},
		{
			name:     "malformed second document",
			sources:  []string{"testdata/malformed.yaml"},
			wantText: []string{"testdata/malformed.yaml: document 2 is malformed"},
		},
		{
			name:     "missing file",
			sources:  []string{"testdata/does-not-exist.yaml"},
			wantText: []string{"does-not-exist.yaml"},
		},
		{
			name:     "no sources",
			sources:  nil,
			wantText: []string{"no manifest source"},
		},
		{
			name:     "stdin twice",
			sources:  []string{"-", "-"},
			wantText: []string{"given twice"},
		},
		{
			name:     "document without kind",
			sources:  []string{"-"},
			stdin:    "metadata: {name: x}\n",
			wantText: []string{"stdin: document 1 has no apiVersion or kind"},
		},
		{
			name:    "behavior out of range",
			sources: []string{"-"},
			stdin: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 3
  maxReplicas: 2
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 4000
      selectPolicy: Fastest
      policies: [{type: Replicas, value: 0, periodSeconds: 1801}]
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 0, averageValue: 100m}}
`,
			wantText: []string{
				"spec.maxReplicas (2) is below spec.minReplicas (3)",
				"spec.behavior.scaleUp.stabilizationWindowSeconds is 4000",
				`spec.behavior.scaleUp.selectPolicy "Fastest" is not supported`,
				`spec.behavior.scaleUp.policies[0].type "Replicas" is not supported`,
				"spec.behavior.scaleUp.policies[0].value is 0",
				"spec.behavior.scaleUp.policies[0].periodSeconds is 1801",
				"spec.metrics[0].resource.target.averageUtilization is 0",
				"spec.metrics[0].resource.target sets both averageUtilization and averageValue",
			},
		},
		{
			name:    "deployment selector does not match template",
			sources: []string{"-"},
			stdin: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: api}}}
`,
			wantText: []string{"stdin: Deployment shop/web: spec.selector \"app=web\" does not match spec.template.metadata.labels"},
		},
		{
			name:    "duplicate pod",
			sources: []string{"-"},
			stdin: `apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop}
`,
			wantText: []string{"stdin: document 2: Pod shop/web-1 is defined again"},
		},
		{
			name:    "minReplicas zero without object metric",
			sources: []string{"-"},
			stdin: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 0
  maxReplicas: 2
`,
			wantText: []string{"spec.minReplicas is 0, which needs at least one Object or External metric"},
		},
		{
			name:    "policy v1beta1 budget",
			sources: []string{"-"},
			stdin: `apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1}
`,
			wantText: []string{"apiVersion policy/v1beta1", "use policy/v1"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			snapshot, err := ReadManifests(test.sources, ManifestOptions{Stdin: strings.NewReader(test.stdin)})
			if err == nil {
				t.Fatalf("ReadManifests returned no error and %d HPAs", len(snapshot.HPAs))
			}
			for _, want := range test.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestReadManifestsUnknownFieldNote(t *testing.T) {
	manifest := `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  minReplica: 2
`
	snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Stdin: strings.NewReader(manifest)})
	found := false
	for _, note := range snapshot.Notes {
		if strings.Contains(note, "minReplica") {
			found = true
		}
	}
	if !found {
		t.Errorf("notes %q do not report the unknown field minReplica", snapshot.Notes)
	}
}

func TestReadManifestsCustomMetricValues(t *testing.T) {
	manifest := `apiVersion: custom.metrics.k8s.io/v1beta2
kind: MetricValueList
items:
- describedObject: {kind: Pod, apiVersion: v1, name: web-1}
  metric: {name: rps}
  timestamp: "2026-12-04T10:00:00Z"
  value: "12"
- describedObject: {kind: Namespace, apiVersion: v1, name: shop}
  metric: {name: queue}
  timestamp: "2026-12-04T10:00:00Z"
  value: "3"
---
apiVersion: external.metrics.k8s.io/v1beta1
kind: ExternalMetricValueList
items:
- metricName: queue_depth
  metricLabels: {queue: orders}
  timestamp: "2026-12-04T10:00:00Z"
  value: "40"
`
	snapshot := readManifestsOrFail(t, []string{"-"}, ManifestOptions{Namespace: "shop", Stdin: strings.NewReader(manifest)})
	if len(snapshot.CustomMetrics) != 2 {
		t.Fatalf("read %d custom metric values, want 2", len(snapshot.CustomMetrics))
	}
	if namespace := snapshot.CustomMetrics[0].DescribedObject.Namespace; namespace != "shop" {
		t.Errorf("pod value namespace = %q, want the -n namespace shop", namespace)
	}
	if namespace := snapshot.CustomMetrics[1].DescribedObject.Namespace; namespace != "" {
		t.Errorf("Namespace value namespace = %q, want empty for a cluster-scoped object", namespace)
	}
	if len(snapshot.ExternalMetrics) != 1 {
		t.Fatalf("read %d external values, want 1", len(snapshot.ExternalMetrics))
	}
	if namespace := snapshot.ExternalMetrics[0].Namespace; namespace != "shop" {
		t.Errorf("external value namespace = %q, want shop", namespace)
	}
}

func TestReadManifestsEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a manifest"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadManifests([]string{dir}, ManifestOptions{})
	if err == nil || !strings.Contains(err.Error(), "contains no *.yaml") {
		t.Errorf("error = %v, want a message about the missing manifest files", err)
	}
}

func TestReadManifestsBadInputNeverPanics(t *testing.T) {
	inputs := []string{
		"",
		"---\n---\n",
		"[]",
		"42",
		"kind: List\napiVersion: v1\nitems: [1, 2]\n",
		"kind: PodMetricsList\napiVersion: metrics.k8s.io/v1beta1\nitems: [{metadata: {name: x}, containers: 7}]\n",
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec: {metrics: [{type: Object}]}\n",
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec: {metrics: [{type: Pods, pods: {metric: {name: x, selector: {matchExpressions: [{key: a, operator: Bad}]}}, target: {type: AverageValue}}}]}\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": 3}}",
		"apiVersion: custom.metrics.k8s.io/v1beta2\nkind: MetricValue\nvalue: 1\n",
	}
	for _, input := range inputs {
		snapshot, err := ReadManifests([]string{"-"}, ManifestOptions{Stdin: strings.NewReader(input)})
		if (snapshot == nil) == (err == nil) {
			t.Errorf("ReadManifests(%q) returned snapshot %v and error %v, want exactly one of them", input, snapshot != nil, err)
		}
	}
}

func TestReadManifestsMLflowExample(t *testing.T) {
	snapshot := readManifestsOrFail(t, []string{"../../examples/mlflow"}, ManifestOptions{Namespace: "mlflow"})

	hpaObj := snapshot.HPA("mlflow", "mlflow")
	if hpaObj == nil {
		t.Fatal("the example has no HPA mlflow/mlflow")
	}
	result := snapshot.Scales[types.NamespacedName{Namespace: "mlflow", Name: "mlflow"}]
	if result.Err != nil {
		t.Fatalf("scale of the example: %v", result.Err)
	}
	if result.Scale.SpecReplicas != 3 {
		t.Errorf("spec replicas = %d, want 3", result.Scale.SpecReplicas)
	}
	if len(snapshot.Pods) != 3 {
		t.Errorf("read %d pods, want 3", len(snapshot.Pods))
	}
	if len(snapshot.PodDisruptionBudgets) != 1 {
		t.Errorf("read %d PodDisruptionBudgets, want 1", len(snapshot.PodDisruptionBudgets))
	}
	if len(snapshot.Notes) != 0 {
		t.Errorf("notes = %q, want none for a clean example", snapshot.Notes)
	}

	selector := mustSelector(t, result.Scale.Selector)
	podMetrics, err := snapshot.MetricsSource("mlflow").PodMetrics("mlflow", selector)
	if err != nil {
		t.Fatalf("PodMetrics: %v", err)
	}
	var cpu int64
	for _, item := range podMetrics {
		cpu += item.Containers[0].Usage.Cpu().MilliValue()
	}
	if len(podMetrics) != 3 || cpu*100/int64(len(podMetrics)) <= 70*500 {
		t.Errorf("%d PodMetrics with %dm cpu in total, want 3 pods averaging above 70%% of 500m", len(podMetrics), cpu)
	}

	rebuilt := RebuildScaleEvents(hpaObj, snapshot.Events, time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	if len(rebuilt.ScaleUp) != 1 || rebuilt.ScaleUp[0].ReplicaChange != 1 {
		t.Errorf("rebuilt scale-up events = %v, want one change of 1 at 09:40", rebuilt.ScaleUp)
	}
}
