// Package conformance replays recorded decisions of the real HPA controller through the engine
// in pkg/hpa. The case format is described in testdata/upstream-v1.37.2/README.md.
package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
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

// Now is the evaluation time of every case; recorded ages are relative to it.
var Now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// Case is one recorded decision.
type Case struct {
	ID              string          `json:"id"`
	Level           string          `json:"level"`
	Step            string          `json:"step"`
	Input           json.RawMessage `json:"input"`
	Observed        json.RawMessage `json:"observed"`
	Expected        json.RawMessage `json:"expected"`
	UpstreamAsserts json.RawMessage `json:"upstreamAsserts"`
}

// Age is a recorded time: seconds before Now, "zero" for Go's zero time, or null when absent.
type Age struct {
	Set  bool
	Zero bool
	Secs float64
}

// UnmarshalJSON accepts a number, "zero" or null.
func (a *Age) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*a = Age{}
		return nil
	}
	if string(data) == `"zero"` {
		*a = Age{Set: true, Zero: true}
		return nil
	}
	var secs float64
	if err := json.Unmarshal(data, &secs); err != nil {
		return fmt.Errorf("invalid age %s: %w", data, err)
	}
	*a = Age{Set: true, Secs: secs}
	return nil
}

// Time converts the age to an instant; the age is rounded to the recorded millisecond.
func (a Age) Time() time.Time {
	if !a.Set || a.Zero {
		return time.Time{}
	}
	return Now.Add(-time.Duration(math.Round(a.Secs*1000)) * time.Millisecond)
}

// AgeOf is the inverse of Age.Time, in seconds; the zero time gives ok=false.
func AgeOf(t time.Time) (secs float64, ok bool) {
	if t.IsZero() {
		return 0, false
	}
	return Now.Sub(t).Seconds(), true
}

// PodData is a recorded pod.
type PodData struct {
	Name                    string            `json:"name"`
	Phase                   corev1.PodPhase   `json:"phase"`
	Ready                   *string           `json:"ready"`
	ReadyLastTransitionTime Age               `json:"readyLastTransitionTime"`
	StartTime               Age               `json:"startTime"`
	Deleted                 bool              `json:"deleted"`
	Labels                  map[string]string `json:"labels"`
	Containers              []ContainerData   `json:"containers"`
	InitContainers          []ContainerData   `json:"initContainers"`
	PodLevelRequestsMilli   map[string]int64  `json:"podLevelRequestsMilli"`
}

// ContainerData is a recorded container with requests in milli-units.
type ContainerData struct {
	Name          string           `json:"name"`
	RequestsMilli map[string]int64 `json:"requestsMilli"`
	RestartPolicy *string          `json:"restartPolicy"`
}

func milliList(values map[string]int64) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, milli := range values {
		out[corev1.ResourceName(name)] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
	}
	return out
}

// Pod builds the corev1.Pod the recorded pod stands for.
func (p PodData) Pod(namespace string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: namespace, Labels: p.Labels},
		Status:     corev1.PodStatus{Phase: p.Phase},
	}
	if p.Deleted {
		deleted := metav1.NewTime(Now)
		pod.DeletionTimestamp = &deleted
	}
	if p.StartTime.Set {
		start := metav1.NewTime(p.StartTime.Time())
		pod.Status.StartTime = &start
	}
	if p.Ready != nil {
		pod.Status.Conditions = []corev1.PodCondition{{
			Type:               corev1.PodReady,
			Status:             corev1.ConditionStatus(*p.Ready),
			LastTransitionTime: metav1.NewTime(p.ReadyLastTransitionTime.Time()),
		}}
	}
	for _, c := range p.Containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Name, Resources: corev1.ResourceRequirements{Requests: milliList(c.RequestsMilli)}})
	}
	for _, c := range p.InitContainers {
		init := corev1.Container{Name: c.Name, Resources: corev1.ResourceRequirements{Requests: milliList(c.RequestsMilli)}}
		if c.RestartPolicy != nil {
			policy := corev1.ContainerRestartPolicy(*c.RestartPolicy)
			init.RestartPolicy = &policy
		}
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, init)
	}
	if p.PodLevelRequestsMilli != nil {
		pod.Spec.Resources = &corev1.ResourceRequirements{Requests: milliList(p.PodLevelRequestsMilli)}
	}
	return pod
}

// Pods builds all recorded pods.
func Pods(data []PodData, namespace string) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(data))
	for _, p := range data {
		out = append(out, p.Pod(namespace))
	}
	return out
}

// MetricsResponse is one recorded metrics API response.
type MetricsResponse struct {
	Kind       string                                     `json:"kind"`
	Resource   string                                     `json:"resource"`
	Container  string                                     `json:"container"`
	Metric     string                                     `json:"metric"`
	API        string                                     `json:"api"`
	Name       string                                     `json:"name"`
	Error      *string                                    `json:"error"`
	Items      []json.RawMessage                          `json:"items"`
	Object     *autoscalingv2.CrossVersionObjectReference `json:"object"`
	ValueMilli int64                                      `json:"valueMilli"`
	Timestamp  Age                                        `json:"timestamp"`
}

type resourceItem struct {
	Pod           string `json:"pod"`
	Timestamp     Age    `json:"timestamp"`
	WindowSeconds int64  `json:"windowSeconds"`
	Containers    []struct {
		Name       string           `json:"name"`
		UsageMilli map[string]int64 `json:"usageMilli"`
	} `json:"containers"`
}

type podsItem struct {
	Pod           string `json:"pod"`
	ValueMilli    int64  `json:"valueMilli"`
	Timestamp     Age    `json:"timestamp"`
	WindowSeconds *int64 `json:"windowSeconds"`
}

type externalItem struct {
	ValueMilli int64 `json:"valueMilli"`
	Timestamp  Age   `json:"timestamp"`
}

// RecordedMetrics replays recorded responses in call order: each request takes the first unused
// response of its API (and resource or metric name).
type RecordedMetrics struct {
	responses []MetricsResponse
	used      []bool
}

// NewRecordedMetrics returns a source over the recorded responses.
func NewRecordedMetrics(responses []MetricsResponse) *RecordedMetrics {
	return &RecordedMetrics{responses: responses, used: make([]bool, len(responses))}
}

func (r *RecordedMetrics) take(match func(MetricsResponse) bool) (MetricsResponse, error) {
	for i, resp := range r.responses {
		if !r.used[i] && match(resp) {
			r.used[i] = true
			if resp.Error != nil {
				return resp, errors.New(*resp.Error)
			}
			return resp, nil
		}
	}
	return MetricsResponse{}, errors.New("no recorded response for this request")
}

// PodMetrics implements hpa.MetricsSource.
func (r *RecordedMetrics) PodMetrics(namespace string, _ labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	resp, err := r.take(func(m MetricsResponse) bool {
		return m.Kind == "resourceMetricsAPI" || (m.Kind == "metricsFetchError" && m.API == "resourceMetricsAPI")
	})
	if err != nil {
		return nil, err
	}
	out := []metricsv1beta1.PodMetrics{}
	for _, raw := range resp.Items {
		var item resourceItem
		if err := json.Unmarshal(raw, &item); err != nil {
			return nil, err
		}
		pm := metricsv1beta1.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: item.Pod, Namespace: namespace},
			Timestamp:  metav1.NewTime(item.Timestamp.Time()),
			Window:     metav1.Duration{Duration: time.Duration(item.WindowSeconds) * time.Second},
		}
		for _, c := range item.Containers {
			pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: milliList(c.UsageMilli)})
		}
		out = append(out, pm)
	}
	return out, nil
}

// PodCustomMetrics implements hpa.MetricsSource.
func (r *RecordedMetrics) PodCustomMetrics(_, metricName string, _, _ labels.Selector) ([]custommetricsv1beta2.MetricValue, error) {
	resp, err := r.take(func(m MetricsResponse) bool { return m.Kind == "podsMetricsAPI" && m.Metric == metricName })
	if err != nil {
		return nil, err
	}
	out := []custommetricsv1beta2.MetricValue{}
	for _, raw := range resp.Items {
		var item podsItem
		if err := json.Unmarshal(raw, &item); err != nil {
			return nil, err
		}
		out = append(out, custommetricsv1beta2.MetricValue{
			DescribedObject: corev1.ObjectReference{Kind: "Pod", Name: item.Pod},
			Metric:          custommetricsv1beta2.MetricIdentifier{Name: metricName},
			Timestamp:       metav1.NewTime(item.Timestamp.Time()),
			WindowSeconds:   item.WindowSeconds,
			Value:           *resource.NewMilliQuantity(item.ValueMilli, resource.DecimalSI),
		})
	}
	return out, nil
}

// ObjectMetric implements hpa.MetricsSource.
func (r *RecordedMetrics) ObjectMetric(_, metricName string, _ autoscalingv2.CrossVersionObjectReference, _ labels.Selector) (*custommetricsv1beta2.MetricValue, error) {
	resp, err := r.take(func(m MetricsResponse) bool { return m.Kind == "objectMetricsAPI" && m.Metric == metricName })
	if err != nil {
		return nil, err
	}
	return &custommetricsv1beta2.MetricValue{
		Metric:    custommetricsv1beta2.MetricIdentifier{Name: metricName},
		Timestamp: metav1.NewTime(resp.Timestamp.Time()),
		Value:     *resource.NewMilliQuantity(resp.ValueMilli, resource.DecimalSI),
	}, nil
}

// ExternalMetrics implements hpa.MetricsSource.
func (r *RecordedMetrics) ExternalMetrics(_, metricName string, _ labels.Selector) ([]externalmetricsv1beta1.ExternalMetricValue, error) {
	resp, err := r.take(func(m MetricsResponse) bool { return m.Kind == "externalMetricsAPI" && m.Metric == metricName })
	if err != nil {
		return nil, err
	}
	out := []externalmetricsv1beta1.ExternalMetricValue{}
	for _, raw := range resp.Items {
		var item externalItem
		if err := json.Unmarshal(raw, &item); err != nil {
			return nil, err
		}
		out = append(out, externalmetricsv1beta1.ExternalMetricValue{
			MetricName: metricName,
			Timestamp:  metav1.NewTime(item.Timestamp.Time()),
			Value:      *resource.NewMilliQuantity(item.ValueMilli, resource.DecimalSI),
		})
	}
	return out, nil
}

// StateData is the recorded in-memory state of the controller.
type StateData struct {
	Recommendations []struct {
		Recommendation int32 `json:"recommendation"`
		Age            Age   `json:"age"`
	} `json:"recommendations"`
	RecommendationsPresent bool        `json:"recommendationsPresent"`
	ScaleUpEvents          []EventData `json:"scaleUpEvents"`
	ScaleDownEvents        []EventData `json:"scaleDownEvents"`
}

// EventData is a recorded scale event.
type EventData struct {
	ReplicaChange int32 `json:"replicaChange"`
	Age           Age   `json:"age"`
	Outdated      bool  `json:"outdated"`
}

func events(data []EventData) []hpa.ScaleEvent {
	var out []hpa.ScaleEvent
	for _, e := range data {
		out = append(out, hpa.ScaleEvent{ReplicaChange: e.ReplicaChange, Timestamp: e.Age.Time(), Outdated: e.Outdated})
	}
	return out
}

// Memory converts the recorded state.
func (s StateData) Memory() hpa.Memory {
	m := hpa.Memory{ScaleUpEvents: events(s.ScaleUpEvents), ScaleDownEvents: events(s.ScaleDownEvents)}
	if s.RecommendationsPresent {
		m.Recommendations = []hpa.Recommendation{}
		for _, r := range s.Recommendations {
			m.Recommendations = append(m.Recommendations, hpa.Recommendation{Replicas: r.Recommendation, Timestamp: r.Age.Time()})
		}
	}
	return m
}

// Recorded returns the recommendations as (replicas, age) pairs for comparison.
func (s StateData) Recorded() [][2]float64 {
	var out [][2]float64
	for _, r := range s.Recommendations {
		out = append(out, [2]float64{float64(r.Recommendation), r.Age.Secs})
	}
	return out
}

// RecommendationPairs renders engine recommendations like Recorded.
func RecommendationPairs(recs []hpa.Recommendation) [][2]float64 {
	var out [][2]float64
	for _, r := range recs {
		age, _ := AgeOf(r.Timestamp)
		out = append(out, [2]float64{float64(r.Replicas), age})
	}
	return out
}

// SortedOrEmpty returns a sorted copy, never nil, so that empty lists compare equal.
func SortedOrEmpty(values []string) []string {
	out := append([]string{}, values...)
	sort.Strings(out)
	return out
}
