package report

import (
	"fmt"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

var toleranceCases = []hpa.Tolerances{
	{ScaleDown: 0.1, ScaleUp: 0.1},
	{ScaleDown: 0.05, ScaleUp: 0.25},
	{ScaleDown: 0, ScaleUp: 0},
	{ScaleDown: 0.3, ScaleUp: 0.02},
}

// newCalculator returns an engine calculator over pods and metrics with the default settings.
func newCalculator(pods []*corev1.Pod, metrics hpa.MetricsSource, tolerances hpa.Tolerances) *hpa.Calculator {
	settings := hpa.DefaultSettings()
	return &hpa.Calculator{
		Namespace:               testNamespace,
		Selector:                labels.SelectorFromSet(labels.Set{"app": "web"}),
		Pods:                    pods,
		Metrics:                 metrics,
		Tolerances:              tolerances,
		CPUInitializationPeriod: settings.CPUInitializationPeriod,
		InitialReadinessDelay:   settings.InitialReadinessDelay,
		PodLevelResources:       settings.FeatureGates.PodLevelResources,
		Now:                     evaluationTime,
	}
}

// utilizationProposal runs the engine's ResourceUtilization with ready pods of 1000m request
// each using utilization×10m, so that the measured utilization is exactly utilization percent.
// failed adds that many failed (ignored) pods, which the current count includes.
func utilizationProposal(t *testing.T, target int32, ready, failed int, current int32, tolerances hpa.Tolerances, utilization int64) int32 {
	t.Helper()
	pods, metrics := cpuPods(ready, 1000, utilization*10)
	for i := 0; i < failed; i++ {
		pods = append(pods, newPod(podSpec{name: fmt.Sprintf("failed-%d", i), requestMilli: 1000, failed: true}))
	}
	trace := newCalculator(pods, metrics, tolerances).ResourceUtilization(current, target, corev1.ResourceCPU, "")
	if trace.Err != nil {
		t.Fatalf("engine failed at %d%%: %v", utilization, trace.Err)
	}
	if got := *trace.First.Utilization; int64(got) != utilization {
		t.Fatalf("fixture measured %d%%, want %d%%", got, utilization)
	}
	if len(trace.Groups.Unready)+len(trace.Groups.Missing) > 0 {
		t.Fatalf("fixture left the simple path: %+v", trace.Groups)
	}
	return trace.Proposal
}

func TestUtilizationThresholdsMatchEngine(t *testing.T) {
	type podCounts struct{ ready, failed int }
	for _, target := range []int32{33, 50, 70, 80, 150} {
		for _, counts := range []podCounts{{1, 0}, {3, 0}, {7, 0}, {20, 0}, {3, 1}} {
			for _, tolerances := range toleranceCases {
				current := int32(counts.ready + counts.failed)
				count := int64(counts.ready)
				name := fmt.Sprintf("target%d/ready%d/failed%d/tolerance%v-%v", target, counts.ready, counts.failed, tolerances.ScaleDown, tolerances.ScaleUp)
				t.Run(name, func(t *testing.T) {
					up, found := UtilizationScaleUp(target, count, current, tolerances)
					if !found {
						t.Fatal("no scale-up threshold found")
					}
					if got := utilizationProposal(t, target, counts.ready, counts.failed, current, tolerances, up.Value); got != up.Replicas {
						t.Errorf("engine proposes %d at %d%%, threshold says %d", got, up.Value, up.Replicas)
					}
					if up.Replicas <= current {
						t.Errorf("scale-up threshold %d%% proposes %d, not more than %d", up.Value, up.Replicas, current)
					}
					below := utilizationProposal(t, target, counts.ready, counts.failed, current, tolerances, up.Value-1)
					if below > current {
						t.Errorf("engine already proposes %d at %d%%, below the threshold %d%%", below, up.Value-1, up.Value)
					}
					if counts.failed == 0 && below != current {
						t.Errorf("engine proposes %d at %d%%, want the current %d", below, up.Value-1, current)
					}

					down, found := UtilizationScaleDown(target, count, current, tolerances)
					if !found {
						t.Fatal("no scale-down threshold found")
					}
					if got := utilizationProposal(t, target, counts.ready, counts.failed, current, tolerances, down.Value); got != down.Replicas {
						t.Errorf("engine proposes %d at %d%%, threshold says %d", got, down.Value, down.Replicas)
					}
					if down.Replicas >= current {
						t.Errorf("scale-down threshold %d%% proposes %d, not fewer than %d", down.Value, down.Replicas, current)
					}
					above := utilizationProposal(t, target, counts.ready, counts.failed, current, tolerances, down.Value+1)
					if counts.failed == 0 && above != current {
						t.Errorf("engine proposes %d at %d%%, want the current %d", above, down.Value+1, current)
					}
				})
			}
		}
	}
}

// podsAverageProposal runs the engine's PodsAverageValue with n pods that all report milli.
func podsAverageProposal(t *testing.T, targetMilli int64, n int, tolerances hpa.Tolerances, milli int64) int32 {
	t.Helper()
	pods, _ := cpuPods(n, 1000, 0)
	metrics := &fakeMetrics{}
	for _, pod := range pods {
		metrics.custom = append(metrics.custom, podsMetricValue(pod.Name, "requests_per_second", milli))
	}
	trace := newCalculator(pods, metrics, tolerances).PodsAverageValue(int32(n), targetMilli, "requests_per_second", labels.Everything())
	if trace.Err != nil {
		t.Fatalf("engine failed at %dm: %v", milli, trace.Err)
	}
	return trace.Proposal
}

func TestRatioThresholdsMatchPodsMetric(t *testing.T) {
	for _, targetMilli := range []int64{500, 1234, 10000, 7} {
		for _, n := range []int{1, 4, 13} {
			for _, tolerances := range toleranceCases {
				current := int32(n)
				t.Run(fmt.Sprintf("target%dm/pods%d/tolerance%v-%v", targetMilli, n, tolerances.ScaleDown, tolerances.ScaleUp), func(t *testing.T) {
					up, found := RatioScaleUp(targetMilli, int64(n), current, tolerances)
					if !found {
						t.Fatal("no scale-up threshold found")
					}
					if got := podsAverageProposal(t, targetMilli, n, tolerances, up.Value); got != up.Replicas || got <= current {
						t.Errorf("engine proposes %d at %dm, threshold says %d (current %d)", got, up.Value, up.Replicas, current)
					}
					if got := podsAverageProposal(t, targetMilli, n, tolerances, up.Value-1); got != current {
						t.Errorf("engine proposes %d at %dm, one below the threshold, want %d", got, up.Value-1, current)
					}

					down, found := RatioScaleDown(targetMilli, int64(n), current, tolerances)
					if !found {
						t.Fatal("no scale-down threshold found")
					}
					if got := podsAverageProposal(t, targetMilli, n, tolerances, down.Value); got != down.Replicas || got >= current {
						t.Errorf("engine proposes %d at %dm, threshold says %d (current %d)", got, down.Value, down.Replicas, current)
					}
					if got := podsAverageProposal(t, targetMilli, n, tolerances, down.Value+1); got != current {
						t.Errorf("engine proposes %d at %dm, one above the threshold, want %d", got, down.Value+1, current)
					}
				})
			}
		}
	}
}

// objectAverageProposal runs the engine's ObjectAverageValue with the object reporting milli.
func objectAverageProposal(t *testing.T, targetMilli int64, statusReplicas int32, tolerances hpa.Tolerances, milli int64) int32 {
	t.Helper()
	value := podsMetricValue("ingress", "requests", milli)
	metrics := &fakeMetrics{object: &value}
	object := autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "web"}
	trace := newCalculator(nil, metrics, tolerances).ObjectAverageValue(statusReplicas, targetMilli, "requests", object, labels.Everything())
	if trace.Err != nil {
		t.Fatalf("engine failed at %dm: %v", milli, trace.Err)
	}
	return trace.Proposal
}

func TestUsageOverTargetThresholdsMatchEngine(t *testing.T) {
	for _, targetMilli := range []int64{100, 2500, 30000} {
		for _, status := range []int32{1, 3, 10} {
			for _, tolerances := range toleranceCases {
				t.Run(fmt.Sprintf("target%dm/status%d/tolerance%v-%v", targetMilli, status, tolerances.ScaleDown, tolerances.ScaleUp), func(t *testing.T) {
					up, found := UsageOverTargetScaleUp(targetMilli, status, tolerances)
					if !found {
						t.Fatal("no scale-up threshold found")
					}
					if got := objectAverageProposal(t, targetMilli, status, tolerances, up.Value); got != up.Replicas || got <= status {
						t.Errorf("engine proposes %d at %dm, threshold says %d (status %d)", got, up.Value, up.Replicas, status)
					}
					if got := objectAverageProposal(t, targetMilli, status, tolerances, up.Value-1); got > status {
						t.Errorf("engine proposes %d at %dm, one below the threshold", got, up.Value-1)
					}

					down, found := UsageOverTargetScaleDown(targetMilli, status, tolerances)
					if !found {
						t.Fatal("no scale-down threshold found")
					}
					if got := objectAverageProposal(t, targetMilli, status, tolerances, down.Value); got != down.Replicas || got >= status {
						t.Errorf("engine proposes %d at %dm, threshold says %d (status %d)", got, down.Value, down.Replicas, status)
					}
					if got := objectAverageProposal(t, targetMilli, status, tolerances, down.Value+1); got < status {
						t.Errorf("engine proposes %d at %dm, one above the threshold", got, down.Value+1)
					}
				})
			}
		}
	}
}

// externalValueProposal runs the engine's ExternalValue with ready Running pods.
func externalValueProposal(t *testing.T, targetMilli int64, ready int, tolerances hpa.Tolerances, milli int64) int32 {
	t.Helper()
	pods, _ := cpuPods(ready, 1000, 0)
	metrics := &fakeMetrics{external: nil}
	metrics.external = append(metrics.external, externalValue("queue_depth", milli))
	trace := newCalculator(pods, metrics, tolerances).ExternalValue(int32(ready), targetMilli, "queue_depth", &metav1.LabelSelector{})
	if trace.Err != nil {
		t.Fatalf("engine failed at %dm: %v", milli, trace.Err)
	}
	return trace.Proposal
}

func TestRatioThresholdsMatchExternalValue(t *testing.T) {
	target := resource.MustParse("40")
	targetMilli := target.MilliValue()
	for _, ready := range []int{1, 2, 6} {
		tolerances := hpa.Tolerances{ScaleDown: 0.1, ScaleUp: 0.1}
		current := int32(ready)
		up, found := RatioScaleUp(targetMilli, int64(ready), current, tolerances)
		if !found {
			t.Fatalf("ready %d: no scale-up threshold found", ready)
		}
		if got := externalValueProposal(t, targetMilli, ready, tolerances, up.Value); got != up.Replicas {
			t.Errorf("ready %d: engine proposes %d at %dm, threshold says %d", ready, got, up.Value, up.Replicas)
		}
		if got := externalValueProposal(t, targetMilli, ready, tolerances, up.Value-1); got != current {
			t.Errorf("ready %d: engine proposes %d at %dm, want %d", ready, got, up.Value-1, current)
		}
		down, found := RatioScaleDown(targetMilli, int64(ready), current, tolerances)
		if !found {
			t.Fatalf("ready %d: no scale-down threshold found", ready)
		}
		if got := externalValueProposal(t, targetMilli, ready, tolerances, down.Value); got != down.Replicas {
			t.Errorf("ready %d: engine proposes %d at %dm, threshold says %d", ready, got, down.Value, down.Replicas)
		}
		if got := externalValueProposal(t, targetMilli, ready, tolerances, down.Value+1); got != current {
			t.Errorf("ready %d: engine proposes %d at %dm, want %d", ready, got, down.Value+1, current)
		}
	}
}

func TestThresholdsAbsentWhenUnreachable(t *testing.T) {
	noScaleDown := hpa.Tolerances{ScaleDown: 1, ScaleUp: 0.1}
	if threshold, found := UtilizationScaleDown(70, 3, 3, noScaleDown); found {
		t.Errorf("scale-down tolerance 1: got threshold %+v, want none", threshold)
	}
	if threshold, found := RatioScaleDown(500, 3, 3, noScaleDown); found {
		t.Errorf("scale-down tolerance 1: got threshold %+v, want none", threshold)
	}
	defaults := hpa.Tolerances{ScaleDown: 0.1, ScaleUp: 0.1}
	if threshold, found := UtilizationScaleUp(70, 0, 3, defaults); found {
		t.Errorf("no ready pods: got threshold %+v, want none", threshold)
	}
	if threshold, found := RatioScaleUp(0, 3, 3, defaults); found {
		t.Errorf("target 0: got threshold %+v, want none", threshold)
	}
	if threshold, found := UsageOverTargetScaleUp(100, 0, defaults); found {
		t.Errorf("status replicas 0: got threshold %+v, want none", threshold)
	}
}

func TestUtilizationScaleUpKnownValue(t *testing.T) {
	// 3 ready pods at target 70%: 78% gives ratio 1.114 (above 1.1) and ceil(3.34) = 4.
	threshold, found := UtilizationScaleUp(70, 3, 3, hpa.Tolerances{ScaleDown: 0.1, ScaleUp: 0.1})
	if !found {
		t.Fatal("no threshold found")
	}
	if threshold.Value != 78 {
		t.Errorf("threshold = %d%%, want 78%%", threshold.Value)
	}
	if threshold.Replicas != 4 {
		t.Errorf("replicas at threshold = %d, want 4", threshold.Replicas)
	}
}
