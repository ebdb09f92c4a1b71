package snapshot

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

func testPod(namespace, name string, podLabels map[string]string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: podLabels},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func testPodMetrics(namespace, name string, podLabels map[string]string) metricsv1beta1.PodMetrics {
	return metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: podLabels},
		Timestamp:  metav1.NewTime(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)),
		Window:     metav1.Duration{Duration: 30 * time.Second},
		Containers: []metricsv1beta1.ContainerMetrics{{
			Name:  "main",
			Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		}},
	}
}

func testPodValue(namespace, podName, metricName string, selector *metav1.LabelSelector) custommetricsv1beta2.MetricValue {
	return custommetricsv1beta2.MetricValue{
		DescribedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: namespace, Name: podName},
		Metric:          custommetricsv1beta2.MetricIdentifier{Name: metricName, Selector: selector},
		Value:           resource.MustParse("10"),
	}
}

func mustSelector(t *testing.T, text string) labels.Selector {
	t.Helper()
	selector, err := labels.Parse(text)
	if err != nil {
		t.Fatalf("labels.Parse(%q): %v", text, err)
	}
	return selector
}

func podMetricsNames(items []metricsv1beta1.PodMetrics) []string {
	names := []string{}
	for _, item := range items {
		names = append(names, item.Namespace+"/"+item.Name)
	}
	sort.Strings(names)
	return names
}

func describedNames(items []custommetricsv1beta2.MetricValue) []string {
	names := []string{}
	for _, item := range items {
		names = append(names, item.DescribedObject.Name)
	}
	sort.Strings(names)
	return names
}

func equalStrings(a, b []string) bool {
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

func TestPodMetricsFiltering(t *testing.T) {
	web := map[string]string{"app": "web"}
	other := map[string]string{"app": "other"}
	snapshot := New("test")
	snapshot.Pods = []corev1.Pod{
		testPod("shop", "web-1", web),
		testPod("shop", "web-2", web),
		testPod("shop", "other-1", other),
		testPod("blog", "web-9", web),
	}
	snapshot.PodMetrics = []metricsv1beta1.PodMetrics{
		testPodMetrics("shop", "web-1", web),
		testPodMetrics("shop", "web-2", nil),   // no labels: take the pod's
		testPodMetrics("shop", "other-1", nil), // no labels, pod does not match
		testPodMetrics("shop", "ghost-1", nil), // no labels and no pod: dropped
		testPodMetrics("shop", "ghost-2", web), // own labels match, pod missing: kept
		testPodMetrics("shop", "web-3", other), // own labels win over a missing pod
		testPodMetrics("blog", "web-9", web),   // other namespace
	}

	got, err := snapshot.MetricsSource("shop").PodMetrics("shop", mustSelector(t, "app=web"))
	if err != nil {
		t.Fatalf("PodMetrics: %v", err)
	}
	want := []string{"shop/ghost-2", "shop/web-1", "shop/web-2"}
	if names := podMetricsNames(got); !equalStrings(names, want) {
		t.Errorf("PodMetrics returned %v, want %v", names, want)
	}

	// Even an empty selector drops a label-less PodMetrics without a pod.
	all, err := snapshot.MetricsSource("shop").PodMetrics("shop", labels.Everything())
	if err != nil {
		t.Fatalf("PodMetrics: %v", err)
	}
	wantAll := []string{"shop/ghost-2", "shop/other-1", "shop/web-1", "shop/web-2", "shop/web-3"}
	if names := podMetricsNames(all); !equalStrings(names, wantAll) {
		t.Errorf("PodMetrics(everything) returned %v, want %v", names, wantAll)
	}
}

func TestPodMetricsReturnsCopies(t *testing.T) {
	snapshot := New("test")
	snapshot.PodMetrics = []metricsv1beta1.PodMetrics{testPodMetrics("shop", "web-1", map[string]string{"app": "web"})}

	got, err := snapshot.MetricsSource("shop").PodMetrics("shop", labels.Everything())
	if err != nil {
		t.Fatalf("PodMetrics: %v", err)
	}
	got[0].Containers[0].Name = "changed"
	if name := snapshot.PodMetrics[0].Containers[0].Name; name != "main" {
		t.Errorf("changing the result changed the snapshot: container name is %q", name)
	}
}

func TestPodMetricsEmptyIsNotError(t *testing.T) {
	got, err := New("test").MetricsSource("shop").PodMetrics("shop", labels.Everything())
	if err != nil {
		t.Fatalf("PodMetrics: %v", err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("PodMetrics returned %#v, want an empty non-nil list", got)
	}
}

func TestMetricsSourceUnavailableAPI(t *testing.T) {
	unserved := errors.New("metrics.k8s.io is not served")
	snapshot := New("test")
	snapshot.Unavailable[ResourceMetricsGroup] = unserved
	snapshot.Unavailable[CustomMetricsGroup] = unserved
	snapshot.Unavailable[ExternalMetricsGroup] = unserved
	source := snapshot.MetricsSource("shop")

	if _, err := source.PodMetrics("shop", labels.Everything()); !errors.Is(err, unserved) {
		t.Errorf("PodMetrics error = %v, want %v", err, unserved)
	}
	if _, err := source.PodCustomMetrics("shop", "rps", labels.Everything(), labels.Everything()); !errors.Is(err, unserved) {
		t.Errorf("PodCustomMetrics error = %v, want %v", err, unserved)
	}
	object := autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "Service", Name: "web"}
	if _, err := source.ObjectMetric("shop", "rps", object, labels.Everything()); !errors.Is(err, unserved) {
		t.Errorf("ObjectMetric error = %v, want %v", err, unserved)
	}
	if _, err := source.ExternalMetrics("shop", "queue", labels.Everything()); !errors.Is(err, unserved) {
		t.Errorf("ExternalMetrics error = %v, want %v", err, unserved)
	}
}

func TestMetricsSourceRequestError(t *testing.T) {
	failed := errors.New("the server is currently unable to handle the request")
	snapshot := New("test")
	snapshot.RequestErrors[MetricRequest{Group: CustomMetricsGroup, Namespace: "shop", MetricName: "rps", ObjectKind: "Pod"}] = failed
	source := snapshot.MetricsSource("shop")

	if _, err := source.PodCustomMetrics("shop", "rps", labels.Everything(), labels.Everything()); !errors.Is(err, failed) {
		t.Errorf("PodCustomMetrics(rps) error = %v, want %v", err, failed)
	}
	if _, err := source.PodCustomMetrics("shop", "latency", labels.Everything(), labels.Everything()); err != nil {
		t.Errorf("PodCustomMetrics(latency) error = %v, want nil: the failure was of another metric", err)
	}
}

func TestPodCustomMetricsFiltering(t *testing.T) {
	web := map[string]string{"app": "web"}
	snapshot := New("test")
	snapshot.Pods = []corev1.Pod{
		testPod("shop", "web-1", web),
		testPod("shop", "other-1", map[string]string{"app": "other"}),
	}
	queue := &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "orders"}}
	snapshot.CustomMetrics = []custommetricsv1beta2.MetricValue{
		testPodValue("shop", "web-1", "rps", nil),
		testPodValue("shop", "other-1", "rps", nil),   // pod exists but does not match
		testPodValue("shop", "ghost-1", "rps", nil),   // pod does not exist: kept
		testPodValue("shop", "web-1", "latency", nil), // other metric
		testPodValue("blog", "web-1", "rps", nil),     // other namespace
		testPodValue("shop", "ghost-2", "rps", queue), // other metric selector
		{ // an object metric of the same name
			DescribedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web"},
			Metric:          custommetricsv1beta2.MetricIdentifier{Name: "rps"},
		},
	}

	got, err := snapshot.MetricsSource("shop").PodCustomMetrics("shop", "rps", mustSelector(t, "app=web"), labels.Everything())
	if err != nil {
		t.Fatalf("PodCustomMetrics: %v", err)
	}
	want := []string{"ghost-1", "web-1"}
	if names := describedNames(got); !equalStrings(names, want) {
		t.Errorf("PodCustomMetrics returned %v, want %v", names, want)
	}
}

func TestPodCustomMetricsMetricSelector(t *testing.T) {
	orders := &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "orders"}}
	invoices := &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "invoices"}}
	snapshot := New("test")
	snapshot.CustomMetrics = []custommetricsv1beta2.MetricValue{
		testPodValue("shop", "a", "depth", orders),
		testPodValue("shop", "b", "depth", invoices),
		testPodValue("shop", "c", "depth", nil),
	}

	got, err := snapshot.MetricsSource("shop").PodCustomMetrics("shop", "depth", labels.Everything(), mustSelector(t, "queue=orders"))
	if err != nil {
		t.Fatalf("PodCustomMetrics: %v", err)
	}
	want := []string{"a", "c"}
	if names := describedNames(got); !equalStrings(names, want) {
		t.Errorf("PodCustomMetrics returned %v, want %v (a value without selector answers any request)", names, want)
	}
}

func TestObjectMetricMatching(t *testing.T) {
	snapshot := New("test")
	snapshot.CustomMetrics = []custommetricsv1beta2.MetricValue{
		{
			DescribedObject: corev1.ObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Namespace: "shop", Name: "web"},
			Metric:          custommetricsv1beta2.MetricIdentifier{Name: "requests-per-second"},
			Value:           resource.MustParse("120"),
		},
		{
			DescribedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: "shop"},
			Metric:          custommetricsv1beta2.MetricIdentifier{Name: "queue-depth"},
			Value:           resource.MustParse("7"),
		},
	}
	source := snapshot.MetricsSource("shop")

	tests := []struct {
		name      string
		object    autoscalingv2.CrossVersionObjectReference
		metric    string
		wantValue string
	}{
		{
			name:      "same group other version",
			object:    autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1beta1", Kind: "Ingress", Name: "web"},
			metric:    "requests-per-second",
			wantValue: "120",
		},
		{
			name:      "namespace is the HPA's own",
			object:    autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "Namespace", Name: "ignored"},
			metric:    "queue-depth",
			wantValue: "7",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := source.ObjectMetric("shop", test.metric, test.object, labels.Everything())
			if err != nil {
				t.Fatalf("ObjectMetric: %v", err)
			}
			if got.Value.String() != test.wantValue {
				t.Errorf("ObjectMetric value = %s, want %s", got.Value.String(), test.wantValue)
			}
		})
	}
}

func TestObjectMetricNotFound(t *testing.T) {
	snapshot := New("test")
	snapshot.CustomMetrics = []custommetricsv1beta2.MetricValue{{
		DescribedObject: corev1.ObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Namespace: "shop", Name: "web"},
		Metric:          custommetricsv1beta2.MetricIdentifier{Name: "requests-per-second"},
	}}
	source := snapshot.MetricsSource("shop")

	tests := []struct {
		name   string
		object autoscalingv2.CrossVersionObjectReference
		metric string
	}{
		{name: "other group", object: autoscalingv2.CrossVersionObjectReference{APIVersion: "extensions/v1beta1", Kind: "Ingress", Name: "web"}, metric: "requests-per-second"},
		{name: "other name", object: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "api"}, metric: "requests-per-second"},
		{name: "other metric", object: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "web"}, metric: "latency"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := source.ObjectMetric("shop", test.metric, test.object, labels.Everything())
			if got != nil {
				t.Errorf("ObjectMetric returned %v, want nil", got)
			}
			if !apierrors.IsNotFound(err) {
				t.Fatalf("ObjectMetric error = %v, want a NotFound error", err)
			}
			if message := err.Error(); !containsAll(message, test.metric, test.object.Kind, test.object.Name) {
				t.Errorf("ObjectMetric error %q does not name the metric %q and the object %s %s", message, test.metric, test.object.Kind, test.object.Name)
			}
		})
	}
}

func TestExternalMetricsFiltering(t *testing.T) {
	requestSelector := "queue=orders"
	value := func(namespace, name string, metricLabels map[string]string, requestSelector *string) ExternalMetricValue {
		return ExternalMetricValue{
			Namespace:       namespace,
			RequestSelector: requestSelector,
			ExternalMetricValue: externalmetricsv1beta1.ExternalMetricValue{
				MetricName:   name,
				MetricLabels: metricLabels,
				Value:        resource.MustParse("1"),
			},
		}
	}
	snapshot := New("test")
	snapshot.ExternalMetrics = []ExternalMetricValue{
		value("shop", "queue_depth", map[string]string{"queue": "orders"}, nil),
		value("shop", "queue_depth", map[string]string{"queue": "invoices"}, nil),
		value("shop", "queue_depth", nil, &requestSelector), // a live response value without labels
		value("shop", "lag", map[string]string{"queue": "orders"}, nil),
		value("blog", "queue_depth", map[string]string{"queue": "orders"}, nil),
	}

	got, err := snapshot.MetricsSource("shop").ExternalMetrics("shop", "queue_depth", mustSelector(t, "queue=orders"))
	if err != nil {
		t.Fatalf("ExternalMetrics: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("ExternalMetrics returned %d values, want 2: %v", len(got), got)
	}
	if got[0].MetricLabels["queue"] != "orders" {
		t.Errorf("first value has labels %v, want queue=orders", got[0].MetricLabels)
	}
	if len(got[1].MetricLabels) != 0 {
		t.Errorf("second value has labels %v, want the unlabelled live answer", got[1].MetricLabels)
	}

	other, err := snapshot.MetricsSource("shop").ExternalMetrics("shop", "queue_depth", mustSelector(t, "queue=invoices"))
	if err != nil {
		t.Fatalf("ExternalMetrics: %v", err)
	}
	if len(other) != 1 {
		t.Errorf("ExternalMetrics(queue=invoices) returned %d values, want 1: a live answer belongs to its own selector", len(other))
	}
}

func containsAll(text string, parts ...string) bool {
	for _, part := range parts {
		if !strings.Contains(text, part) {
			return false
		}
	}
	return true
}
