package hpa

import (
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Scale is the part of the scale target's scale subresource that the controller reads.
type Scale struct {
	// SpecReplicas is scale.spec.replicas: the controller's currentReplicas.
	SpecReplicas int32 `json:"specReplicas"`
	// StatusReplicas is scale.status.replicas, used only by Object and External AverageValue targets.
	StatusReplicas int32 `json:"statusReplicas"`
	// Selector is scale.status.selector, a label selector in string form.
	Selector string `json:"selector"`
}

// Input is everything one reconcile of one HPA reads.
type Input struct {
	// HPA is the autoscaling/v2 object as the API server returns it (defaults applied).
	HPA *autoscalingv2.HorizontalPodAutoscaler
	// Scale is the scale subresource of spec.scaleTargetRef. When ScaleError is set the
	// controller could not read it and Scale is ignored.
	Scale      Scale
	ScaleError error
	// ScaleUpdateError, when set, makes the write of the new replica count fail, as a conflict
	// or an admission webhook would. Live explanations assume the write succeeds.
	ScaleUpdateError error
	// Pods are the pods of the HPA's namespace; the engine keeps those matching Scale.Selector.
	Pods []*corev1.Pod
	// Metrics serves the metrics API requests of this reconcile.
	Metrics MetricsSource
	// OtherHPASelectors are the selectors of the HPAs in the namespace, keyed by "namespace/name",
	// used for the AmbiguousSelector check. The HPA's own entry, if present, is skipped.
	OtherHPASelectors map[string]labels.Selector
	// Memory is the controller's in-memory history for this HPA before the reconcile.
	Memory Memory
	// Now is the evaluation time: the moment the controller reconciles.
	Now      time.Time
	Settings ControllerSettings
}

// MetricsSource serves the requests that the HPA controller makes to the three metrics APIs.
// Each method returns what the API would return for the request, already filtered by the label
// selectors as the API server or adapter would filter it, or the error of the request.
type MetricsSource interface {
	// PodMetrics lists metrics.k8s.io/v1beta1 PodMetrics in namespace whose pods match selector.
	PodMetrics(namespace string, selector labels.Selector) ([]metricsv1beta1.PodMetrics, error)
	// PodCustomMetrics lists custom.metrics.k8s.io/v1beta2 values of metricName for the pods
	// in namespace that match selector, restricted by metricSelector.
	PodCustomMetrics(namespace, metricName string, selector, metricSelector labels.Selector) ([]custommetricsv1beta2.MetricValue, error)
	// ObjectMetric gets the custom.metrics.k8s.io/v1beta2 value of metricName that describes one
	// object. For kind Namespace of the core group the object is the namespace itself.
	ObjectMetric(namespace, metricName string, object autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (*custommetricsv1beta2.MetricValue, error)
	// ExternalMetrics lists external.metrics.k8s.io/v1beta1 values of metricName in namespace
	// whose labels match selector.
	ExternalMetrics(namespace, metricName string, selector labels.Selector) ([]externalmetricsv1beta1.ExternalMetricValue, error)
}
