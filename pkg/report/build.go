package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// MemorySource is the origin of the controller memory given to the engine.
type MemorySource string

const (
	// MemoryAssumedFresh is the memory of a controller that has just started: one recommendation
	// equal to the current replica count and no scale events.
	MemoryAssumedFresh MemorySource = "AssumedFresh"
	// MemoryFromFile is a memory the user recorded in a memory file.
	MemoryFromFile MemorySource = "MemoryFile"
	// MemoryRebuiltFromEvents is a fresh controller's recommendations with scale events rebuilt
	// from SuccessfulRescale Events.
	MemoryRebuiltFromEvents MemorySource = "RebuiltFromEvents"
)

// Context is the input that Build needs beyond the engine's Decision.
type Context struct {
	ScaleTargetRef autoscalingv2.CrossVersionObjectReference
	// Behavior is the HPA's spec.behavior, nil for a legacy HPA.
	Behavior    *autoscalingv2.HorizontalPodAutoscalerBehavior
	EvaluatedAt time.Time
	// Source names where the objects were read, for example "cluster".
	Source string
	// Offline is set when the objects come from manifests, not from a cluster: hints then point at
	// what the manifests lack instead of at the cluster's metrics pipeline.
	Offline bool
	// Settings are the controller settings the decision was computed with.
	Settings hpa.ControllerSettings
	// MemorySource and Memory are the controller memory the reconcile started from.
	MemorySource MemorySource
	Memory       hpa.Memory
	// Notes are assumptions that the readers made, shown as they are.
	Notes []string
	// Unavailable holds why an API or resource could not be read, keyed by its name, for example
	// "metrics.k8s.io" or "events".
	Unavailable map[string]error
	// HPA is the object as read, whose status is the controller's last output; nil when unknown.
	HPA *autoscalingv2.HorizontalPodAutoscaler
}

// nextStepNote is the caveat attached to every next step.
const nextStepNote = "thresholds for this metric alone, with today's pod counts; stabilization, rate limits, " +
	"minReplicas/maxReplicas and the other metrics may still hold the change"

// Build turns one engine decision and its context into the documented output schema.
func Build(decision hpa.Decision, ctx Context) Item {
	item := Item{
		Namespace:      decision.Namespace,
		Name:           decision.Name,
		ScaleTargetRef: ScaleTargetRef{APIVersion: ctx.ScaleTargetRef.APIVersion, Kind: ctx.ScaleTargetRef.Kind, Name: ctx.ScaleTargetRef.Name},
		EvaluatedAt:    ctx.EvaluatedAt.UTC(),
		Controller: Controller{
			Tolerance:                    ctx.Settings.Tolerance,
			SyncPeriod:                   ctx.Settings.SyncPeriod.String(),
			DownscaleStabilizationWindow: ctx.Settings.DownscaleStabilizationWindow.String(),
			CPUInitializationPeriod:      ctx.Settings.CPUInitializationPeriod.String(),
			InitialReadinessDelay:        ctx.Settings.InitialReadinessDelay.String(),
			FeatureGates:                 ctx.Settings.FeatureGates,
		},
		Source:                       ctx.Source,
		CurrentReplicas:              decision.CurrentReplicas,
		StatusReplicas:               decision.StatusReplicas,
		DesiredReplicas:              decision.DesiredReplicas,
		Rescale:                      decision.Rescale,
		RescaleReason:                decision.RescaleReason,
		MinReplicas:                  decision.MinReplicas,
		MaxReplicas:                  decision.MaxReplicas,
		Branch:                       string(decision.Branch),
		Selector:                     decision.Selector,
		Metrics:                      []Metric{},
		MetricDesiredReplicas:        decision.MetricDesiredReplicas,
		PrenormalizedDesiredReplicas: decision.PrenormalizedDesiredReplicas,
		ScaleFromZeroFloor:           decision.ScaleFromZeroFloor,
		Conditions:                   []Condition{},
		Events:                       []Event{},
		Assumptions:                  []string{},
		Warnings:                     []string{},
		Error:                        decision.Error,
	}

	for _, trace := range decision.Metrics {
		item.Metrics = append(item.Metrics, buildMetric(trace, decision, ctx.Offline))
	}
	if decision.WinningMetric >= 0 && decision.WinningMetric < len(decision.Metrics) {
		winner := decision.Metrics[decision.WinningMetric]
		item.WinningMetric = &WinningMetric{Index: decision.WinningMetric, Name: winner.Name, ProposedReplicas: winner.Proposal}
	}

	item.Stabilization = buildStabilization(decision)
	item.RateLimit = buildRateLimit(decision)
	if decision.Limited != nil {
		item.Limited = &Limited{Replicas: decision.Limited.Replicas, Reason: decision.Limited.Reason, Message: decision.Limited.Message,
			Active: decision.Stabilized != nil && decision.Limited.Replicas != decision.Stabilized.Replicas}
	}

	for _, c := range decision.Status.Conditions {
		item.Conditions = append(item.Conditions, Condition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	for _, e := range decision.Events {
		item.Events = append(item.Events, Event(e))
	}

	item.Memory = buildMemory(ctx, decision.CurrentReplicas)
	item.Assumptions = append(item.Assumptions, memoryAssumptions(decision, ctx)...)
	item.Assumptions = append(item.Assumptions, ctx.Notes...)
	item.Warnings = buildWarnings(decision, ctx)
	item.LastStatus = buildLastStatus(ctx.HPA)
	item.Evidence = append([]string{}, buildEvidence(decision, ctx)...)
	item.OutcomeRange = outcomeRange(decision, ctx)
	item.Verdict = verdict(decision, ctx)
	if decision.Error != "" {
		item.Hint = hintFor(decision.Error, ctx.Offline)
	}
	return item
}

func buildMetric(trace hpa.MetricTrace, decision hpa.Decision, offline bool) Metric {
	m := Metric{
		Index:            trace.Index,
		Type:             string(trace.Type),
		Name:             trace.Name,
		Calculation:      string(trace.Calculation),
		Resource:         trace.Resource,
		Container:        trace.Container,
		MetricName:       trace.MetricName,
		ProposedReplicas: trace.Proposal,
		StartReplicas:    trace.ReplicasIn,
		Target:           buildTarget(trace),
		Tolerance:        buildTolerance(trace.Tolerances),
	}
	if trace.Err != nil || trace.Error != "" {
		m.Error = &MetricError{Reason: trace.Reason, Message: trace.Error, Hint: hintFor(trace.Error, offline)}
	}
	if trace.Groups != nil {
		m.PodGroups = &PodGroups{
			Ready:          nonNil(trace.Groups.Ready),
			Unready:        nonNil(trace.Groups.Unready),
			UnreadyReasons: trace.Groups.UnreadyReasons,
			Missing:        nonNil(trace.Groups.Missing),
			Ignored:        nonNil(trace.Groups.Ignored),
		}
	}
	if trace.First != nil {
		current := usageValue(*trace.First, trace.Resource)
		m.Current = &current
		ratio, within := trace.First.Ratio, trace.First.Within
		m.Ratio, m.WithinTolerance = &ratio, &within
		m.Count = trace.First.Count
	}
	if trace.Adjusted != nil {
		m.Adjusted = buildAdjusted(trace)
	}
	if trace.Rule != "" {
		m.Rule = &Rule{Name: string(trace.Rule), Expression: ruleExpression(trace)}
	}
	for _, s := range trace.Samples {
		sample := PodSample{Pod: s.Pod, Value: quantity(s.ValueMilli, trace.Resource), ValueMilli: s.ValueMilli, Filled: s.Filled}
		if s.RequestMilli != nil {
			request := *s.RequestMilli
			sample.Request, sample.RequestMilli = quantity(request, trace.Resource), &request
		}
		m.Samples = append(m.Samples, sample)
	}
	if m.Error == nil && trace.First != nil {
		m.NextStep = buildNextStep(trace, decision.MinReplicas, decision.MaxReplicas)
	}
	return m
}

func nonNil(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

func buildTarget(trace hpa.MetricTrace) Target {
	t := Target{Type: string(trace.Target.Type)}
	if trace.Target.AverageUtilization != nil {
		t.AverageUtilization = ptr(*trace.Target.AverageUtilization)
	}
	if trace.Target.AverageValueMilli != nil {
		t.AverageValue, t.AverageValueMilli = quantityFields(*trace.Target.AverageValueMilli, trace.Resource)
	}
	if trace.Target.ValueMilli != nil {
		t.Value, t.ValueMilli = quantityFields(*trace.Target.ValueMilli, trace.Resource)
	}
	return t
}

func buildTolerance(t hpa.Tolerances) Tolerance {
	return Tolerance{ScaleDown: t.ScaleDown, ScaleUp: t.ScaleUp, Lower: 1.0 - t.ScaleDown, Upper: 1.0 + t.ScaleUp}
}

// usageValue converts one pass of a calculation into a MetricValue.
func usageValue(usage hpa.Usage, resource string) MetricValue {
	var v MetricValue
	if usage.Utilization != nil {
		v.AverageUtilization = ptr(*usage.Utilization)
	}
	if usage.AverageMilli != nil {
		v.AverageValue, v.AverageValueMilli = quantityFields(*usage.AverageMilli, resource)
	}
	if usage.ValueMilli != nil {
		v.Value, v.ValueMilli = quantityFields(*usage.ValueMilli, resource)
	}
	return v
}

func buildAdjusted(trace hpa.MetricTrace) *Adjusted {
	a := &Adjusted{
		Current:         usageValue(*trace.Adjusted, trace.Resource),
		Ratio:           trace.Adjusted.Ratio,
		Count:           trace.Adjusted.Count,
		WithinTolerance: trace.Adjusted.Within,
	}
	ratio := trace.First.Ratio
	utilization := trace.Calculation == hpa.CalculationResourceUtilization
	zero := "0"
	if utilization {
		zero = "0%"
	}
	if trace.Groups != nil && len(trace.Groups.Missing) > 0 {
		switch {
		case ratio < 1.0 && utilization:
			a.MissingValue = fmt.Sprintf("%d%% of request", max(100, derefInt32(trace.Target.AverageUtilization)))
		case ratio < 1.0 && trace.Target.AverageValueMilli != nil:
			a.MissingValue = quantity(*trace.Target.AverageValueMilli, trace.Resource)
		case ratio > 1.0:
			a.MissingValue = zero
		}
	}
	if trace.Groups != nil && len(trace.Groups.Unready) > 0 && ratio > 1.0 {
		a.UnreadyValue = zero
	}
	return a
}

func derefInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// buildNextStep computes the thresholds of one successful metric. minReplicas and maxReplicas
// only mark a clamped proposal; they do not change the thresholds.
func buildNextStep(trace hpa.MetricTrace, minReplicas, maxReplicas int32) *NextStep {
	step := &NextStep{Note: nextStepNote}
	current := trace.ReplicasIn
	tolerances := trace.Tolerances
	var up, down Threshold
	var upFound, downFound bool
	var format func(Threshold) MetricValue

	switch trace.Calculation {
	case hpa.CalculationResourceUtilization, hpa.CalculationResourceAverageValue, hpa.CalculationPodsAverageValue:
		if reason := notSimplePath(trace.Groups); reason != "" {
			step.Unavailable = reason
			return step
		}
		count := trace.First.Count
		if trace.Calculation == hpa.CalculationResourceUtilization {
			target := derefInt32(trace.Target.AverageUtilization)
			up, upFound = UtilizationScaleUp(target, count, current, tolerances)
			down, downFound = UtilizationScaleDown(target, count, current, tolerances)
			format = func(t Threshold) MetricValue { return MetricValue{AverageUtilization: ptr(int32(t.Value))} }
			break
		}
		target := *trace.Target.AverageValueMilli
		up, upFound = RatioScaleUp(target, count, current, tolerances)
		down, downFound = RatioScaleDown(target, count, current, tolerances)
		format = func(t Threshold) MetricValue {
			var v MetricValue
			v.AverageValue, v.AverageValueMilli = quantityFields(t.Value, trace.Resource)
			return v
		}
	case hpa.CalculationObjectValue, hpa.CalculationExternalValue:
		switch {
		case trace.Rule == hpa.RuleFromZero:
			step.Unavailable = "the target has 0 replicas, so the proposal is ceil(ratio) with no tolerance"
			return step
		}
		target := *trace.Target.ValueMilli
		up, upFound = RatioScaleUp(target, trace.First.Count, current, tolerances)
		down, downFound = RatioScaleDown(target, trace.First.Count, current, tolerances)
		format = func(t Threshold) MetricValue {
			var v MetricValue
			v.Value, v.ValueMilli = quantityFields(t.Value, trace.Resource)
			return v
		}
	case hpa.CalculationObjectAverageValue, hpa.CalculationExternalAverageValue:
		target := *trace.Target.AverageValueMilli
		up, upFound = UsageOverTargetScaleUp(target, current, tolerances)
		down, downFound = UsageOverTargetScaleDown(target, current, tolerances)
		format = func(t Threshold) MetricValue {
			var v MetricValue
			v.Value, v.ValueMilli = quantityFields(t.Value, trace.Resource)
			return v
		}
	default:
		step.Unavailable = fmt.Sprintf("no next step for calculation %q", trace.Calculation)
		return step
	}

	if upFound {
		step.ScaleUp = &Step{MetricValue: format(up), ProposedReplicas: up.Replicas, ClampedTo: clampedTo(up.Replicas, minReplicas, maxReplicas)}
	}
	if downFound {
		step.ScaleDown = &Step{MetricValue: format(down), ProposedReplicas: down.Replicas, ClampedTo: clampedTo(down.Replicas, minReplicas, maxReplicas)}
	}
	switch {
	case !upFound && !downFound:
		step.Unavailable = "no value changes the proposal with today's pod counts"
	case !upFound:
		step.Unavailable = "no value adds a pod with today's pod counts"
	case !downFound:
		step.Unavailable = "no value removes a pod with today's pod counts"
	}
	return step
}

// notSimplePath explains why the next step of a Resource or Pods metric is not computed: with
// missing or unready pods the controller runs a second pass whose outcome depends on the
// direction, so a single threshold would mislead.
func notSimplePath(groups *hpa.PodGroups) string {
	if groups == nil {
		return "the pod groups are unknown"
	}
	var parts []string
	if len(groups.Unready) > 0 {
		parts = append(parts, plural(len(groups.Unready), "pod is unready", "pods are unready"))
	}
	if len(groups.Missing) > 0 {
		parts = append(parts, plural(len(groups.Missing), "pod has no metric", "pods have no metric"))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " and ") + ", so the controller's second pass, which counts them differently " +
		"in each direction, decides the next step"
}

func clampedTo(replicas, minReplicas, maxReplicas int32) *int32 {
	switch {
	case replicas > maxReplicas:
		return ptr(maxReplicas)
	case replicas < minReplicas:
		return ptr(minReplicas)
	}
	return nil
}

func buildStabilization(decision hpa.Decision) *Stabilization {
	tr := decision.Stabilization
	if tr == nil {
		return nil
	}
	s := &Stabilization{
		Mode:               tr.Mode,
		Recommendation:     tr.Desired,
		UpWindowSeconds:    int64(tr.UpWindow / time.Second),
		DownWindowSeconds:  int64(tr.DownWindow / time.Second),
		UpRecommendation:   tr.UpRecommendation,
		DownRecommendation: tr.DownRecommendation,
		Considered:         []Recommendation{},
		Result:             tr.Result,
		Held:               tr.Result != tr.Desired,
	}
	for _, r := range tr.Considered {
		s.Considered = append(s.Considered, Recommendation{Replicas: r.Replicas, Timestamp: r.Timestamp.UTC()})
	}
	if decision.Stabilized != nil {
		s.Reason, s.Message = decision.Stabilized.Reason, decision.Stabilized.Message
	}
	return s
}

func buildRateLimit(decision hpa.Decision) *RateLimit {
	tr := decision.RateLimit
	if tr == nil {
		return nil
	}
	r := &RateLimit{
		Direction:    tr.Direction,
		SelectPolicy: string(tr.SelectPolicy),
		Limit:        tr.Limit,
		Policies:     []Policy{},
		Result:       Limited{Replicas: tr.Result.Replicas, Reason: tr.Result.Reason, Message: tr.Result.Message},
	}
	if decision.Stabilized != nil {
		r.Result.Active = tr.Result.Replicas != decision.Stabilized.Replicas
	}
	selected := selectedLimit(tr)
	marked := false
	for _, p := range tr.Policies {
		policy := Policy{Type: string(p.Policy.Type), Value: p.Policy.Value, PeriodSeconds: p.Policy.PeriodSeconds,
			PeriodStartReplicas: p.PeriodStartReplicas, Limit: p.Limit}
		if !marked && p.Limit == selected {
			policy.Selected, marked = true, true
		}
		r.Policies = append(r.Policies, policy)
	}
	return r
}

// selectedLimit is the policy limit that selectPolicy picks: the largest change (Max, the
// default) or the smallest (Min).
func selectedLimit(tr *hpa.RateLimitTrace) int32 {
	if len(tr.Policies) == 0 {
		return 0
	}
	highest, lowest := tr.Policies[0].Limit, tr.Policies[0].Limit
	for _, p := range tr.Policies[1:] {
		highest, lowest = max(highest, p.Limit), min(lowest, p.Limit)
	}
	largestChange := tr.SelectPolicy != autoscalingv2.MinChangePolicySelect
	if (tr.Direction == "up") == largestChange {
		return highest
	}
	return lowest
}

func buildMemory(ctx Context, current int32) Memory {
	memory := ctx.Memory
	m := Memory{Source: string(ctx.MemorySource), ScaleUpEvents: len(memory.ScaleUpEvents), ScaleDownEvents: len(memory.ScaleDownEvents)}
	switch ctx.MemorySource {
	case MemoryFromFile:
		m.Description = fmt.Sprintf("taken from the memory file: %s, %s and %s",
			plural(len(memory.Recommendations), "recommendation", "recommendations"),
			plural(m.ScaleUpEvents, "scale-up event", "scale-up events"), plural(m.ScaleDownEvents, "scale-down event", "scale-down events"))
	case MemoryRebuiltFromEvents:
		m.Description = fmt.Sprintf("recommendations of a fresh controller (only the current count, %d); %s and %s rebuilt from SuccessfulRescale Events",
			current, plural(m.ScaleUpEvents, "scale-up event", "scale-up events"), plural(m.ScaleDownEvents, "scale-down event", "scale-down events"))
	default:
		m.Source = string(MemoryAssumedFresh)
		m.Description = fmt.Sprintf("assumed fresh controller: its only recommendation is the current count, %d, and it has no scale events", current)
	}
	return m
}

// memoryAssumptions states what the assumed memory implies for this decision.
func memoryAssumptions(decision hpa.Decision, ctx Context) []string {
	if ctx.MemorySource == MemoryFromFile || decision.Stabilization == nil {
		return nil
	}
	out := []string{"controller memory: " + buildMemory(ctx, decision.CurrentReplicas).Description +
		"; this is also the only memory consistent with an HPA that has been sitting at its current count"}
	if ctx.Behavior == nil {
		out = append(out, "with this memory a legacy HPA (no spec.behavior) never scales down on the next decision")
		return out
	}
	if decision.Stabilization.UpWindow > 0 {
		out = append(out, fmt.Sprintf("with this memory the %s scale-up stabilization window holds any scale-up on the next decision",
			formatDuration(decision.Stabilization.UpWindow)))
	}
	if decision.Stabilization.DownWindow > 0 {
		out = append(out, fmt.Sprintf("with this memory the %s scale-down stabilization window holds any scale-down on the next decision",
			formatDuration(decision.Stabilization.DownWindow)))
	}
	return out
}

func buildWarnings(decision hpa.Decision, ctx Context) []string {
	warnings := []string{}
	names := make([]string, 0, len(ctx.Unavailable))
	for name := range ctx.Unavailable {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		text := fmt.Sprintf("%s could not be read: %v", name, ctx.Unavailable[name])
		if hint := unavailableHint(name); hint != "" {
			text += "; " + hint
		}
		warnings = append(warnings, text)
	}
	if decision.InvalidMetrics > 0 && decision.MetricDesiredReplicas >= 0 {
		warnings = append(warnings, fmt.Sprintf("%d of %d metrics failed: the controller scales on the others but never scales down while a metric fails",
			decision.InvalidMetrics, len(decision.Metrics)))
	}
	warnings = append(warnings, sampleAgeWarnings(decision, ctx)...)
	// A manifest without status reads as status.replicas 0, which carries no information about a rollout.
	statusKnown := !ctx.Offline || decision.StatusReplicas != 0
	if decision.Branch == hpa.BranchMetrics && statusKnown && decision.StatusReplicas != decision.CurrentReplicas {
		warnings = append(warnings, fmt.Sprintf("scale.status.replicas (%d) differs from scale.spec.replicas (%d): a rollout or a scale is in progress",
			decision.StatusReplicas, decision.CurrentReplicas))
	}
	return warnings
}

// staleSampleAge is the age of a metric sample at the evaluation time beyond which the report
// warns. metrics-server scrapes every 15 to 60 seconds, so a sample this old comes from a saved
// snapshot.
const staleSampleAge = 10 * time.Minute

// sampleAgeWarnings flags metric samples far older than the evaluation time, or after it: both
// mean that the snapshot and --now do not belong together, and CPU readiness depends on the times.
func sampleAgeWarnings(decision hpa.Decision, ctx Context) []string {
	var out []string
	for _, m := range decision.Metrics {
		if m.Timestamp.IsZero() || ctx.EvaluatedAt.IsZero() {
			continue
		}
		age := ctx.EvaluatedAt.Sub(m.Timestamp)
		switch {
		case age > staleSampleAge:
			out = append(out, fmt.Sprintf("the samples of %s were taken %s before the evaluation time: for a saved snapshot, "+
				"pass --now with the time it was taken", m.Name, age.Round(time.Second)))
		case age < -time.Minute:
			out = append(out, fmt.Sprintf("the samples of %s were taken %s after the evaluation time: --now is earlier than the snapshot",
				m.Name, (-age).Round(time.Second)))
		}
	}
	return out
}

// outcomeRange bounds the desired replicas over other controller memories. Stabilization moves
// the result between the assumed-memory result and the metrics' proposal clamped to
// [minReplicas, maxReplicas]. A legacy scale-up does not depend on memory beyond that, because
// its rate limit is a fixed factor of the current count.
func outcomeRange(decision hpa.Decision, ctx Context) *ReplicaRange {
	if decision.Branch != hpa.BranchMetrics || decision.MetricDesiredReplicas < 0 || decision.Stabilized == nil {
		return nil
	}
	if ctx.MemorySource == MemoryFromFile {
		return nil
	}
	final := decision.DesiredReplicas
	proposal := min(max(decision.PrenormalizedDesiredReplicas, decision.MinReplicas), decision.MaxReplicas)
	if ctx.Behavior == nil && decision.PrenormalizedDesiredReplicas > decision.CurrentReplicas {
		proposal = final
	}
	return &ReplicaRange{Lowest: min(final, proposal), Highest: max(final, proposal)}
}

func ptr[T any](v T) *T { return &v }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// formatDuration prints whole seconds as "300s", the unit of stabilizationWindowSeconds.
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}
