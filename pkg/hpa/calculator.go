package hpa

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// defaultCustomMetricWindow is the sample window the controller assumes when a custom metric
// value has no windowSeconds.
const defaultCustomMetricWindow = time.Minute

// Calculator computes per-metric replica proposals, as the controller's replica calculator does.
type Calculator struct {
	Namespace string
	// Selector is the scale target's selector, and Pods are the pods that match it.
	Selector labels.Selector
	Pods     []*corev1.Pod
	Metrics  MetricsSource

	Tolerances              Tolerances
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
	PodLevelResources       bool
	Now                     time.Time
}

var errNoPods = errors.New("no pods returned by selector while calculating replica count")

// resourceMetrics turns a PodMetrics list into per-pod samples: the named container's usage, or
// the sum over every listed container. A pod without containers, or lacking the resource in any
// of them (or in the named container), gets no sample.
func resourceMetrics(items []metricsv1beta1.PodMetrics, resource corev1.ResourceName, container string) PodMetricsInfo {
	out := make(PodMetricsInfo, len(items))
	for _, m := range items {
		sample := PodMetric{Timestamp: m.Timestamp.Time, Window: m.Window.Duration}
		if container != "" {
			for _, c := range m.Containers {
				if c.Name != container {
					continue
				}
				if q, ok := c.Usage[resource]; ok {
					sample.Value = q.MilliValue()
					out[m.Name] = sample
				}
				break
			}
			continue
		}
		if len(m.Containers) == 0 {
			continue
		}
		complete := true
		for _, c := range m.Containers {
			q, ok := c.Usage[resource]
			if !ok {
				complete = false
				break
			}
			sample.Value += q.MilliValue()
		}
		if complete {
			out[m.Name] = sample
		}
	}
	return out
}

func (c *Calculator) fetchResourceMetrics(resource corev1.ResourceName, container string) (PodMetricsInfo, time.Time, error) {
	items, err := c.Metrics.PodMetrics(c.Namespace, c.Selector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from resource metrics API")
	}
	return resourceMetrics(items, resource, container), items[0].Timestamp.Time, nil
}

func (c *Calculator) fetchPodCustomMetrics(metricName string, metricSelector labels.Selector) (PodMetricsInfo, time.Time, error) {
	items, err := c.Metrics.PodCustomMetrics(c.Namespace, metricName, c.Selector, metricSelector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	if len(items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from custom metrics API")
	}
	out := make(PodMetricsInfo, len(items))
	for _, m := range items {
		window := defaultCustomMetricWindow
		if m.WindowSeconds != nil {
			window = time.Duration(*m.WindowSeconds) * time.Second
		}
		out[m.DescribedObject.Name] = PodMetric{Value: m.Value.MilliValue(), Timestamp: m.Timestamp.Time, Window: window}
	}
	return out, items[0].Timestamp.Time, nil
}

func (c *Calculator) fetchObjectMetric(metricName string, object autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, time.Time, error) {
	value, err := c.Metrics.ObjectMetric(c.Namespace, metricName, object, metricSelector)
	if err == nil && value == nil {
		err = fmt.Errorf("no value for metric %s on %s %s", metricName, object.Kind, object.Name)
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	return value.Value.MilliValue(), value.Timestamp.Time, nil
}

func (c *Calculator) fetchExternalMetrics(metricName string, selector labels.Selector) ([]int64, time.Time, error) {
	items, err := c.Metrics.ExternalMetrics(c.Namespace, metricName, selector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from external metrics API: %w", err)
	}
	if len(items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from external metrics API")
	}
	values := make([]int64, 0, len(items))
	for _, m := range items {
		values = append(values, m.Value.MilliValue())
	}
	return values, items[0].Timestamp.Time, nil
}

// groupAndDrop groups the pods and removes the samples of unready and ignored pods, which the
// controller never uses as measured.
func (c *Calculator) groupAndDrop(metrics PodMetricsInfo, resource corev1.ResourceName) (PodGroups, error) {
	if len(c.Pods) == 0 {
		return PodGroups{}, errNoPods
	}
	groups := GroupPods(c.Pods, metrics, resource, c.CPUInitializationPeriod, c.InitialReadinessDelay, c.Now)
	for _, name := range groups.Ignored {
		delete(metrics, name)
	}
	for _, name := range groups.Unready {
		delete(metrics, name)
	}
	if len(metrics) == 0 {
		return groups, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	return groups, nil
}

// utilizationOf sums the samples of pods that have a request. Samples of pods outside the pod
// list have no request and are skipped.
func utilizationOf(metrics PodMetricsInfo, requests map[string]int64, target int32) (ratio float64, utilization int32, rawAverage int64, err error) {
	var metricsTotal, requestsTotal, entries int64
	for pod, sample := range metrics {
		request, ok := requests[pod]
		if !ok {
			continue
		}
		metricsTotal += sample.Value
		requestsTotal += request
		entries++
	}
	if requestsTotal == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	utilization = int32(metricsTotal * 100 / requestsTotal)
	return float64(utilization) / float64(target), utilization, metricsTotal / entries, nil
}

// averageOf is the integer average over every sample, including samples of pods outside the pod list.
func averageOf(metrics PodMetricsInfo, target int64) (ratio float64, average int64) {
	var total int64
	for _, sample := range metrics {
		total += sample.Value
	}
	average = total / int64(len(metrics))
	return float64(average) / float64(target), average
}

func samplesOf(metrics PodMetricsInfo, requests map[string]int64, filled map[string]string) []PodSample {
	out := make([]PodSample, 0, len(metrics))
	for pod, sample := range metrics {
		s := PodSample{Pod: pod, ValueMilli: sample.Value, Filled: filled[pod]}
		if requests != nil {
			if r, ok := requests[pod]; ok {
				r := r
				s.RequestMilli = &r
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}

func ptr[T any](v T) *T { return &v }

// newTrace starts the trace of one calculation.
func (c *Calculator) newTrace(calculation Calculation, target Target, replicasIn int32) MetricTrace {
	return MetricTrace{Calculation: calculation, Target: target, Tolerances: c.Tolerances, ReplicasIn: replicasIn}
}

// ResourceUtilization is the proposal for a Resource or ContainerResource metric with a
// Utilization target (percent of request).
func (c *Calculator) ResourceUtilization(currentReplicas, targetUtilization int32, resource corev1.ResourceName, container string) MetricTrace {
	tr := c.newTrace(CalculationResourceUtilization, Target{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(targetUtilization)}, currentReplicas)
	tr.Resource, tr.Container = string(resource), container
	metrics, timestamp, err := c.fetchResourceMetrics(resource, container)
	if err != nil {
		tr.fail(fmt.Errorf("unable to get metrics for resource %s: %w", resource, err))
		return tr
	}
	groups, err := c.groupAndDrop(metrics, resource)
	tr.Groups = &groups
	if err != nil {
		tr.fail(err)
		return tr
	}
	requests, err := PodRequests(c.Pods, container, resource, c.PodLevelResources)
	if err != nil {
		tr.fail(err)
		return tr
	}
	ratio, utilization, rawAverage, err := utilizationOf(metrics, requests, targetUtilization)
	if err != nil {
		tr.fail(err)
		return tr
	}
	tr.Timestamp = timestamp
	tr.First = &Usage{Utilization: ptr(utilization), AverageMilli: ptr(rawAverage), Ratio: ratio,
		Count: int64(groups.ReadyCount), Within: c.Tolerances.Within(ratio)}
	tr.Samples = samplesOf(metrics, requests, nil)

	scaleUpWithUnready := len(groups.Unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(groups.Missing) == 0 {
		if tr.First.Within {
			tr.Rule, tr.Proposal = RuleWithinTolerance, currentReplicas
			return tr
		}
		tr.Rule, tr.Proposal = RuleScaleByRatio, int32(math.Ceil(ratio*float64(groups.ReadyCount)))
		return tr
	}

	filled := map[string]string{}
	if len(groups.Missing) > 0 {
		// On a scale-down a missing pod counts as max(100, target)% of its request, on a
		// scale-up as 0; at a ratio of exactly 1.0 it is not counted at all.
		if ratio < 1.0 {
			fallback := int64(max(100, targetUtilization))
			for _, pod := range groups.Missing {
				metrics[pod] = PodMetric{Value: requests[pod] * fallback / 100}
				filled[pod] = "missing"
			}
		} else if ratio > 1.0 {
			for _, pod := range groups.Missing {
				metrics[pod] = PodMetric{}
				filled[pod] = "missing"
			}
		}
	}
	if scaleUpWithUnready {
		for _, pod := range groups.Unready {
			metrics[pod] = PodMetric{}
			filled[pod] = "unready"
		}
	}
	newRatio, newUtilization, newAverage, err := utilizationOf(metrics, requests, targetUtilization)
	if err != nil {
		tr.fail(err)
		return tr
	}
	tr.Samples = samplesOf(metrics, requests, filled)
	tr.Adjusted = &Usage{Utilization: ptr(newUtilization), AverageMilli: ptr(newAverage), Ratio: newRatio,
		Count: int64(len(metrics)), Within: c.Tolerances.Within(newRatio)}
	tr.Rule, tr.Proposal = adjustedProposal(currentReplicas, ratio, newRatio, len(metrics), tr.Adjusted.Within)
	return tr
}

// adjustedProposal applies the second-pass guards shared by utilization and plain metrics.
func adjustedProposal(currentReplicas int32, ratio, newRatio float64, samples int, within bool) (Rule, int32) {
	if within {
		return RuleAdjustedWithinTolerance, currentReplicas
	}
	if (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return RuleAdjustedDirectionFlip, currentReplicas
	}
	newReplicas := int32(math.Ceil(newRatio * float64(samples)))
	if (newRatio < 1.0 && newReplicas > currentReplicas) || (newRatio > 1.0 && newReplicas < currentReplicas) {
		return RuleAdjustedWrongWay, currentReplicas
	}
	return RuleAdjustedScaleByRatio, newReplicas
}

// ResourceAverageValue is the proposal for a Resource or ContainerResource metric with an
// AverageValue target (milli-units per pod). The CPU readiness rules apply for cpu.
func (c *Calculator) ResourceAverageValue(currentReplicas int32, targetMilli int64, resource corev1.ResourceName, container string) MetricTrace {
	tr := c.newTrace(CalculationResourceAverageValue, Target{Type: autoscalingv2.AverageValueMetricType, AverageValueMilli: ptr(targetMilli)}, currentReplicas)
	tr.Resource, tr.Container = string(resource), container
	metrics, timestamp, err := c.fetchResourceMetrics(resource, container)
	if err != nil {
		tr.fail(fmt.Errorf("unable to get metrics for resource %s: %w", resource, err))
		return tr
	}
	c.plainMetric(&tr, metrics, currentReplicas, targetMilli, resource)
	if tr.Err == nil {
		tr.Timestamp = timestamp
	}
	return tr
}

// PodsAverageValue is the proposal for a Pods metric (custom metrics API, AverageValue target).
func (c *Calculator) PodsAverageValue(currentReplicas int32, targetMilli int64, metricName string, metricSelector labels.Selector) MetricTrace {
	tr := c.newTrace(CalculationPodsAverageValue, Target{Type: autoscalingv2.AverageValueMetricType, AverageValueMilli: ptr(targetMilli)}, currentReplicas)
	tr.MetricName = metricName
	metrics, timestamp, err := c.fetchPodCustomMetrics(metricName, metricSelector)
	if err != nil {
		tr.fail(fmt.Errorf("unable to get metric %s: %w", metricName, err))
		return tr
	}
	c.plainMetric(&tr, metrics, currentReplicas, targetMilli, "")
	if tr.Err == nil {
		tr.Timestamp = timestamp
	}
	return tr
}

// plainMetric is the per-pod average algorithm shared by Pods metrics and resource AverageValue
// targets: missing pods count as the target on a scale-down and as 0 on a scale-up.
func (c *Calculator) plainMetric(tr *MetricTrace, metrics PodMetricsInfo, currentReplicas int32, targetMilli int64, resource corev1.ResourceName) {
	groups, err := c.groupAndDrop(metrics, resource)
	tr.Groups = &groups
	if err != nil {
		tr.fail(err)
		return
	}
	ratio, average := averageOf(metrics, targetMilli)
	tr.First = &Usage{AverageMilli: ptr(average), Ratio: ratio, Count: int64(groups.ReadyCount), Within: c.Tolerances.Within(ratio)}
	tr.Samples = samplesOf(metrics, nil, nil)

	scaleUpWithUnready := len(groups.Unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(groups.Missing) == 0 {
		if tr.First.Within {
			tr.Rule, tr.Proposal = RuleWithinTolerance, currentReplicas
			return
		}
		tr.Rule, tr.Proposal = RuleScaleByRatio, int32(math.Ceil(ratio*float64(groups.ReadyCount)))
		return
	}

	filled := map[string]string{}
	if len(groups.Missing) > 0 {
		if ratio < 1.0 {
			for _, pod := range groups.Missing {
				metrics[pod] = PodMetric{Value: targetMilli}
				filled[pod] = "missing"
			}
		} else if ratio > 1.0 {
			for _, pod := range groups.Missing {
				metrics[pod] = PodMetric{}
				filled[pod] = "missing"
			}
		}
	}
	if scaleUpWithUnready {
		for _, pod := range groups.Unready {
			metrics[pod] = PodMetric{}
			filled[pod] = "unready"
		}
	}
	newRatio, newAverage := averageOf(metrics, targetMilli)
	tr.Samples = samplesOf(metrics, nil, filled)
	tr.Adjusted = &Usage{AverageMilli: ptr(newAverage), Ratio: newRatio, Count: int64(len(metrics)), Within: c.Tolerances.Within(newRatio)}
	tr.Rule, tr.Proposal = adjustedProposal(currentReplicas, ratio, newRatio, len(metrics), tr.Adjusted.Within)
}

// readyPodCount counts the Running and Ready pods for Object and External Value targets.
func (c *Calculator) readyPodCount() (int64, error) {
	if len(c.Pods) == 0 {
		return 0, errNoPods
	}
	var n int64
	for _, pod := range c.Pods {
		if podRunningAndReady(pod) {
			n++
		}
	}
	return n, nil
}

// valueProposal is the shared tail of Object and External Value targets.
func (c *Calculator) valueProposal(tr *MetricTrace, currentReplicas int32, ratio float64) {
	tr.First.Ratio = ratio
	if currentReplicas == 0 {
		tr.Rule, tr.Proposal = RuleFromZero, int32(math.Ceil(ratio))
		tr.First.Count = 1
		return
	}
	// The controller lists pods only outside the tolerance band, so only there can an empty pod
	// list fail the metric. The count is recorded in both cases for the report's next step.
	ready, countErr := c.readyPodCount()
	tr.First.Count = ready
	tr.First.Within = c.Tolerances.Within(ratio)
	if tr.First.Within {
		tr.Rule, tr.Proposal = RuleWithinTolerance, currentReplicas
		return
	}
	if countErr != nil {
		tr.fail(fmt.Errorf("unable to calculate ready pods: %s", countErr))
		return
	}
	proposal := ratio * float64(ready)
	tr.Rule = RuleScaleByRatio
	if proposal > math.MaxInt32 {
		tr.Proposal = math.MaxInt32
	} else {
		tr.Proposal = int32(math.Ceil(proposal))
	}
}

// ObjectValue is the proposal for an Object metric with a Value target.
func (c *Calculator) ObjectValue(currentReplicas int32, targetMilli int64, metricName string, object autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) MetricTrace {
	tr := c.newTrace(CalculationObjectValue, Target{Type: autoscalingv2.ValueMetricType, ValueMilli: ptr(targetMilli)}, currentReplicas)
	tr.MetricName = metricName
	usage, _, err := c.fetchObjectMetric(metricName, object, metricSelector)
	if err != nil {
		tr.fail(fmt.Errorf("unable to get metric %s on %s %s/%s: %w", metricName, object.Kind, c.Namespace, object.Name, err))
		return tr
	}
	tr.First = &Usage{ValueMilli: ptr(usage)}
	// The controller reports a zero timestamp for Value targets: it drops the metric's timestamp.
	c.valueProposal(&tr, currentReplicas, float64(usage)/float64(targetMilli))
	return tr
}

// ObjectAverageValue is the proposal for an Object metric with an AverageValue target. It uses
// scale.status.replicas, not scale.spec.replicas.
func (c *Calculator) ObjectAverageValue(statusReplicas int32, targetMilli int64, metricName string, object autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) MetricTrace {
	tr := c.newTrace(CalculationObjectAverageValue, Target{Type: autoscalingv2.AverageValueMetricType, AverageValueMilli: ptr(targetMilli)}, statusReplicas)
	tr.MetricName = metricName
	usage, timestamp, err := c.fetchObjectMetric(metricName, object, metricSelector)
	if err != nil {
		tr.fail(fmt.Errorf("unable to get metric %s on %s %s/%s: %w", metricName, object.Kind, c.Namespace, object.Name, err))
		return tr
	}
	tr.Timestamp = timestamp
	c.perReplicaProposal(&tr, usage, targetMilli, statusReplicas, false)
	return tr
}

// perReplicaProposal is the shared tail of Object and External AverageValue targets: the ratio
// is usage / (target * status replicas), and outside the tolerance band the proposal is
// ceil(usage / target). Only the External path caps the proposal at math.MaxInt32 and the
// reported average at math.MaxInt64, as in the controller.
func (c *Calculator) perReplicaProposal(tr *MetricTrace, usage, targetMilli int64, statusReplicas int32, capped bool) {
	ratio := float64(usage) / (float64(targetMilli) * float64(statusReplicas))
	tr.First = &Usage{ValueMilli: ptr(usage), Ratio: ratio, Count: int64(statusReplicas), Within: c.Tolerances.Within(ratio)}
	if tr.First.Within {
		tr.Rule, tr.Proposal = RuleWithinTolerance, statusReplicas
	} else {
		tr.Rule = RuleUsageOverTarget
		proposal := math.Ceil(float64(usage) / float64(targetMilli))
		if capped && proposal > float64(math.MaxInt32) {
			tr.Proposal = math.MaxInt32
		} else {
			tr.Proposal = int32(proposal)
		}
	}
	if capped && float64(usage) >= float64(math.MaxInt64) {
		tr.First.AverageMilli = ptr(int64(math.MaxInt64))
		return
	}
	// A status replica count of 0 makes this +Inf or NaN, which converts to math.MinInt64 on amd64.
	tr.First.AverageMilli = ptr(int64(math.Ceil(float64(usage) / float64(statusReplicas))))
}

// externalValues fetches the series of an External metric with the controller's error texts: a
// selector that does not parse fails unwrapped, a failed request is wrapped with the metric's name.
func (c *Calculator) externalValues(metricName string, metricSelector *metav1.LabelSelector) ([]int64, time.Time, error) {
	selector, err := metav1.LabelSelectorAsSelector(metricSelector)
	if err != nil {
		return nil, time.Time{}, err
	}
	values, timestamp, err := c.fetchExternalMetrics(metricName, selector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to get external metric %s/%s/%+v: %s", c.Namespace, metricName, metricSelector, err)
	}
	return values, timestamp, nil
}

// ExternalValue is the proposal for an External metric with a Value target: the sum of all
// returned series against the target.
func (c *Calculator) ExternalValue(currentReplicas int32, targetMilli int64, metricName string, metricSelector *metav1.LabelSelector) MetricTrace {
	tr := c.newTrace(CalculationExternalValue, Target{Type: autoscalingv2.ValueMetricType, ValueMilli: ptr(targetMilli)}, currentReplicas)
	tr.MetricName = metricName
	values, _, err := c.externalValues(metricName, metricSelector)
	if err != nil {
		tr.fail(err)
		return tr
	}
	var usage int64
	for _, v := range values {
		if v > 0 && usage > math.MaxInt64-v {
			usage = math.MaxInt64
			break
		}
		usage += v
	}
	tr.First = &Usage{ValueMilli: ptr(usage)}
	c.valueProposal(&tr, currentReplicas, float64(usage)/float64(targetMilli))
	return tr
}

// ExternalAverageValue is the proposal for an External metric with an AverageValue target. It
// uses scale.status.replicas.
func (c *Calculator) ExternalAverageValue(statusReplicas int32, targetMilli int64, metricName string, metricSelector *metav1.LabelSelector) MetricTrace {
	tr := c.newTrace(CalculationExternalAverageValue, Target{Type: autoscalingv2.AverageValueMetricType, AverageValueMilli: ptr(targetMilli)}, statusReplicas)
	tr.MetricName = metricName
	values, timestamp, err := c.externalValues(metricName, metricSelector)
	if err != nil {
		tr.fail(err)
		return tr
	}
	tr.Timestamp = timestamp
	var usage int64
	for _, v := range values {
		usage += v
		if usage < 0 {
			usage = math.MaxInt64
			break
		}
	}
	c.perReplicaProposal(&tr, usage, targetMilli, statusReplicas, true)
	return tr
}
