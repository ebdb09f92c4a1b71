package hpa

import (
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Branch is the path a reconcile took.
type Branch string

const (
	// BranchFailedGetScale: the scale subresource could not be read; nothing else happens.
	BranchFailedGetScale Branch = "FailedGetScale"
	// BranchScalingDisabled: the target has 0 replicas and the HPA did not scale it to zero.
	BranchScalingDisabled Branch = "ScalingDisabled"
	// BranchAboveMaxReplicas and BranchBelowMinReplicas: the current count is out of range and
	// the controller moves it to the bound without reading metrics.
	BranchAboveMaxReplicas Branch = "AboveMaxReplicas"
	BranchBelowMinReplicas Branch = "BelowMinReplicas"
	// BranchMetrics: the metrics were computed and normalized.
	BranchMetrics Branch = "Metrics"
)

// Rescale reason texts, as they appear in SuccessfulRescale events.
const (
	rescaleReasonAboveMax = "Current number of replicas above Spec.MaxReplicas"
	rescaleReasonBelowMin = "Current number of replicas below Spec.MinReplicas"
	rescaleReasonAllBelow = "All metrics below target"
)

// Decision is the result of one reconcile and the trace of every step.
type Decision struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Branch    Branch `json:"branch"`
	// CurrentReplicas is scale.spec.replicas; StatusReplicas is scale.status.replicas.
	CurrentReplicas int32      `json:"currentReplicas"`
	StatusReplicas  int32      `json:"statusReplicas"`
	MinReplicas     int32      `json:"minReplicas"`
	MaxReplicas     int32      `json:"maxReplicas"`
	Selector        string     `json:"selector,omitempty"`
	Tolerances      Tolerances `json:"tolerances"`
	// Metrics holds one trace per spec.metrics entry, in spec order (empty when not computed).
	Metrics []MetricTrace `json:"metrics"`
	// SelectorError is set when the scale's selector was missing, invalid or ambiguous.
	SelectorError string `json:"selectorError,omitempty"`
	// InvalidMetrics counts the metrics that failed.
	InvalidMetrics int `json:"invalidMetrics"`
	// MetricDesiredReplicas is the highest proposal, or -1 when the metrics step failed.
	MetricDesiredReplicas int32 `json:"metricDesiredReplicas"`
	// WinningMetric is the index of the metric with the highest proposal, or -1.
	WinningMetric int `json:"winningMetric"`
	// PrenormalizedDesiredReplicas is the replica count that normalization started from.
	PrenormalizedDesiredReplicas int32               `json:"prenormalizedDesiredReplicas"`
	Stabilization                *StabilizationTrace `json:"stabilization,omitempty"`
	// Stabilized is the stabilization result with the AbleToScale reason it set.
	Stabilized *Limited `json:"stabilized,omitempty"`
	// RateLimit is the behavior rate-limit step (HPAs with behavior only).
	RateLimit *RateLimitTrace `json:"rateLimit,omitempty"`
	// Limited is the rate limit and min/max clamp result with the ScalingLimited reason.
	Limited *Limited `json:"limited,omitempty"`
	// ScaleFromZeroFloor is set when desired was raised to minReplicas after a scale from zero.
	ScaleFromZeroFloor bool `json:"scaleFromZeroFloor,omitempty"`
	// DesiredReplicas is the value the controller writes to status.desiredReplicas (and to the
	// scale when Rescale is true). On a failed metrics step it keeps the previous status value.
	DesiredReplicas int32 `json:"desiredReplicas"`
	// Rescale is set when the controller writes the scale (the write may fail, see Input.ScaleUpdateError).
	Rescale       bool   `json:"rescale"`
	RescaleReason string `json:"rescaleReason,omitempty"`
	// Status is the HPA status the controller would write, assuming the scale update succeeds.
	Status autoscalingv2.HorizontalPodAutoscalerStatus `json:"status"`
	Events []Event                                     `json:"events"`
	// Error is the error the reconcile returns to the work queue, if any.
	Error string `json:"error,omitempty"`
	// MemoryAfter is the controller's in-memory history after this reconcile.
	MemoryAfter Memory `json:"-"`
}

// Reconcile runs one reconcile of the HPA controller on in. It never changes in.
func Reconcile(in Input) Decision {
	h := in.HPA.DeepCopy()
	now := in.Now
	d := Decision{
		Namespace:     h.Namespace,
		Name:          h.Name,
		MaxReplicas:   h.Spec.MaxReplicas,
		WinningMetric: -1,
		Tolerances:    TolerancesFor(h, in.Settings),
	}
	minReplicas := int32(1)
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	d.MinReplicas = minReplicas
	memory := in.Memory.Clone()
	status := h.Status.DeepCopy()
	conditions := status.Conditions
	event := func(eventType, reason, message string) {
		d.Events = append(d.Events, Event{Type: eventType, Reason: reason, Message: message})
	}
	condition := func(t autoscalingv2.HorizontalPodAutoscalerConditionType, s corev1.ConditionStatus, reason, message string) {
		conditions = setCondition(conditions, t, s, reason, message, now)
	}
	reference := fmt.Sprintf("%s/%s/%s", h.Spec.ScaleTargetRef.Kind, h.Namespace, h.Spec.ScaleTargetRef.Name)

	// The scale subresource.
	scaleErr := in.ScaleError
	var reconcileErr error
	if _, err := schema.ParseGroupVersion(h.Spec.ScaleTargetRef.APIVersion); err != nil {
		scaleErr = err
		reconcileErr = fmt.Errorf("invalid API version in scale target reference: %v", err)
	} else if scaleErr != nil {
		reconcileErr = fmt.Errorf("failed to query scale subresource for %s: %w", reference, scaleErr)
	}
	if scaleErr != nil {
		event(corev1.EventTypeWarning, "FailedGetScale", scaleErr.Error())
		condition(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale",
			fmt.Sprintf("the HPA controller was unable to get the target's current scale: %v", scaleErr))
		d.Branch = BranchFailedGetScale
		d.MetricDesiredReplicas = -1
		d.DesiredReplicas = status.DesiredReplicas
		status.Conditions = conditions
		d.Status = *status
		d.Error = reconcileErr.Error()
		d.MemoryAfter = memory
		return d
	}
	condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")

	current := in.Scale.SpecReplicas
	d.CurrentReplicas = current
	d.StatusReplicas = in.Scale.StatusReplicas
	d.Selector = in.Scale.Selector
	if memory.Recommendations == nil {
		memory.Recommendations = []Recommendation{{Replicas: current, Timestamp: now}}
	}

	gates := in.Settings.FeatureGates
	hasObjectOrExternal := hasObjectOrExternalMetric(h)
	scaledToZero := gates.HPAScaleToZero && scaledToZeroCondition(conditions)
	canScaleFromZero := scaledToZero && hasObjectOrExternal

	desired := int32(0)
	rescale := true
	computeMetrics := true
	var statuses []autoscalingv2.MetricStatus
	switch {
	case current == 0:
		if !((minReplicas != 0 && scaledToZero) || canScaleFromZero) {
			computeMetrics, rescale = false, false
			d.Branch = BranchScalingDisabled
			condition(autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
			if !gates.HPAScaleToZero {
				conditions = removeCondition(conditions, autoscalingv2.ScaledToZero)
			}
		}
	case current > h.Spec.MaxReplicas:
		d.Branch, d.RescaleReason = BranchAboveMaxReplicas, rescaleReasonAboveMax
		desired, computeMetrics = h.Spec.MaxReplicas, false
	case current < minReplicas:
		d.Branch, d.RescaleReason = BranchBelowMinReplicas, rescaleReasonBelowMin
		desired, computeMetrics = minReplicas, false
	}

	if computeMetrics {
		d.Branch = BranchMetrics
		var metricName string
		var err error
		d.MetricDesiredReplicas, metricName, statuses, err = d.computeMetrics(in, h, &conditions, event, now)
		if err != nil && d.MetricDesiredReplicas == -1 {
			// The status keeps the previous desiredReplicas; nothing is normalized or stored.
			event(corev1.EventTypeWarning, "FailedComputeMetricsReplicas", err.Error())
			d.DesiredReplicas = status.DesiredReplicas
			d.Error = fmt.Sprintf("failed to compute desired number of replicas based on listed metrics for %s: %v", reference, err)
			d.Status = buildStatus(status, h, current, status.DesiredReplicas, statuses, conditions, false, now, gates)
			d.MemoryAfter = memory
			return d
		}
		if err != nil {
			reconcileErr = err
		}

		rescaleMetric := ""
		if d.MetricDesiredReplicas > desired {
			desired = d.MetricDesiredReplicas
			rescaleMetric = metricName
		}
		if desired > current {
			d.RescaleReason = fmt.Sprintf("%s above target", rescaleMetric)
		}
		if desired < current {
			d.RescaleReason = rescaleReasonAllBelow
		}
		d.PrenormalizedDesiredReplicas = desired
		if h.Spec.Behavior == nil {
			desired = d.normalizeLegacy(&memory, in.Settings, current, desired, minReplicas, h.Spec.MaxReplicas, now, condition)
		} else {
			desired = d.normalizeWithBehavior(&memory, in.Settings, h.Spec.Behavior, current, desired, minReplicas, h.Spec.MaxReplicas, now, condition)
		}
		if current == 0 && minReplicas != 0 && scaledToZero && desired < minReplicas {
			desired = minReplicas
			d.ScaleFromZeroFloor = true
			if d.RescaleReason == "" {
				d.RescaleReason = rescaleReasonBelowMin
			}
		}
		rescale = desired != current
	}

	if rescale && in.ScaleUpdateError != nil {
		// The status keeps the previous desiredReplicas and lastScaleTime; no scale event is stored.
		updateErr := in.ScaleUpdateError
		event(corev1.EventTypeWarning, "FailedRescale", fmt.Sprintf("New size: %d; reason: %s; error: %v", desired, d.RescaleReason, updateErr))
		condition(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale",
			fmt.Sprintf("the HPA controller was unable to update the target scale: %v", updateErr))
		d.Rescale = true
		d.DesiredReplicas = status.DesiredReplicas
		d.Error = fmt.Sprintf("failed to rescale %s: %v", reference, updateErr)
		d.Status = buildStatus(status, h, current, status.DesiredReplicas, statuses, conditions, false, now, gates)
		d.MemoryAfter = memory
		return d
	}
	if rescale {
		condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale",
			fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired))
		event(corev1.EventTypeNormal, "SuccessfulRescale", fmt.Sprintf("New size: %d; reason: %s", desired, d.RescaleReason))
		memory = StoreScaleEvent(memory, h.Spec.Behavior, current, desired, now)
		if gates.HPAScaleToZero {
			if current > 0 && desired == 0 && minReplicas == 0 && hasObjectOrExternal {
				condition(autoscalingv2.ScaledToZero, corev1.ConditionTrue, "ScaledToZero", "the HPA controller scaled the workload to zero")
			} else {
				condition(autoscalingv2.ScaledToZero, corev1.ConditionFalse, "NotScaledToZero", "the HPA controller did not scale the workload to zero")
			}
		} else {
			conditions = removeCondition(conditions, autoscalingv2.ScaledToZero)
		}
	} else {
		desired = current
	}
	d.Rescale = rescale
	d.DesiredReplicas = desired
	d.Status = buildStatus(status, h, current, desired, statuses, conditions, rescale, now, gates)
	if reconcileErr != nil {
		d.Error = reconcileErr.Error()
	}
	d.MemoryAfter = memory
	return d
}

func buildStatus(old *autoscalingv2.HorizontalPodAutoscalerStatus, h *autoscalingv2.HorizontalPodAutoscaler, current, desired int32, statuses []autoscalingv2.MetricStatus, conditions []autoscalingv2.HorizontalPodAutoscalerCondition, rescale bool, now time.Time, gates FeatureGates) autoscalingv2.HorizontalPodAutoscalerStatus {
	out := autoscalingv2.HorizontalPodAutoscalerStatus{
		CurrentReplicas: current,
		DesiredReplicas: desired,
		LastScaleTime:   old.LastScaleTime,
		CurrentMetrics:  statuses,
		Conditions:      conditions,
	}
	if gates.HPAGeneration {
		out.ObservedGeneration = ptr(h.Generation)
	}
	if rescale {
		t := metav1.NewTime(now)
		out.LastScaleTime = &t
	}
	return out
}

func hasObjectOrExternalMetric(h *autoscalingv2.HorizontalPodAutoscaler) bool {
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType {
			return true
		}
	}
	return false
}

func scaledToZeroCondition(conditions []autoscalingv2.HorizontalPodAutoscalerCondition) bool {
	c := FindCondition(conditions, autoscalingv2.ScaledToZero)
	return c != nil && c.Status == corev1.ConditionTrue
}

// computeMetrics validates the selector, computes every metric and combines them. The highest
// proposal wins. Any invalid metric forbids a scale-down, and all invalid forbid any change.
func (d *Decision) computeMetrics(in Input, h *autoscalingv2.HorizontalPodAutoscaler, conditions *[]autoscalingv2.HorizontalPodAutoscalerCondition, event func(string, string, string), now time.Time) (int32, string, []autoscalingv2.MetricStatus, error) {
	setActive := func(s corev1.ConditionStatus, reason, message string) {
		*conditions = setCondition(*conditions, autoscalingv2.ScalingActive, s, reason, message, now)
	}
	selector, pods, err := validateSelector(in, h)
	if err != nil {
		d.SelectorError = err.message
		event(corev1.EventTypeWarning, err.eventReason, err.message)
		setActive(corev1.ConditionFalse, err.conditionReason, err.conditionMessage)
		return -1, "", nil, fmt.Errorf("%s", err.message)
	}

	calc := &Calculator{
		Namespace:               h.Namespace,
		Selector:                selector,
		Pods:                    pods,
		Metrics:                 in.Metrics,
		Tolerances:              d.Tolerances,
		CPUInitializationPeriod: in.Settings.CPUInitializationPeriod,
		InitialReadinessDelay:   in.Settings.InitialReadinessDelay,
		PodLevelResources:       in.Settings.FeatureGates.PodLevelResources,
		Now:                     now,
	}
	statuses := make([]autoscalingv2.MetricStatus, len(h.Spec.Metrics))
	var replicas int32
	var name string
	var firstErr error
	var firstFailed *MetricTrace
	for i, spec := range h.Spec.Metrics {
		tr := ComputeMetric(calc, spec, in.Scale.SpecReplicas, in.Scale.StatusReplicas)
		tr.Index = i
		d.Metrics = append(d.Metrics, tr)
		if tr.Err != nil {
			if tr.Reason != "" {
				event(corev1.EventTypeWarning, tr.Reason, tr.EventMessage)
			}
			if firstErr == nil {
				firstErr = tr.Err
				firstFailed = &d.Metrics[len(d.Metrics)-1]
			}
			d.InvalidMetrics++
			continue
		}
		statuses[i] = tr.Status
		if replicas == 0 || tr.Proposal > replicas {
			replicas, name = tr.Proposal, tr.Name
			d.WinningMetric = i
		}
	}

	var err2 error
	if firstErr != nil {
		err2 = fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", d.InvalidMetrics, len(h.Spec.Metrics), firstErr)
	}
	if d.InvalidMetrics >= len(h.Spec.Metrics) || (d.InvalidMetrics > 0 && replicas < in.Scale.SpecReplicas) {
		if firstFailed != nil {
			// A metric that failed with no reason (a spec error in a wrapped calculation)
			// leaves the condition as the controller's zero-valued condition would.
			setActive(corev1.ConditionFalse, firstFailed.Reason, "the HPA was unable to compute the replica count: "+firstFailed.EventMessage)
		}
		d.WinningMetric = -1
		return -1, "", statuses, err2
	}
	setActive(corev1.ConditionTrue, "ValidMetricFound", fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", name))
	return replicas, name, statuses, err2
}

type selectorError struct {
	eventReason, conditionReason, message, conditionMessage string
}

// validateSelector parses scale.status.selector, lists the matching pods and checks that no
// other HPA selects any of them.
func validateSelector(in Input, h *autoscalingv2.HorizontalPodAutoscaler) (labels.Selector, []*corev1.Pod, *selectorError) {
	if in.Scale.Selector == "" {
		return nil, nil, &selectorError{eventReason: "SelectorRequired", conditionReason: "InvalidSelector",
			message: "selector is required", conditionMessage: "the HPA target's scale is missing a selector"}
	}
	selector, err := labels.Parse(in.Scale.Selector)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		return nil, nil, &selectorError{eventReason: "InvalidSelector", conditionReason: "InvalidSelector", message: msg, conditionMessage: msg}
	}
	var pods []*corev1.Pod
	for _, pod := range in.Pods {
		if pod.Namespace != "" && pod.Namespace != h.Namespace {
			continue
		}
		if selector.Matches(labels.Set(pod.Labels)) {
			pods = append(pods, pod)
		}
	}
	self := h.Namespace + "/" + h.Name
	selecting := []string{self}
	for key, other := range in.OtherHPASelectors {
		if key == self || other == nil {
			continue
		}
		for _, pod := range pods {
			if other.Matches(labels.Set(pod.Labels)) {
				selecting = append(selecting, key)
				break
			}
		}
	}
	if len(selecting) > 1 {
		// The controller names at most two HPAs here, in map order, so the real message may list
		// the same two in the other order.
		msg := fmt.Sprintf("pods by selector %v are controlled by more than one HPA (e.g. %v)", in.Scale.Selector, selecting[:2])
		return nil, nil, &selectorError{eventReason: "AmbiguousSelector", conditionReason: "AmbiguousSelector", message: msg, conditionMessage: msg}
	}
	return selector, pods, nil
}

func (d *Decision) normalizeLegacy(memory *Memory, settings ControllerSettings, current, desired, minReplicas, maxReplicas int32, now time.Time, condition func(autoscalingv2.HorizontalPodAutoscalerConditionType, corev1.ConditionStatus, string, string)) int32 {
	stabilized, stored, tr := StabilizeLegacy(memory.Recommendations, desired, settings.DownscaleStabilizationWindow, now)
	memory.Recommendations = stored
	d.Stabilization = &tr
	if stabilized != desired {
		d.Stabilized = &Limited{Replicas: stabilized, Reason: ReasonScaleDownStabilized, Message: messageScaleDownStabilized}
	} else {
		d.Stabilized = &Limited{Replicas: stabilized, Reason: ReasonReadyForNewScale, Message: messageReadyForNewScale}
	}
	condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, d.Stabilized.Reason, d.Stabilized.Message)

	limited := RateLimitLegacy(current, stabilized, minReplicas, maxReplicas, settings.ScaleUpLimitFactor, settings.ScaleUpLimitMinimum)
	d.Limited = &limited
	limitedStatus := corev1.ConditionTrue
	if limited.Replicas == stabilized {
		limitedStatus = corev1.ConditionFalse
	}
	condition(autoscalingv2.ScalingLimited, limitedStatus, limited.Reason, limited.Message)
	return limited.Replicas
}

func (d *Decision) normalizeWithBehavior(memory *Memory, settings ControllerSettings, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired, minReplicas, maxReplicas int32, now time.Time, condition func(autoscalingv2.HorizontalPodAutoscalerConditionType, corev1.ConditionStatus, string, string)) int32 {
	b := DefaultBehavior(behavior)
	if b.ScaleDown.StabilizationWindowSeconds == nil {
		// The controller fills an unset scale-down window from its flag, in whole seconds.
		b.ScaleDown.StabilizationWindowSeconds = ptr(int32(settings.DownscaleStabilizationWindow.Seconds()))
	}
	upWindow := time.Duration(*b.ScaleUp.StabilizationWindowSeconds) * time.Second
	downWindow := time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second

	stabilized, stored, tr := StabilizeWithBehavior(memory.Recommendations, current, desired, upWindow, downWindow, now)
	memory.Recommendations = stored
	d.Stabilization = &tr
	if stabilized.Replicas == desired {
		stabilized.Reason, stabilized.Message = ReasonReadyForNewScale, messageReadyForNewScale
	}
	d.Stabilized = &stabilized
	condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, stabilized.Reason, stabilized.Message)

	limited, rateTrace := RateLimitWithBehavior(current, stabilized.Replicas, minReplicas, maxReplicas, b.ScaleUp, b.ScaleDown, memory.ScaleUpEvents, memory.ScaleDownEvents, now)
	d.RateLimit = &rateTrace
	d.Limited = &limited
	limitedStatus := corev1.ConditionTrue
	if limited.Replicas == stabilized.Replicas {
		limitedStatus = corev1.ConditionFalse
	}
	condition(autoscalingv2.ScalingLimited, limitedStatus, limited.Reason, limited.Message)
	return limited.Replicas
}
