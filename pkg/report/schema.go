package report

import (
	"time"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// APIVersion and Kind identify the -o json|yaml document. The fields below are the documented
// output schema (docs/output-schema.md): add fields freely, but rename or remove one only with a
// new APIVersion.
const (
	APIVersion = "kubectl-mlflow.io/v1alpha1"
	Kind       = "HPAExplanationList"
)

// Explanation is the document that explain-hpa writes for -o json and -o yaml.
type Explanation struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []Item `json:"items"`
}

// NewExplanation wraps items in an Explanation. A nil items becomes an empty list, so the
// document always has an items array.
func NewExplanation(items []Item) Explanation {
	if items == nil {
		items = []Item{}
	}
	return Explanation{APIVersion: APIVersion, Kind: Kind, Items: items}
}

// Item is the explanation of one HPA's next decision.
type Item struct {
	Namespace      string         `json:"namespace"`
	Name           string         `json:"name"`
	ScaleTargetRef ScaleTargetRef `json:"scaleTargetRef"`
	// EvaluatedAt is the moment the decision was computed for (RFC 3339, UTC).
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// Controller is the kube-controller-manager configuration the decision assumes.
	Controller Controller `json:"controller"`
	// Source names where the objects were read, for example "cluster".
	Source string `json:"source,omitempty"`

	// CurrentReplicas is scale.spec.replicas; StatusReplicas is scale.status.replicas.
	CurrentReplicas int32 `json:"currentReplicas"`
	StatusReplicas  int32 `json:"statusReplicas"`
	// DesiredReplicas is the value the controller writes to status.desiredReplicas, and to the
	// scale when Rescale is true.
	DesiredReplicas int32 `json:"desiredReplicas"`
	Rescale         bool  `json:"rescale"`
	// RescaleReason is the reason text of the SuccessfulRescale event.
	RescaleReason string `json:"rescaleReason,omitempty"`
	// Verdict is the one-line summary that the text output prints first.
	Verdict     string `json:"verdict"`
	MinReplicas int32  `json:"minReplicas"`
	MaxReplicas int32  `json:"maxReplicas"`
	// Branch is the reconcile path: Metrics, AboveMaxReplicas, BelowMinReplicas,
	// ScalingDisabled or FailedGetScale.
	Branch   string `json:"branch"`
	Selector string `json:"selector,omitempty"`

	Metrics []Metric `json:"metrics"`
	// MetricDesiredReplicas is the highest metric proposal, or -1 when the metrics step failed.
	MetricDesiredReplicas int32 `json:"metricDesiredReplicas"`
	// PrenormalizedDesiredReplicas is the count that stabilization started from.
	PrenormalizedDesiredReplicas int32          `json:"prenormalizedDesiredReplicas"`
	WinningMetric                *WinningMetric `json:"winningMetric"`
	Stabilization                *Stabilization `json:"stabilization"`
	RateLimit                    *RateLimit     `json:"rateLimit"`
	Limited                      *Limited       `json:"limited"`
	// ScaleFromZeroFloor is true when desired was raised to minReplicas after a scale from zero.
	ScaleFromZeroFloor bool `json:"scaleFromZeroFloor,omitempty"`
	// OutcomeRange is the range of desired replica counts that other controller memories allow.
	OutcomeRange *ReplicaRange `json:"outcomeRange,omitempty"`

	Conditions  []Condition `json:"conditions"`
	Events      []Event     `json:"events"`
	Memory      Memory      `json:"memory"`
	Assumptions []string    `json:"assumptions"`
	Warnings    []string    `json:"warnings"`
	// LastStatus is the status the controller last wrote, as read; absent before its first write.
	LastStatus *LastStatus `json:"lastStatus,omitempty"`
	// Evidence are conclusions drawn from LastStatus about what the tool cannot see.
	Evidence []string `json:"evidence"`
	// Error is the error the reconcile returns to the controller's work queue, if any.
	Error string `json:"error,omitempty"`
	// Hint is the fix for Error, when a known cause is recognized.
	Hint string `json:"hint,omitempty"`
}

// ScaleTargetRef is the HPA's spec.scaleTargetRef.
type ScaleTargetRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

// Metric is one spec.metrics entry with its replica proposal.
type Metric struct {
	Index int `json:"index"`
	// Type is the metric source type: Resource, ContainerResource, Pods, Object or External.
	Type string `json:"type"`
	// Name is the metric name used in the controller's messages, for example
	// "cpu resource utilization (percentage of request)". It is empty when the metric failed.
	Name string `json:"name"`
	// Calculation is the replica calculation used, for example ResourceUtilization.
	Calculation string `json:"calculation,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Container   string `json:"container,omitempty"`
	MetricName  string `json:"metricName,omitempty"`
	// ProposedReplicas is the metric's replica proposal (0 when the metric failed).
	ProposedReplicas int32 `json:"proposedReplicas"`
	// StartReplicas is the count the calculation compares with: scale.spec.replicas, or
	// scale.status.replicas for Object and External AverageValue targets.
	StartReplicas int32        `json:"startReplicas"`
	Target        Target       `json:"target"`
	Current       *MetricValue `json:"current,omitempty"`
	// Ratio is the usage ratio of the first pass: current divided by target.
	Ratio           *float64  `json:"ratio,omitempty"`
	Tolerance       Tolerance `json:"tolerance"`
	WithinTolerance *bool     `json:"withinTolerance,omitempty"`
	// Count is the number the ratio is multiplied by: ready pods for Resource and Pods metrics,
	// Running and Ready pods for Object and External Value targets, status replicas for Object and
	// External AverageValue targets.
	Count     int64      `json:"count,omitempty"`
	PodGroups *PodGroups `json:"podGroups,omitempty"`
	Rule      *Rule      `json:"rule,omitempty"`
	Adjusted  *Adjusted  `json:"adjusted,omitempty"`
	// Samples are the per-pod values the last pass used, including values the controller filled in.
	Samples  []PodSample  `json:"samples,omitempty"`
	Error    *MetricError `json:"error,omitempty"`
	NextStep *NextStep    `json:"nextStep,omitempty"`
}

// MetricValue is a metric value in both forms: a Kubernetes quantity string and an integer in
// milli-units. Only the fields that apply to the metric are set.
type MetricValue struct {
	// AverageUtilization is an integer percent of the summed requests, truncated as the controller does.
	AverageUtilization *int32  `json:"averageUtilization,omitempty"`
	AverageValue       *string `json:"averageValue,omitempty"`
	AverageValueMilli  *int64  `json:"averageValueMilli,omitempty"`
	Value              *string `json:"value,omitempty"`
	ValueMilli         *int64  `json:"valueMilli,omitempty"`
}

// Target is a metric's target: its type (Utilization, AverageValue or Value) and value.
type Target struct {
	Type string `json:"type"`
	MetricValue
}

// Tolerance is the band of usage ratios within which the metric keeps the current count.
type Tolerance struct {
	ScaleDown float64 `json:"scaleDown"`
	ScaleUp   float64 `json:"scaleUp"`
	// Lower is 1 - ScaleDown and Upper is 1 + ScaleUp. Both ends are inside the band.
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// PodGroups are the selected pods sorted as the controller sorts them before using their metrics.
type PodGroups struct {
	Ready   []string `json:"ready"`
	Unready []string `json:"unready"`
	// UnreadyReasons maps each unready pod to the rule that made it unready: Pending,
	// NoReadyCondition, NotReadyDuringCPUInitialization, SampleBeforeReady or NeverReadySinceStart.
	UnreadyReasons map[string]string `json:"unreadyReasons,omitempty"`
	Missing        []string          `json:"missing"`
	Ignored        []string          `json:"ignored"`
}

// Rule is the branch of the replica calculation that produced the proposal.
type Rule struct {
	// Name is the engine's rule name, for example ScaleByRatio or WithinTolerance.
	Name string `json:"name"`
	// Expression is the rule with its numbers, for example "ceil(1.20 × 3 ready pods) = 4".
	Expression string `json:"expression"`
}

// Adjusted is the second pass of a Resource or Pods metric, in which missing pods and (on a
// scale-up) unready pods were counted with filled-in values.
type Adjusted struct {
	Current         MetricValue `json:"current"`
	Ratio           float64     `json:"ratio"`
	Count           int64       `json:"count"`
	WithinTolerance bool        `json:"withinTolerance"`
	// MissingValue and UnreadyValue describe the value each group was counted as, for example
	// "0%" or "100% of request". They are empty when the group was not counted.
	MissingValue string `json:"missingValue,omitempty"`
	UnreadyValue string `json:"unreadyValue,omitempty"`
}

// PodSample is one pod's value in a Resource or Pods metric.
type PodSample struct {
	Pod          string `json:"pod"`
	Value        string `json:"value"`
	ValueMilli   int64  `json:"valueMilli"`
	Request      string `json:"request,omitempty"`
	RequestMilli *int64 `json:"requestMilli,omitempty"`
	// Filled is "missing" or "unready" when the controller substituted the value.
	Filled string `json:"filled,omitempty"`
}

// MetricError is the failure of one metric, with a fix when the cause is recognized.
type MetricError struct {
	// Reason is the ScalingActive condition reason, for example FailedGetResourceMetric.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// NextStep is the metric value at which this metric would propose one pod more or one pod
// fewer than today, for today's pod counts, tolerance and target.
type NextStep struct {
	ScaleUp   *Step `json:"scaleUp,omitempty"`
	ScaleDown *Step `json:"scaleDown,omitempty"`
	// Unavailable is the reason no thresholds were computed, or why one direction has none.
	Unavailable string `json:"unavailable,omitempty"`
	// Note states what the thresholds leave out: stabilization, rate limits and other metrics.
	Note string `json:"note"`
}

// Step is one threshold of a NextStep. Its value fields match the metric's target type.
type Step struct {
	MetricValue
	// ProposedReplicas is the metric's proposal at the threshold value.
	ProposedReplicas int32 `json:"proposedReplicas"`
	// ClampedTo is set when minReplicas or maxReplicas would clamp the proposal.
	ClampedTo *int32 `json:"clampedTo,omitempty"`
}

// WinningMetric is the metric with the highest proposal.
type WinningMetric struct {
	Index            int    `json:"index"`
	Name             string `json:"name"`
	ProposedReplicas int32  `json:"proposedReplicas"`
}

// Stabilization is the stabilization step of normalization.
type Stabilization struct {
	// Mode is "legacy" (HPA without spec.behavior) or "behavior".
	Mode string `json:"mode"`
	// Recommendation is the raw recommendation that entered the step and was stored.
	Recommendation     int32 `json:"recommendation"`
	UpWindowSeconds    int64 `json:"upWindowSeconds"`
	DownWindowSeconds  int64 `json:"downWindowSeconds"`
	UpRecommendation   int32 `json:"upRecommendation"`
	DownRecommendation int32 `json:"downRecommendation"`
	// Considered are the stored recommendations inside a window.
	Considered []Recommendation `json:"considered"`
	Result     int32            `json:"result"`
	// Held is true when the stabilization result differs from Recommendation.
	Held    bool   `json:"held"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Recommendation is one stored recommendation of the controller's memory.
type Recommendation struct {
	Replicas  int32     `json:"replicas"`
	Timestamp time.Time `json:"timestamp"`
}

// RateLimit is the behavior rate-limit step (HPAs with spec.behavior only).
type RateLimit struct {
	// Direction is "up", "down" or "none".
	Direction    string `json:"direction"`
	SelectPolicy string `json:"selectPolicy,omitempty"`
	// Limit is the replica count the selected policy allows now.
	Limit    int32    `json:"limit"`
	Policies []Policy `json:"policies"`
	Result   Limited  `json:"result"`
}

// Policy is one scaling policy's limit.
type Policy struct {
	Type          string `json:"type"`
	Value         int32  `json:"value"`
	PeriodSeconds int32  `json:"periodSeconds"`
	// PeriodStartReplicas is the replica count at the start of the period, rebuilt from the
	// scale events in the controller's memory.
	PeriodStartReplicas int32 `json:"periodStartReplicas"`
	Limit               int32 `json:"limit"`
	// Selected is true for the policy whose limit selectPolicy picked.
	Selected bool `json:"selected"`
}

// Limited is a replica count with the condition reason and message of the rule that produced it.
type Limited struct {
	Replicas int32  `json:"replicas"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	// Active is true when the rule changed the count (ScalingLimited=True).
	Active bool `json:"active"`
}

// ReplicaRange is an inclusive range of replica counts.
type ReplicaRange struct {
	Lowest  int32 `json:"lowest"`
	Highest int32 `json:"highest"`
}

// Condition is an HPA status condition as the controller would write it.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Event is an event the controller would record on the HPA.
type Event struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Memory describes the controller memory that the decision assumed.
type Memory struct {
	// Source is AssumedFresh, MemoryFile or RebuiltFromEvents.
	Source      string `json:"source"`
	Description string `json:"description"`
	// ScaleUpEvents and ScaleDownEvents count the remembered scale events inside a policy period.
	ScaleUpEvents   int `json:"scaleUpEvents"`
	ScaleDownEvents int `json:"scaleDownEvents"`
}

// Controller is the kube-controller-manager configuration a decision assumes. Durations are Go
// duration strings, for example "15s" or "5m0s".
type Controller struct {
	Tolerance                    float64          `json:"tolerance"`
	SyncPeriod                   string           `json:"syncPeriod"`
	DownscaleStabilizationWindow string           `json:"downscaleStabilizationWindow"`
	CPUInitializationPeriod      string           `json:"cpuInitializationPeriod"`
	InitialReadinessDelay        string           `json:"initialReadinessDelay"`
	FeatureGates                 hpa.FeatureGates `json:"featureGates"`
}
