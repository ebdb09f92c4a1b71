package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// goldenScenarios are small inputs that cover the verdicts and sections of the text output.
func goldenScenarios() []scenario {
	var scenarios []scenario

	// 3 pods at 84% of a 500m request against 70%: ceil(1.20 × 3) = 4.
	pods, metrics := cpuPods(3, 500, 420)
	scenarios = append(scenarios, scenario{name: "scale-up-cpu", hpa: newHPA("web", 1, 10, cpuUtilization(70)),
		specReplicas: 3, pods: pods, metrics: metrics})

	// 4 pods at 20% against 70% propose 2, but a fresh memory holds the legacy scale-down.
	pods, metrics = cpuPods(4, 500, 100)
	scenarios = append(scenarios, scenario{name: "scale-down-stabilized", hpa: newHPA("web", 1, 10, cpuUtilization(70)),
		specReplicas: 4, pods: pods, metrics: metrics})

	// 72% against 70% is a ratio of 1.03, inside [0.90, 1.10].
	pods, metrics = cpuPods(3, 500, 360)
	scenarios = append(scenarios, scenario{name: "within-tolerance", hpa: newHPA("web", 1, 10, cpuUtilization(70)),
		specReplicas: 3, pods: pods, metrics: metrics})

	// One pod has no cpu request, so the only metric fails.
	pods, metrics = cpuPods(2, 500, 400)
	pods[1] = newPod(podSpec{name: "web-2"})
	scenarios = append(scenarios, scenario{name: "missing-requests", hpa: newHPA("web", 1, 10, cpuUtilization(70)),
		specReplicas: 2, pods: pods, metrics: metrics})

	// 3 ready pods at 90% and 1 Pending pod: counted as 0%, the ratio falls inside the band.
	pods, metrics = cpuPods(3, 500, 450)
	pods = append(pods, newPod(podSpec{name: "web-4", requestMilli: 500, phase: corev1.PodPending}))
	scenarios = append(scenarios, scenario{name: "unready-scale-up", hpa: newHPA("web", 1, 10, cpuUtilization(70)),
		specReplicas: 4, pods: pods, metrics: metrics})

	// An Ingress reports 30 requests per second against a Value target of 10, with 2 ready pods.
	pods, _ = cpuPods(2, 500, 0)
	ingress := podsMetricValue("web", "requests_per_second", 30000)
	ingress.DescribedObject = corev1.ObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "web"}
	objectHPA := newHPA("web", 1, 10, autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "web"},
		Metric:          autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
		Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: resource.NewQuantity(10, resource.DecimalSI)},
	}})
	objectHPA.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	scenarios = append(scenarios, scenario{name: "object-metric", hpa: objectHPA, specReplicas: 2, pods: pods,
		metrics: &fakeMetrics{object: &ingress}, memorySource: MemoryRebuiltFromEvents})

	// A queue holds 95 messages against 10 per replica: ceil(95 / 10) = 10, and the legacy
	// scale-up limit max(2 × 3, 4) = 6 bounds it.
	pods, _ = cpuPods(3, 500, 0)
	scenarios = append(scenarios, scenario{name: "external-metric", hpa: newHPA("worker", 1, 12, autoscalingv2.MetricSpec{
		Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "queue_messages_ready"},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(10, resource.DecimalSI)},
		}}), specReplicas: 3, pods: pods,
		metrics: &fakeMetrics{external: []externalmetricsv1beta1.ExternalMetricValue{externalValue("queue_messages_ready", 95000)}}})

	// cpu proposes 8 from 4; selectPolicy Min picks the lower of Pods 3 and Percent 50% per 60s,
	// and a scale-up of 1 pod 30s ago makes the period start at 3 replicas.
	pods, metrics = cpuPods(4, 500, 700)
	minPolicy := autoscalingv2.MinChangePolicySelect
	rateHPA := newHPA("web", 2, 20, cpuUtilization(70))
	rateHPA.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
		SelectPolicy: &minPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 3, PeriodSeconds: 60},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 50, PeriodSeconds: 60},
		},
	}}
	scenarios = append(scenarios, scenario{name: "behavior-rate-limit", hpa: rateHPA, specReplicas: 4, pods: pods, metrics: metrics,
		memory:       hpa.Memory{ScaleUpEvents: []hpa.ScaleEvent{{ReplicaChange: 1, Timestamp: evaluationTime.Add(-30 * time.Second)}}},
		memorySource: MemoryRebuiltFromEvents,
		notes:        []string{"1 scale-up event was rebuilt from SuccessfulRescale Events"}})

	// 12 replicas are above maxReplicas 10; no metrics are read.
	scenarios = append(scenarios, scenario{name: "out-of-range", hpa: newHPA("web", 1, 10, cpuUtilization(70)), specReplicas: 12,
		unavailable: map[string]error{"metrics.k8s.io": errors.New("the server is currently unable to handle the request")}})
	return scenarios
}

func TestWriteTextGolden(t *testing.T) {
	for _, s := range goldenScenarios() {
		t.Run(s.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteText(&out, []Item{s.item()}, TextOptions{Verbose: s.name == "unready-scale-up"}); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			compareGolden(t, filepath.Join("testdata", s.name+".txt"), out.Bytes())
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (regenerate with go test ./pkg/report -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (regenerate with go test ./pkg/report -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestWriteTextFitsWidth(t *testing.T) {
	for _, s := range goldenScenarios() {
		var out bytes.Buffer
		if err := WriteText(&out, []Item{s.item()}, TextOptions{Verbose: true}); err != nil {
			t.Fatalf("%s: WriteText: %v", s.name, err)
		}
		for i, line := range strings.Split(out.String(), "\n") {
			if n := utf8.RuneCountInString(line); n > DefaultWidth {
				t.Errorf("%s line %d has %d columns, more than %d: %q", s.name, i+1, n, DefaultWidth, line)
			}
		}
	}
}

// TestScenarioVerdicts checks the verdicts directly, so that a golden file regenerated with a
// wrong decision still fails here.
func TestScenarioVerdicts(t *testing.T) {
	want := map[string]string{
		"scale-up-cpu":          "will scale up to 4",
		"scale-down-stabilized": "holds at 4: scale-down held by the 300s stabilization window",
		"within-tolerance":      "no change: within tolerance",
		"missing-requests":      "no change: the metrics could not be computed (FailedGetResourceMetric)",
		"unready-scale-up":      "no change: within tolerance",
		"object-metric":         "will scale up to 6",
		"external-metric":       "will scale up to 6 (the metrics propose 10): limited by the legacy scale-up limit",
		"behavior-rate-limit":   "will scale up to 5 (the metrics propose 8): limited by the scaling policies",
		"out-of-range":          "will scale down to 10: the current count 12 is above maxReplicas 10",
	}
	for _, s := range goldenScenarios() {
		if got := s.item().Verdict; got != want[s.name] {
			t.Errorf("%s: verdict %q, want %q", s.name, got, want[s.name])
		}
	}
}

func TestMissingRequestHint(t *testing.T) {
	var s scenario
	for _, candidate := range goldenScenarios() {
		if candidate.name == "missing-requests" {
			s = candidate
		}
	}
	item := s.item()
	if len(item.Metrics) != 1 || item.Metrics[0].Error == nil {
		t.Fatalf("want one failed metric, got %+v", item.Metrics)
	}
	hint := item.Metrics[0].Error.Hint
	if !strings.Contains(hint, "resources.requests.cpu on container app (pod web-2)") {
		t.Errorf("hint %q does not name the request to set", hint)
	}
}

func TestWriteTextNoItems(t *testing.T) {
	var out bytes.Buffer
	if err := WriteText(&out, nil, TextOptions{}); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	if !strings.Contains(out.String(), "No HorizontalPodAutoscalers") {
		t.Errorf("empty list output %q does not say that nothing was explained", out.String())
	}
}

// failingWriter fails every write, to check that WriteText returns the error.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextReturnsWriteError(t *testing.T) {
	item := goldenScenarios()[0].item()
	err := WriteText(failingWriter{}, []Item{item}, TextOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteText error = %v, want the writer's error", err)
	}
}
