// Package snapshot reads everything that HPA decisions depend on, from a cluster or from manifests,
// into one Snapshot of plain API objects, and fills the engine's hpa.Input from it.
//
// Two readers fill a Snapshot: LiveReader lists and gets from a cluster, and ReadManifests decodes
// files or stdin. Code that consumes a Snapshot cannot tell which reader filled it, except through
// the Source field, which reports use only for display.
package snapshot

import (
	"fmt"
	"sort"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// API groups of the three metrics APIs, used as keys of Snapshot.Unavailable.
const (
	ResourceMetricsGroup = "metrics.k8s.io"
	CustomMetricsGroup   = "custom.metrics.k8s.io"
	ExternalMetricsGroup = "external.metrics.k8s.io"
)

// Keys of Snapshot.Unavailable for the optional core resources. A failure to read one of them does
// not stop an explanation, so the readers record it there instead of returning it.
const (
	EventsResource               = "events"
	PodDisruptionBudgetsResource = "poddisruptionbudgets.policy"
	ResourceQuotasResource       = "resourcequotas"
)

// Snapshot is everything read for a set of namespaces, as plain API objects.
type Snapshot struct {
	// Source describes where the objects came from, for example "cluster" or "manifests mlflow.yaml".
	Source string

	// HPAs are autoscaling/v2 objects with the API server's defaults applied.
	HPAs []autoscalingv2.HorizontalPodAutoscaler
	// Scales holds the scale subresource of each HPA's spec.scaleTargetRef, keyed by the HPA's
	// namespace and name.
	Scales map[types.NamespacedName]ScaleResult

	Pods []corev1.Pod
	// PodMetrics are metrics.k8s.io/v1beta1 objects of every namespace read.
	PodMetrics []metricsv1beta1.PodMetrics
	// CustomMetrics are custom.metrics.k8s.io/v1beta2 values. describedObject.kind Pod marks a
	// pod metric and any other kind an object metric. A nil metric.selector matches a request
	// with any metric selector, a non-nil one only a request with the same selector.
	CustomMetrics []custommetricsv1beta2.MetricValue
	// ExternalMetrics are external.metrics.k8s.io/v1beta1 values with the namespace they belong to.
	ExternalMetrics []ExternalMetricValue

	Events               []corev1.Event
	PodDisruptionBudgets []policyv1.PodDisruptionBudget
	ResourceQuotas       []corev1.ResourceQuota
	Namespaces           []corev1.Namespace

	// Unavailable holds why an API or resource could not be read, keyed by the metrics API group
	// (ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup) or by one of the resource
	// keys above. Every metrics request to an unavailable group returns that error.
	Unavailable map[string]error
	// RequestErrors holds the error of single metrics requests that failed while the API was served.
	RequestErrors map[MetricRequest]error
	// Notes describe assumptions the reader made, for the report to show.
	Notes []string

	// index holds per-namespace lookups built on first use by Input and MetricsSource, so that
	// explaining many HPAs filters the pods and parses the selectors once per namespace. The
	// exported fields must not change after that first use.
	index *namespaceIndex
}

// ScaleResult is the scale subresource of one HPA's scale target, or why it could not be read.
type ScaleResult struct {
	Scale hpa.Scale
	// Err is set when the scale could not be read. The engine then reports FailedGetScale.
	Err error
}

// ExternalMetricValue is one external metric value and the namespace it was read for.
type ExternalMetricValue struct {
	Namespace string `json:"namespace"`
	// RequestSelector is the metric selector of the request that returned the value, in
	// labels.Selector string form. It is nil for values read from files: those are matched by
	// their metricLabels. A value with a RequestSelector is returned only for that exact
	// selector, because adapters (KEDA, for one) return values without the labels they select on.
	RequestSelector *string `json:"requestSelector,omitempty"`
	externalmetricsv1beta1.ExternalMetricValue
}

// MetricRequest identifies one request to a metrics API, as a key of Snapshot.RequestErrors.
type MetricRequest struct {
	// Group is ResourceMetricsGroup, CustomMetricsGroup or ExternalMetricsGroup.
	Group     string
	Namespace string
	// MetricName is empty for resource metrics.
	MetricName string
	// MetricSelector is the metric selector in labels.Selector string form.
	MetricSelector string
	// ObjectKind, ObjectGroup and ObjectName identify the described object of a custom metric:
	// kind Pod with an empty name for pod metrics. They are empty for other APIs.
	ObjectKind  string
	ObjectGroup string
	ObjectName  string
}

// New returns an empty Snapshot with its maps allocated.
func New(source string) *Snapshot {
	return &Snapshot{
		Source:        source,
		Scales:        map[types.NamespacedName]ScaleResult{},
		Unavailable:   map[string]error{},
		RequestErrors: map[MetricRequest]error{},
	}
}

// Input fills the engine input for one HPA of the snapshot: its scale or the error reading it,
// and the pods and metrics source of its namespace. OtherHPASelectors gets the selectors of the
// other HPAs of that namespace whose scale was read.
func (s *Snapshot) Input(hpaObj *autoscalingv2.HorizontalPodAutoscaler, now time.Time, settings hpa.ControllerSettings, memory hpa.Memory) hpa.Input {
	key := types.NamespacedName{Namespace: hpaObj.Namespace, Name: hpaObj.Name}
	input := hpa.Input{
		HPA:               hpaObj,
		Pods:              s.namespaceIndex().pods[hpaObj.Namespace],
		Metrics:           s.MetricsSource(hpaObj.Namespace),
		OtherHPASelectors: s.namespaceIndex().selectors[hpaObj.Namespace],
		Memory:            memory,
		Now:               now,
		Settings:          settings,
	}

	result, found := s.Scales[key]
	switch {
	case !found:
		input.ScaleError = fmt.Errorf("the scale of %s %s/%s was not read", hpaObj.Spec.ScaleTargetRef.Kind, hpaObj.Namespace, hpaObj.Spec.ScaleTargetRef.Name)
	case result.Err != nil:
		input.ScaleError = result.Err
	default:
		input.Scale = result.Scale
	}
	return input
}

// PodsInNamespace returns pointers to the snapshot's pods of namespace, sorted by name.
func (s *Snapshot) PodsInNamespace(namespace string) []*corev1.Pod {
	return append([]*corev1.Pod{}, s.namespaceIndex().pods[namespace]...)
}

// HPA returns the HPA with the given namespace and name, or nil.
func (s *Snapshot) HPA(namespace, name string) *autoscalingv2.HorizontalPodAutoscaler {
	for i := range s.HPAs {
		if s.HPAs[i].Namespace == namespace && s.HPAs[i].Name == name {
			return &s.HPAs[i]
		}
	}
	return nil
}

// namespaceIndex is the per-namespace view of a snapshot that every HPA of a namespace shares.
type namespaceIndex struct {
	// pods are the pods of each namespace, sorted by name.
	pods map[string][]*corev1.Pod
	// podsByName maps each namespace's pod names to the pods.
	podsByName map[string]map[string]*corev1.Pod
	// selectors are the selectors of each namespace's HPAs whose scale was read and has a valid
	// selector, keyed by "namespace/name". The engine skips the HPA's own entry, as the
	// controller's AmbiguousSelector check does.
	selectors map[string]map[string]labels.Selector
}

// namespaceIndex returns the snapshot's index, building it on first use.
func (s *Snapshot) namespaceIndex() *namespaceIndex {
	if s.index != nil {
		return s.index
	}
	index := &namespaceIndex{
		pods:       map[string][]*corev1.Pod{},
		podsByName: map[string]map[string]*corev1.Pod{},
		selectors:  map[string]map[string]labels.Selector{},
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		index.pods[pod.Namespace] = append(index.pods[pod.Namespace], pod)
		if index.podsByName[pod.Namespace] == nil {
			index.podsByName[pod.Namespace] = map[string]*corev1.Pod{}
		}
		index.podsByName[pod.Namespace][pod.Name] = pod
	}
	for _, pods := range index.pods {
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	}
	for i := range s.HPAs {
		key := types.NamespacedName{Namespace: s.HPAs[i].Namespace, Name: s.HPAs[i].Name}
		result, found := s.Scales[key]
		if !found || result.Err != nil || result.Scale.Selector == "" {
			continue
		}
		selector, err := labels.Parse(result.Scale.Selector)
		if err != nil {
			continue
		}
		if index.selectors[key.Namespace] == nil {
			index.selectors[key.Namespace] = map[string]labels.Selector{}
		}
		index.selectors[key.Namespace][key.String()] = selector
	}
	s.index = index
	return index
}

// sortObjects sorts every list of the snapshot by namespace and name, so that output does not
// depend on the order of files or of API responses.
func (s *Snapshot) sortObjects() {
	sort.SliceStable(s.HPAs, func(i, j int) bool {
		return lessNamespaced(s.HPAs[i].Namespace, s.HPAs[i].Name, s.HPAs[j].Namespace, s.HPAs[j].Name)
	})
	sort.SliceStable(s.Pods, func(i, j int) bool {
		return lessNamespaced(s.Pods[i].Namespace, s.Pods[i].Name, s.Pods[j].Namespace, s.Pods[j].Name)
	})
	sort.SliceStable(s.PodMetrics, func(i, j int) bool {
		return lessNamespaced(s.PodMetrics[i].Namespace, s.PodMetrics[i].Name, s.PodMetrics[j].Namespace, s.PodMetrics[j].Name)
	})
	sort.SliceStable(s.PodDisruptionBudgets, func(i, j int) bool {
		a, b := s.PodDisruptionBudgets[i], s.PodDisruptionBudgets[j]
		return lessNamespaced(a.Namespace, a.Name, b.Namespace, b.Name)
	})
	sort.SliceStable(s.ResourceQuotas, func(i, j int) bool {
		a, b := s.ResourceQuotas[i], s.ResourceQuotas[j]
		return lessNamespaced(a.Namespace, a.Name, b.Namespace, b.Name)
	})
	sort.SliceStable(s.Events, func(i, j int) bool {
		return EventTime(&s.Events[i]).Before(EventTime(&s.Events[j]))
	})
}

func lessNamespaced(namespaceA, nameA, namespaceB, nameB string) bool {
	if namespaceA != namespaceB {
		return namespaceA < namespaceB
	}
	return nameA < nameB
}
