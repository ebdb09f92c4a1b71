package snapshot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	fakescale "k8s.io/client-go/scale/fake"
	clienttesting "k8s.io/client-go/testing"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"
	customfake "k8s.io/metrics/pkg/client/custom_metrics/fake"
	externalfake "k8s.io/metrics/pkg/client/external_metrics/fake"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

func podsMetricHPA(name string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.PodsMetricSourceType,
				Pods: &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "rps"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(10, resource.DecimalSI)},
				},
			}},
		},
	}
}

type liveFakes struct {
	kube     *kubefake.Clientset
	metrics  *metricsfake.Clientset
	custom   *customfake.FakeCustomMetricsClient
	external *externalfake.FakeExternalMetricsClient
	scales   *fakescale.FakeScaleClient
}

// newLiveFakes returns fake clients serving two HPAs of one Deployment, its pod, and the given
// API groups.
func newLiveFakes(servedGroups ...string) (*liveFakes, LiveClients) {
	fakes := &liveFakes{
		kube: kubefake.NewClientset(
			podsMetricHPA("web-a"),
			podsMetricHPA("web-b"),
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", Labels: map[string]string{"app": "web"}}},
		),
		metrics:  metricsfake.NewSimpleClientset(&metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", Labels: map[string]string{"app": "web"}}}),
		custom:   &customfake.FakeCustomMetricsClient{},
		external: &externalfake.FakeExternalMetricsClient{},
		scales:   &fakescale.FakeScaleClient{},
	}
	fakes.scales.AddReactor("get", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, &autoscalingv1.Scale{
			Spec:   autoscalingv1.ScaleSpec{Replicas: 2},
			Status: autoscalingv1.ScaleStatus{Replicas: 2, Selector: "app=web"},
		}, nil
	})
	fakes.custom.AddReactor("get", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, &custommetricsv1beta2.MetricValueList{Items: []custommetricsv1beta2.MetricValue{{
			DescribedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "shop", Name: "web-1"},
			Metric:          custommetricsv1beta2.MetricIdentifier{Name: "rps"},
			Value:           resource.MustParse("12"),
		}}}, nil
	})

	discovery := fakes.kube.Discovery().(*fakediscovery.FakeDiscovery)
	for _, group := range servedGroups {
		discovery.Resources = append(discovery.Resources, &metav1.APIResourceList{GroupVersion: group + "/v1beta1"})
	}

	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}})
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)

	return fakes, LiveClients{
		Kube:            fakes.kube,
		Metrics:         fakes.metrics,
		CustomMetrics:   fakes.custom,
		ExternalMetrics: fakes.external,
		Scales:          fakes.scales,
		Mapper:          mapper,
		Discovery:       discovery,
	}
}

// countActions returns how many recorded actions have verb and resource.
func countActions(actions []clienttesting.Action, verb, resource string) int {
	count := 0
	for _, action := range actions {
		if action.GetVerb() == verb && action.GetResource().Resource == resource {
			count++
		}
	}
	return count
}

func TestLiveReaderSharesRequests(t *testing.T) {
	fakes, clients := newLiveFakes(ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup)
	snapshot, err := NewLiveReaderForClients(clients).Read(context.Background(), LiveOptions{Namespaces: []string{"shop"}, PodDisruptionBudgets: true, ResourceQuotas: true})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}

	kubeActions := fakes.kube.Actions()
	for _, resource := range []string{"horizontalpodautoscalers", "pods", "events", "poddisruptionbudgets", "resourcequotas"} {
		if got := countActions(kubeActions, "list", resource); got != 1 {
			t.Errorf("%d list requests for %s, want 1", got, resource)
		}
	}
	if got := countActions(fakes.metrics.Actions(), "list", "pods"); got != 1 {
		t.Errorf("%d PodMetrics list requests, want 1", got)
	}
	if got := len(fakes.scales.Actions()); got != 1 {
		t.Errorf("%d scale requests, want 1 for two HPAs of one Deployment", got)
	}
	if got := len(fakes.custom.Actions()); got != 1 {
		t.Errorf("%d custom metrics requests, want 1 for two HPAs with the same Pods metric", got)
	}

	if len(snapshot.HPAs) != 2 {
		t.Errorf("read %d HPAs, want 2", len(snapshot.HPAs))
	}
	scale := snapshot.Scales[types.NamespacedName{Namespace: "shop", Name: "web-b"}]
	if scale.Err != nil || scale.Scale.Selector != "app=web" || scale.Scale.SpecReplicas != 2 {
		t.Errorf("scale of web-b = %+v, want 2 replicas with selector app=web", scale)
	}
	if len(snapshot.Unavailable) != 0 {
		t.Errorf("unavailable = %v, want none", snapshot.Unavailable)
	}
}

func TestLiveReaderCustomMetricsThroughSource(t *testing.T) {
	_, clients := newLiveFakes(ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup)
	snapshot, err := NewLiveReaderForClients(clients).Read(context.Background(), LiveOptions{Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	hpaObj := snapshot.HPA("shop", "web-a")
	input := snapshot.Input(hpaObj, memoryTestNow, hpa.DefaultSettings(), hpa.Memory{})

	values, err := input.Metrics.PodCustomMetrics("shop", "rps", mustSelector(t, input.Scale.Selector), mustSelector(t, ""))
	if err != nil {
		t.Fatalf("PodCustomMetrics: %v", err)
	}
	if len(values) != 1 || values[0].Value.String() != "12" {
		t.Errorf("PodCustomMetrics = %v, want one value of 12", values)
	}
	if _, found := input.OtherHPASelectors["shop/web-b"]; !found {
		t.Errorf("other HPA selectors = %v, want shop/web-b", input.OtherHPASelectors)
	}
	// web-a and web-b select the same pods, so the engine reports AmbiguousSelector naming both,
	// and skips web-a's own entry rather than counting it twice.
	d := hpa.Reconcile(input)
	if !strings.Contains(d.SelectorError, "[shop/web-a shop/web-b]") {
		t.Errorf("selector error = %q, want AmbiguousSelector for [shop/web-a shop/web-b]", d.SelectorError)
	}
}

func TestLiveReaderUnservedMetricsAPI(t *testing.T) {
	fakes, clients := newLiveFakes(CustomMetricsGroup)
	snapshot, err := NewLiveReaderForClients(clients).Read(context.Background(), LiveOptions{Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}

	unserved := snapshot.Unavailable[ResourceMetricsGroup]
	if unserved == nil || !strings.Contains(unserved.Error(), "install metrics-server") {
		t.Errorf("metrics.k8s.io availability error = %v, want one that says to install metrics-server", unserved)
	}
	if got := len(fakes.metrics.Actions()); got != 0 {
		t.Errorf("%d requests to an unserved metrics.k8s.io, want 0", got)
	}
	if _, err := snapshot.MetricsSource("shop").PodMetrics("shop", mustSelector(t, "")); err == nil {
		t.Error("PodMetrics returned no error for an unserved API")
	}
}

func TestLiveReaderForbiddenOptionalResource(t *testing.T) {
	fakes, clients := newLiveFakes(ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup)
	fakes.kube.PrependReactor("list", "poddisruptionbudgets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}, "", errors.New("no RBAC policy matched"))
	})

	snapshot, err := NewLiveReaderForClients(clients).Read(context.Background(), LiveOptions{Namespaces: []string{"shop"}, PodDisruptionBudgets: true, ResourceQuotas: true})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	failure := snapshot.Unavailable[PodDisruptionBudgetsResource]
	if failure == nil {
		t.Fatal("no availability error for forbidden PodDisruptionBudgets")
	}
	if !containsAll(failure.Error(), `"list"`, "poddisruptionbudgets.policy", RBACManifest) {
		t.Errorf("error %q does not name the verb, the resource and %s", failure, RBACManifest)
	}
}

func TestLiveReaderForbiddenHPAs(t *testing.T) {
	fakes, clients := newLiveFakes()
	fakes.kube.PrependReactor("list", "horizontalpodautoscalers", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "", errors.New("denied"))
	})

	_, err := NewLiveReaderForClients(clients).Read(context.Background(), LiveOptions{Namespaces: []string{"shop"}})
	if err == nil {
		t.Fatal("Read returned no error when HPAs cannot be listed")
	}
	if !containsAll(err.Error(), "horizontalpodautoscalers.autoscaling", "namespace shop", RBACManifest) {
		t.Errorf("error %q does not name the resource, the namespace and %s", err, RBACManifest)
	}
}

func TestLiveReaderCancelledContext(t *testing.T) {
	_, clients := newLiveFakes(ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewLiveReaderForClients(clients).Read(ctx, LiveOptions{Namespaces: []string{"shop"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Read error = %v, want context.Canceled", err)
	}
}

func TestRequestCounterCountsRequests(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, _ *http.Request) {
		writer.WriteHeader(http.StatusNoContent)
	}))
	defer server.Close()

	counter := &RequestCounter{}
	config := &rest.Config{Host: server.URL}
	config.Wrap(counter.Wrap)
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		t.Fatalf("HTTPClientFor: %v", err)
	}
	for range 3 {
		response, err := client.Get(server.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		response.Body.Close()
	}
	if got := counter.Count(); got != 3 {
		t.Errorf("counted %d requests, want 3", got)
	}
}

func TestLiveReaderSkipsOptionalKinds(t *testing.T) {
	fakes, clients := newLiveFakes(ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup)
	if _, err := NewLiveReaderForClients(clients).Read(context.Background(), LiveOptions{Namespaces: []string{"shop"}}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, resource := range []string{"poddisruptionbudgets", "resourcequotas"} {
		if got := countActions(fakes.kube.Actions(), "list", resource); got != 0 {
			t.Errorf("%d list requests for %s, want none unless LiveOptions asks", got, resource)
		}
	}
}
