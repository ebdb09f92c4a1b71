package report

import (
	"errors"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// evaluationTime is the fixed "now" of every test decision.
var evaluationTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const testNamespace = "shop"

// fakeMetrics is an hpa.MetricsSource that returns fixed values and ignores selectors, because
// every test pod matches the scale selector.
type fakeMetrics struct {
	pods        []metricsv1beta1.PodMetrics
	podsErr     error
	custom      []custommetricsv1beta2.MetricValue
	object      *custommetricsv1beta2.MetricValue
	external    []externalmetricsv1beta1.ExternalMetricValue
	externalErr error
}

func (f *fakeMetrics) PodMetrics(string, labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	return f.pods, f.podsErr
}

func (f *fakeMetrics) PodCustomMetrics(string, string, labels.Selector, labels.Selector) ([]custommetricsv1beta2.MetricValue, error) {
	return f.custom, nil
}

func (f *fakeMetrics) ObjectMetric(string, string, autoscalingv2.CrossVersionObjectReference, labels.Selector) (*custommetricsv1beta2.MetricValue, error) {
	if f.object == nil {
		return nil, errors.New("the server could not find the metric")
	}
	return f.object, nil
}

func (f *fakeMetrics) ExternalMetrics(string, string, labels.Selector) ([]externalmetricsv1beta1.ExternalMetricValue, error) {
	return f.external, f.externalErr
}

// podSpec describes one test pod. Zero values give a Running, Ready pod started an hour ago
// with one container "app".
type podSpec struct {
	name string
	// requestMilli is the cpu request of container "app". Zero leaves the request unset.
	requestMilli int64
	phase        corev1.PodPhase
	failed       bool
}

func newPod(spec podSpec) *corev1.Pod {
	started := metav1.NewTime(evaluationTime.Add(-time.Hour))
	phase := spec.phase
	if phase == "" {
		phase = corev1.PodRunning
	}
	if spec.failed {
		phase = corev1.PodFailed
	}
	container := corev1.Container{Name: "app"}
	if spec.requestMilli > 0 {
		container.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(spec.requestMilli, resource.DecimalSI)}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: spec.name, Namespace: testNamespace, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{container}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if phase == corev1.PodRunning {
		pod.Status.StartTime = &started
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}}
	}
	return pod
}

// cpuSample is a PodMetrics item with one container using usageMilli of cpu, sampled now.
func cpuSample(pod string, usageMilli int64) metricsv1beta1.PodMetrics {
	return metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: testNamespace},
		Timestamp:  metav1.NewTime(evaluationTime),
		Window:     metav1.Duration{Duration: 30 * time.Second},
		Containers: []metricsv1beta1.ContainerMetrics{{
			Name:  "app",
			Usage: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(usageMilli, resource.DecimalSI)},
		}},
	}
}

// podsMetricValue is a custom metrics value of one pod.
func podsMetricValue(pod, metric string, milli int64) custommetricsv1beta2.MetricValue {
	return custommetricsv1beta2.MetricValue{
		DescribedObject: corev1.ObjectReference{Kind: "Pod", Name: pod, Namespace: testNamespace},
		Metric:          custommetricsv1beta2.MetricIdentifier{Name: metric},
		Timestamp:       metav1.NewTime(evaluationTime),
		Value:           *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}
}

func externalValue(metric string, milli int64) externalmetricsv1beta1.ExternalMetricValue {
	return externalmetricsv1beta1.ExternalMetricValue{
		MetricName: metric,
		Timestamp:  metav1.NewTime(evaluationTime),
		Value:      *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}
}

func newHPA(name string, minReplicas, maxReplicas int32, metrics ...autoscalingv2.MetricSpec) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr(minReplicas),
			MaxReplicas:    maxReplicas,
			Metrics:        metrics,
		},
	}
}

func cpuUtilization(target int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name:   corev1.ResourceCPU,
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(target)},
	}}
}

// scenario is one reconcile input with the context that Build needs.
type scenario struct {
	name         string
	hpa          *autoscalingv2.HorizontalPodAutoscaler
	specReplicas int32
	// statusReplicas defaults to specReplicas.
	statusReplicas int32
	pods           []*corev1.Pod
	metrics        *fakeMetrics
	memory         hpa.Memory
	memorySource   MemorySource
	notes          []string
	unavailable    map[string]error
}

func (s scenario) input() hpa.Input {
	status := s.statusReplicas
	if status == 0 {
		status = s.specReplicas
	}
	metrics := s.metrics
	if metrics == nil {
		metrics = &fakeMetrics{}
	}
	return hpa.Input{
		HPA:      s.hpa,
		Scale:    hpa.Scale{SpecReplicas: s.specReplicas, StatusReplicas: status, Selector: "app=web"},
		Pods:     s.pods,
		Metrics:  metrics,
		Memory:   s.memory,
		Now:      evaluationTime,
		Settings: hpa.DefaultSettings(),
	}
}

func (s scenario) context() Context {
	source := s.memorySource
	if source == "" {
		source = MemoryAssumedFresh
	}
	return Context{
		ScaleTargetRef: s.hpa.Spec.ScaleTargetRef,
		Behavior:       s.hpa.Spec.Behavior,
		EvaluatedAt:    evaluationTime,
		Source:         "test fixtures",
		Settings:       hpa.DefaultSettings(),
		MemorySource:   source,
		Memory:         s.memory,
		Notes:          s.notes,
		Unavailable:    s.unavailable,
	}
}

// item runs the engine on the scenario and builds its report item.
func (s scenario) item() Item {
	return Build(hpa.Reconcile(s.input()), s.context())
}

// cpuPods returns n Running, Ready pods named web-1 … web-n with the given cpu request, and a
// metrics source in which each uses usageMilli.
func cpuPods(n int, requestMilli, usageMilli int64) ([]*corev1.Pod, *fakeMetrics) {
	metrics := &fakeMetrics{}
	var pods []*corev1.Pod
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("web-%d", i)
		pods = append(pods, newPod(podSpec{name: name, requestMilli: requestMilli}))
		metrics.pods = append(metrics.pods, cpuSample(name, usageMilli))
	}
	return pods, metrics
}
