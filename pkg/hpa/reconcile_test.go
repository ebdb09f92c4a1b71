package hpa

import (
	"errors"
	"fmt"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// staticMetrics is a MetricsSource over fixed PodMetrics, for unit tests of one reconcile.
type staticMetrics struct {
	pods []metricsv1beta1.PodMetrics
}

func (s staticMetrics) PodMetrics(string, labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	return s.pods, nil
}

func (s staticMetrics) PodCustomMetrics(string, string, labels.Selector, labels.Selector) ([]custommetricsv1beta2.MetricValue, error) {
	return nil, errors.New("custom metrics are not served in this test")
}

func (s staticMetrics) ObjectMetric(string, string, autoscalingv2.CrossVersionObjectReference, labels.Selector) (*custommetricsv1beta2.MetricValue, error) {
	return nil, errors.New("custom metrics are not served in this test")
}

func (s staticMetrics) ExternalMetrics(string, string, labels.Selector) ([]externalmetricsv1beta1.ExternalMetricValue, error) {
	return nil, errors.New("external metrics are not served in this test")
}

// mlflowInput builds an MLflow-like HPA (cpu 70%, memory 80%, behavior as the chart's docs show)
// over n ready pods that each use cpuMilli and memBytes against requests of 500m and 1Gi.
func mlflowInput(n int, cpuMilli int64, memBytes int64) Input {
	window30, window300 := int32(30), int32(300)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "mlflow", Namespace: "mlflow"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "mlflow"},
			MinReplicas:    ptr(int32(2)),
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(70))}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(80))}}},
			},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window30,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 60}}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window300,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 10, PeriodSeconds: 60}}},
			},
		},
	}
	started := metav1.NewTime(testNow.Add(-time.Hour))
	var pods []*corev1.Pod
	var samples []metricsv1beta1.PodMetrics
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("mlflow-%d", i)
		pods = append(pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "mlflow", Labels: map[string]string{"app": "mlflow"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mlflow", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &started,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}}},
		})
		samples = append(samples, metricsv1beta1.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "mlflow"},
			Timestamp:  metav1.NewTime(testNow.Add(-10 * time.Second)),
			Window:     metav1.Duration{Duration: 30 * time.Second},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "mlflow", Usage: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(memBytes, resource.BinarySI)}}},
		})
	}
	return Input{
		HPA:      h,
		Scale:    Scale{SpecReplicas: int32(n), StatusReplicas: int32(n), Selector: "app=mlflow"},
		Pods:     pods,
		Metrics:  staticMetrics{pods: samples},
		Now:      testNow,
		Settings: DefaultSettings(),
	}
}

func TestReconcileMLflowScaleUpBoundByPolicy(t *testing.T) {
	// 3 pods at 560m of 500m: 112% of request against 70% is a ratio of 1.6, so ceil(1.6*3) = 5.
	in := mlflowInput(3, 560, 512<<20)
	// A memory of recommendations at 3 older than the 30 s scale-up window lets the scale-up through.
	in.Memory.Recommendations = []Recommendation{{Replicas: 3, Timestamp: testNow.Add(-time.Minute)}}
	d := Reconcile(in)

	if d.Metrics[0].Proposal != 5 {
		t.Errorf("cpu proposal = %d, want 5", d.Metrics[0].Proposal)
	}
	if d.DesiredReplicas != 5 {
		t.Errorf("desiredReplicas = %d, want 5", d.DesiredReplicas)
	}
	if d.RateLimit == nil || d.RateLimit.Limit != 6 {
		t.Errorf("scale-up limit = %+v, want 6 (100%% of 3 per 60 s)", d.RateLimit)
	}
	active := FindCondition(d.Status.Conditions, autoscalingv2.ScalingActive)
	if active == nil || active.Reason != "ValidMetricFound" {
		t.Errorf("ScalingActive = %+v, want ValidMetricFound", active)
	}
}

func TestReconcileFreshMemoryHoldsScaleUp(t *testing.T) {
	// With a fresh controller memory [3 @ now], the 30 s scale-up window keeps the lowest
	// recommendation, so the first decision stays at 3.
	d := Reconcile(mlflowInput(3, 560, 512<<20))
	if d.DesiredReplicas != 3 {
		t.Errorf("desiredReplicas = %d, want 3", d.DesiredReplicas)
	}
	if d.Stabilized == nil || d.Stabilized.Reason != ReasonScaleUpStabilized {
		t.Errorf("stabilization = %+v, want ScaleUpStabilized", d.Stabilized)
	}
}

func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{3, 50, 500} {
		in := mlflowInput(n, 420, 600<<20)
		// Keep the current count inside [min, max] so that every metric is computed.
		in.HPA.Spec.MaxReplicas = int32(2 * n)
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				d := Reconcile(in)
				if d.Error != "" || d.Branch != BranchMetrics {
					b.Fatalf("branch %s, error %q", d.Branch, d.Error)
				}
			}
		})
	}
}

func TestReconcileFailedGetScaleKeepsBounds(t *testing.T) {
	in := mlflowInput(3, 560, 512<<20)
	in.ScaleError = errors.New(`deployments.apps "mlflow" not found`)
	d := Reconcile(in)
	if d.Branch != BranchFailedGetScale {
		t.Fatalf("branch = %s, want FailedGetScale", d.Branch)
	}
	if d.MinReplicas != 2 {
		t.Errorf("minReplicas = %d, want the HPA's 2", d.MinReplicas)
	}
	if d.MaxReplicas != 10 {
		t.Errorf("maxReplicas = %d, want the HPA's 10", d.MaxReplicas)
	}
	able := FindCondition(d.Status.Conditions, autoscalingv2.AbleToScale)
	if able == nil || able.Reason != "FailedGetScale" {
		t.Errorf("AbleToScale = %+v, want FailedGetScale", able)
	}
}
