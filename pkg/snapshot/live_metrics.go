package snapshot

import (
	"context"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
)

// readCustomAndExternalMetrics requests each distinct custom and external metric of the HPAs once.
// Pod metrics are requested for all pods (labels.Everything) so that HPAs with different selectors
// share one request, and the snapshot's MetricsSource filters by selector afterwards.
func (r *LiveReader) readCustomAndExternalMetrics(ctx context.Context, snapshot *Snapshot) error {
	requested := map[MetricRequest]bool{}
	seenValues := map[string]bool{}
	customServed := snapshot.Unavailable[CustomMetricsGroup] == nil
	externalServed := snapshot.Unavailable[ExternalMetricsGroup] == nil

	for i := range snapshot.HPAs {
		hpaObj := &snapshot.HPAs[i]
		for j := range hpaObj.Spec.Metrics {
			metric := &hpaObj.Spec.Metrics[j]
			request, metricSelector, ok := metricRequestFor(hpaObj.Namespace, metric)
			if !ok || requested[request] {
				continue
			}
			requested[request] = true
			if (request.Group == CustomMetricsGroup && !customServed) || (request.Group == ExternalMetricsGroup && !externalServed) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			// NOTE: the custom and external metrics clients of k8s.io/metrics v0.37.2 take no
			// context, so a cancelled context stops the reader only between requests.
			switch metric.Type {
			case autoscalingv2.PodsMetricSourceType:
				r.readPodCustomMetric(snapshot, request, metricSelector, seenValues)
			case autoscalingv2.ObjectMetricSourceType:
				r.readObjectMetric(snapshot, request, metric.Object.DescribedObject, metricSelector, seenValues)
			case autoscalingv2.ExternalMetricSourceType:
				r.readExternalMetric(snapshot, request, metricSelector)
			}
		}
	}
	return nil
}

// metricRequestFor returns the request that the controller makes for one metric of an HPA in
// namespace. It returns false for resource metrics and for metrics with an invalid selector, for
// which the controller makes no request.
func metricRequestFor(namespace string, metric *autoscalingv2.MetricSpec) (MetricRequest, labels.Selector, bool) {
	var id autoscalingv2.MetricIdentifier
	request := MetricRequest{Namespace: namespace}
	switch {
	case metric.Type == autoscalingv2.PodsMetricSourceType && metric.Pods != nil:
		id = metric.Pods.Metric
		request.Group = CustomMetricsGroup
		request.ObjectKind = "Pod"
	case metric.Type == autoscalingv2.ObjectMetricSourceType && metric.Object != nil:
		id = metric.Object.Metric
		object := metric.Object.DescribedObject
		request.Group = CustomMetricsGroup
		request.ObjectKind = object.Kind
		request.ObjectGroup = groupOf(object.APIVersion)
		request.ObjectName = object.Name
		if object.Kind == "Namespace" && request.ObjectGroup == "" {
			request.ObjectName = namespace
		}
	case metric.Type == autoscalingv2.ExternalMetricSourceType && metric.External != nil:
		id = metric.External.Metric
		request.Group = ExternalMetricsGroup
	default:
		return MetricRequest{}, nil, false
	}

	selector := labels.Everything()
	if id.Selector != nil {
		parsed, err := metav1.LabelSelectorAsSelector(id.Selector)
		if err != nil {
			return MetricRequest{}, nil, false
		}
		selector = parsed
	}
	request.MetricName = id.Name
	request.MetricSelector = selector.String()
	return request, selector, true
}

func (r *LiveReader) readPodCustomMetric(snapshot *Snapshot, request MetricRequest, metricSelector labels.Selector, seen map[string]bool) {
	values, err := r.clients.CustomMetrics.NamespacedMetrics(request.Namespace).
		GetForObjects(schema.GroupKind{Kind: "Pod"}, labels.Everything(), request.MetricName, metricSelector)
	if err != nil {
		snapshot.RequestErrors[request] = requestFailed(err, "get", fmt.Sprintf("pods/%s (custom.metrics.k8s.io)", request.MetricName), request.Namespace)
		return
	}
	for i := range values.Items {
		addCustomMetric(snapshot, values.Items[i], request, seen)
	}
}

func (r *LiveReader) readObjectMetric(snapshot *Snapshot, request MetricRequest, object autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector, seen map[string]bool) {
	groupKind := schema.GroupKind{Group: request.ObjectGroup, Kind: object.Kind}
	var value *custommetricsv1beta2.MetricValue
	var err error
	if object.Kind == "Namespace" && request.ObjectGroup == "" {
		// The controller reads a Namespace metric as a root-scoped metric of the HPA's namespace.
		value, err = r.clients.CustomMetrics.RootScopedMetrics().GetForObject(groupKind, request.Namespace, request.MetricName, metricSelector)
	} else {
		value, err = r.clients.CustomMetrics.NamespacedMetrics(request.Namespace).GetForObject(groupKind, object.Name, request.MetricName, metricSelector)
	}
	if err != nil {
		resource := fmt.Sprintf("%s %s/%s (custom.metrics.k8s.io)", groupKind.String(), request.ObjectName, request.MetricName)
		snapshot.RequestErrors[request] = requestFailed(err, "get", resource, request.Namespace)
		return
	}
	addCustomMetric(snapshot, *value, request, seen)
}

// addCustomMetric stores a value once. The metric selector is set to the request's, so that the
// value matches only requests with that selector (see Snapshot.CustomMetrics).
func addCustomMetric(snapshot *Snapshot, value custommetricsv1beta2.MetricValue, request MetricRequest, seen map[string]bool) {
	selector, err := metav1.ParseToLabelSelector(request.MetricSelector)
	if err != nil {
		selector = &metav1.LabelSelector{}
	}
	value.Metric.Selector = selector
	if value.Metric.Name == "" {
		value.Metric.Name = request.MetricName
	}
	described := &value.DescribedObject
	if described.Namespace == "" && described.Kind != "Namespace" {
		described.Namespace = request.Namespace
	}
	key := fmt.Sprintf("%s|%s|%s|%s|%s|%s", groupOf(described.APIVersion), described.Kind, described.Namespace, described.Name, request.MetricName, request.MetricSelector)
	if seen[key] {
		return
	}
	seen[key] = true
	snapshot.CustomMetrics = append(snapshot.CustomMetrics, value)
}

func (r *LiveReader) readExternalMetric(snapshot *Snapshot, request MetricRequest, metricSelector labels.Selector) {
	values, err := r.clients.ExternalMetrics.NamespacedMetrics(request.Namespace).List(request.MetricName, metricSelector)
	if err != nil {
		snapshot.RequestErrors[request] = requestFailed(err, "list", request.MetricName+" (external.metrics.k8s.io)", request.Namespace)
		return
	}
	for i := range values.Items {
		requestSelector := request.MetricSelector
		snapshot.ExternalMetrics = append(snapshot.ExternalMetrics, ExternalMetricValue{
			Namespace:           request.Namespace,
			RequestSelector:     &requestSelector,
			ExternalMetricValue: values.Items[i],
		})
	}
}
