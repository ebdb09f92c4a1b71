package hpa

import (
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// Calculation names the replica calculation that the controller applies to one metric.
type Calculation string

const (
	CalculationResourceUtilization  Calculation = "ResourceUtilization"
	CalculationResourceAverageValue Calculation = "ResourceAverageValue"
	CalculationPodsAverageValue     Calculation = "PodsAverageValue"
	CalculationObjectValue          Calculation = "ObjectValue"
	CalculationObjectAverageValue   Calculation = "ObjectAverageValue"
	CalculationExternalValue        Calculation = "ExternalValue"
	CalculationExternalAverageValue Calculation = "ExternalAverageValue"
)

// Rule names the branch of a replica calculation that produced a metric's proposal.
type Rule string

const (
	// RuleWithinTolerance: the usage ratio is inside the tolerance band, so the proposal is the
	// current replica count (status replicas for Object and External AverageValue targets).
	RuleWithinTolerance Rule = "WithinTolerance"
	// RuleScaleByRatio: proposal = ceil(ratio * count), where count is the ready pods with a
	// sample (Resource, Pods) or the Running and Ready pods (Object, External Value).
	RuleScaleByRatio Rule = "ScaleByRatio"
	// RuleUsageOverTarget: proposal = ceil(usage / target average) (Object, External AverageValue).
	RuleUsageOverTarget Rule = "UsageOverTarget"
	// RuleFromZero: the target has 0 replicas, proposal = ceil(ratio) (Object, External Value).
	RuleFromZero Rule = "ScaleFromZero"
	// RuleAdjustedWithinTolerance: after counting missing and unready pods the ratio is within
	// tolerance, so the proposal is the current replica count.
	RuleAdjustedWithinTolerance Rule = "AdjustedWithinTolerance"
	// RuleAdjustedDirectionFlip: counting missing and unready pods reversed the direction of the
	// change, so the proposal is the current replica count.
	RuleAdjustedDirectionFlip Rule = "AdjustedDirectionFlip"
	// RuleAdjustedWrongWay: the adjusted proposal would move against the adjusted ratio, so the
	// proposal is the current replica count.
	RuleAdjustedWrongWay Rule = "AdjustedWrongWay"
	// RuleAdjustedScaleByRatio: proposal = ceil(adjusted ratio * samples incl. missing and unready pods).
	RuleAdjustedScaleByRatio Rule = "AdjustedScaleByRatio"
)

// Target is a metric target in the controller's units.
type Target struct {
	Type autoscalingv2.MetricTargetType `json:"type"`
	// AverageUtilization is a percent of the request.
	AverageUtilization *int32 `json:"averageUtilization,omitempty"`
	// AverageValueMilli and ValueMilli are milli-units.
	AverageValueMilli *int64 `json:"averageValueMilli,omitempty"`
	ValueMilli        *int64 `json:"valueMilli,omitempty"`
}

// PodSample is one pod's contribution to a Resource or Pods metric.
type PodSample struct {
	Pod        string `json:"pod"`
	ValueMilli int64  `json:"valueMilli"`
	// RequestMilli is the pod's request, for utilization targets only.
	RequestMilli *int64 `json:"requestMilli,omitempty"`
	// Filled is set when the controller substituted the value: "missing" or "unready".
	Filled string `json:"filled,omitempty"`
}

// Usage is the aggregate the controller compares with the target in one pass.
type Usage struct {
	// Utilization is the integer percent of the summed requests (truncated), for utilization targets.
	Utilization *int32 `json:"utilization,omitempty"`
	// AverageMilli is the per-pod average (integer division), or for Object and External
	// AverageValue targets ceil(value / status replicas).
	AverageMilli *int64 `json:"averageMilli,omitempty"`
	// ValueMilli is the object value or the sum of the external values.
	ValueMilli *int64 `json:"valueMilli,omitempty"`
	// Ratio is the usage ratio: usage divided by target.
	Ratio float64 `json:"ratio"`
	// Count is the number of samples (or pods) that the ratio is multiplied by.
	Count int64 `json:"count"`
	// Within reports whether Ratio is inside the tolerance band.
	Within bool `json:"withinTolerance"`
}

// MetricTrace is the full account of one metric's replica proposal.
type MetricTrace struct {
	Index       int                            `json:"index"`
	Type        autoscalingv2.MetricSourceType `json:"type"`
	Calculation Calculation                    `json:"calculation,omitempty"`
	// Name is the metric name that the controller uses in messages, for example
	// "cpu resource utilization (percentage of request)".
	Name       string     `json:"name"`
	Resource   string     `json:"resource,omitempty"`
	Container  string     `json:"container,omitempty"`
	MetricName string     `json:"metricName,omitempty"`
	Target     Target     `json:"target"`
	Tolerances Tolerances `json:"tolerances"`
	// ReplicasIn is the replica count the calculation starts from: scale.spec.replicas, or
	// scale.status.replicas for Object and External AverageValue targets.
	ReplicasIn int32       `json:"replicasIn"`
	Groups     *PodGroups  `json:"podGroups,omitempty"`
	Samples    []PodSample `json:"samples,omitempty"`
	// First is the first pass over the trusted samples; its values become status.currentMetrics.
	First *Usage `json:"first,omitempty"`
	// Adjusted is the second pass with missing and unready pods counted, when there was one.
	Adjusted  *Usage    `json:"adjusted,omitempty"`
	Rule      Rule      `json:"rule,omitempty"`
	Proposal  int32     `json:"proposedReplicas"`
	Timestamp time.Time `json:"timestamp,omitempty"`
	// Status is the entry this metric contributes to status.currentMetrics (empty on error).
	Status autoscalingv2.MetricStatus `json:"-"`
	// Err is the calculation's error; Error is its text. Reason is the ScalingActive condition
	// reason for a failed metric, for example FailedGetResourceMetric.
	Err    error  `json:"-"`
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
	// EventMessage is the text of the Warning event (reason Reason) that the controller emits for
	// a failed metric, and of the ScalingActive condition message after
	// "the HPA was unable to compute the replica count: ". It is less wrapped than Error.
	EventMessage string `json:"eventMessage,omitempty"`
}

func (m *MetricTrace) fail(err error) {
	m.Err = err
	if err != nil {
		m.Error = err.Error()
	}
}
