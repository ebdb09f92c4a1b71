package snapshot

import (
	"fmt"
	"net/http"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// MetricsSource returns the engine's metrics source for namespace. It filters the snapshot's
// metrics as the metrics APIs filter them for the controller's requests.
func (s *Snapshot) MetricsSource(namespace string) hpa.MetricsSource {
	return &metricsSource{snapshot: s, namespace: namespace}
}

type metricsSource struct {
	snapshot  *Snapshot
	namespace string
}

var _ hpa.MetricsSource = (*metricsSource)(nil)

// requestError returns the error that a request would have returned: the API group's availability
// error, else the request's own error.
func (m *metricsSource) requestError(request MetricRequest) error {
	if err := m.snapshot.Unavailable[request.Group]; err != nil {
		return err
	}
	return m.snapshot.RequestErrors[request]
}

// PodMetrics returns the PodMetrics of namespace whose labels match selector. metrics-server copies
// the pod's labels into its PodMetrics, and the API selects on them. A PodMetrics without labels
// (as hand-written files often are) takes the labels of the pod of the same name, and is dropped
// when there is no such pod.
func (m *metricsSource) PodMetrics(namespace string, selector labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	if err := m.requestError(MetricRequest{Group: ResourceMetricsGroup, Namespace: namespace}); err != nil {
		return nil, err
	}

	pods := m.podsByName(namespace)
	result := []metricsv1beta1.PodMetrics{}
	for i := range m.snapshot.PodMetrics {
		podMetrics := &m.snapshot.PodMetrics[i]
		if podMetrics.Namespace != namespace {
			continue
		}
		podLabels := podMetrics.Labels
		if len(podLabels) == 0 {
			pod, found := pods[podMetrics.Name]
			if !found {
				continue
			}
			podLabels = pod.Labels
		}
		if selector.Matches(labels.Set(podLabels)) {
			result = append(result, *podMetrics.DeepCopy())
		}
	}
	return result, nil
}

// PodCustomMetrics returns the values of metricName that describe pods of namespace matching
// selector. A value whose pod exists is kept when the pod's labels match. A value naming a pod that
// does not exist is kept, as adapters return series of pods that are already gone.
func (m *metricsSource) PodCustomMetrics(namespace, metricName string, selector, metricSelector labels.Selector) ([]custommetricsv1beta2.MetricValue, error) {
	request := MetricRequest{
		Group:          CustomMetricsGroup,
		Namespace:      namespace,
		MetricName:     metricName,
		MetricSelector: selectorString(metricSelector),
		ObjectKind:     "Pod",
	}
	if err := m.requestError(request); err != nil {
		return nil, err
	}

	pods := m.podsByName(namespace)
	result := []custommetricsv1beta2.MetricValue{}
	for i := range m.snapshot.CustomMetrics {
		value := &m.snapshot.CustomMetrics[i]
		if !isPodReference(value.DescribedObject) || value.DescribedObject.Namespace != namespace {
			continue
		}
		if value.Metric.Name != metricName || !metricSelectorMatches(value.Metric.Selector, metricSelector) {
			continue
		}
		if pod, found := pods[value.DescribedObject.Name]; found && !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		result = append(result, *value.DeepCopy())
	}
	return result, nil
}

// ObjectMetric returns the value of metricName that describes object. It matches kind, the API
// group of apiVersion (the version is ignored, as the API does) and name. Kind Namespace of the
// core group is the namespace itself, whatever object.name contains, as in the controller.
func (m *metricsSource) ObjectMetric(namespace, metricName string, object autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (*custommetricsv1beta2.MetricValue, error) {
	group := groupOf(object.APIVersion)
	isNamespace := object.Kind == "Namespace" && group == ""
	name := object.Name
	if isNamespace {
		name = namespace
	}
	request := MetricRequest{
		Group:          CustomMetricsGroup,
		Namespace:      namespace,
		MetricName:     metricName,
		MetricSelector: selectorString(metricSelector),
		ObjectKind:     object.Kind,
		ObjectGroup:    group,
		ObjectName:     name,
	}
	if err := m.requestError(request); err != nil {
		return nil, err
	}

	for i := range m.snapshot.CustomMetrics {
		value := &m.snapshot.CustomMetrics[i]
		described := value.DescribedObject
		if described.Kind != object.Kind || groupOf(described.APIVersion) != group || described.Name != name {
			continue
		}
		if !isNamespace && described.Namespace != namespace {
			continue
		}
		if value.Metric.Name != metricName || !metricSelectorMatches(value.Metric.Selector, metricSelector) {
			continue
		}
		return value.DeepCopy(), nil
	}
	return nil, metricNotFound(metricName, object.Kind, group, namespace, name, isNamespace)
}

// ExternalMetrics returns the values of metricName read for namespace whose metricLabels match
// selector. Values that a live request returned are matched by that request's selector instead.
func (m *metricsSource) ExternalMetrics(namespace, metricName string, selector labels.Selector) ([]externalmetricsv1beta1.ExternalMetricValue, error) {
	request := MetricRequest{
		Group:          ExternalMetricsGroup,
		Namespace:      namespace,
		MetricName:     metricName,
		MetricSelector: selectorString(selector),
	}
	if err := m.requestError(request); err != nil {
		return nil, err
	}

	result := []externalmetricsv1beta1.ExternalMetricValue{}
	for i := range m.snapshot.ExternalMetrics {
		value := &m.snapshot.ExternalMetrics[i]
		if value.Namespace != namespace || value.MetricName != metricName {
			continue
		}
		if value.RequestSelector != nil {
			if *value.RequestSelector != request.MetricSelector {
				continue
			}
		} else if !selector.Matches(labels.Set(value.MetricLabels)) {
			continue
		}
		result = append(result, *value.ExternalMetricValue.DeepCopy())
	}
	return result, nil
}

func (m *metricsSource) podsByName(namespace string) map[string]*corev1.Pod {
	return m.snapshot.namespaceIndex().podsByName[namespace]
}

// metricSelectorMatches reports whether a stored value matches a request whose metric selector is
// requested. A value with no selector matches any request, because files saved from the API or
// written by hand often leave it out.
func metricSelectorMatches(stored *metav1.LabelSelector, requested labels.Selector) bool {
	if stored == nil {
		return true
	}
	storedSelector, err := metav1.LabelSelectorAsSelector(stored)
	if err != nil {
		return false
	}
	return storedSelector.String() == selectorString(requested)
}

func isPodReference(ref corev1.ObjectReference) bool {
	return ref.Kind == "Pod" && groupOf(ref.APIVersion) == ""
}

// selectorString returns the string form of selector, treating nil as "everything".
func selectorString(selector labels.Selector) string {
	if selector == nil {
		return ""
	}
	return selector.String()
}

// groupOf returns the API group of apiVersion ("apps/v1" gives "apps", "v1" gives "").
func groupOf(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}

// metricNotFound returns the NotFound error that a custom metrics adapter returns for an object
// without that metric.
func metricNotFound(metricName, kind, group, namespace, name string, isNamespace bool) error {
	groupKind := schema.GroupKind{Group: group, Kind: kind}.String()
	object := fmt.Sprintf("%s %s/%s", groupKind, namespace, name)
	if isNamespace {
		object = fmt.Sprintf("%s %s", groupKind, name)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: fmt.Sprintf("the server could not find the metric %s for %s", metricName, object),
	}}
}
