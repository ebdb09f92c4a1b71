package hpa

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// Condition reasons and messages of normalization, as the controller writes them.
const (
	ReasonScaleDownStabilized  = "ScaleDownStabilized"
	ReasonScaleUpStabilized    = "ScaleUpStabilized"
	ReasonReadyForNewScale     = "ReadyForNewScale"
	ReasonDesiredWithinRange   = "DesiredWithinRange"
	ReasonTooManyReplicas      = "TooManyReplicas"
	ReasonTooFewReplicas       = "TooFewReplicas"
	ReasonScaleUpLimit         = "ScaleUpLimit"
	ReasonScaleDownLimit       = "ScaleDownLimit"
	messageScaleDownStabilized = "recent recommendations were higher than current one, applying the highest recent recommendation"
	messageScaleUpStabilized   = "recent recommendations were lower than current one, applying the lowest recent recommendation"
	messageReadyForNewScale    = "recommended size matches current size"
	messageDesiredWithinRange  = "the desired count is within the acceptable range"
	messageTooManyReplicas     = "the desired replica count is more than the maximum replica count"
	messageTooFewReplicas      = "the desired replica count is less than the minimum replica count"
	messageScaleUpLimit        = "the desired replica count is increasing faster than the maximum scale rate"
	messageScaleDownLimit      = "the desired replica count is decreasing faster than the maximum scale rate"
)

// Limited is a replica count with the reason and message of the rule that produced it.
type Limited struct {
	Replicas int32  `json:"replicas"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

// StabilizationTrace records one stabilization step.
type StabilizationTrace struct {
	Mode string `json:"mode"` // "legacy" or "behavior"
	// Desired is the raw recommendation that was stabilized and then stored.
	Desired int32 `json:"desired"`
	// UpWindow and DownWindow are the stabilization windows (legacy: DownWindow only).
	UpWindow   time.Duration `json:"upWindow"`
	DownWindow time.Duration `json:"downWindow"`
	// UpRecommendation is the lowest recommendation inside the scale-up window (behavior only);
	// DownRecommendation is the highest inside the scale-down window.
	UpRecommendation   int32 `json:"upRecommendation"`
	DownRecommendation int32 `json:"downRecommendation"`
	// Considered are the stored recommendations that were inside a window.
	Considered []Recommendation `json:"considered"`
	Result     int32            `json:"result"`
}

// StabilizeLegacy applies the legacy downscale stabilization (HPAs without behavior): the result
// is the highest of desired and every recommendation not older than window. It returns the
// result and the recommendation list with desired stored at now, overwriting the last entry
// older than the window or appending.
func StabilizeLegacy(recommendations []Recommendation, desired int32, window time.Duration, now time.Time) (int32, []Recommendation, StabilizationTrace) {
	cutoff := now.Add(-window)
	result := desired
	oldIndex := -1
	tr := StabilizationTrace{Mode: "legacy", Desired: desired, DownWindow: window, UpRecommendation: desired, DownRecommendation: desired}
	for i, rec := range recommendations {
		if rec.Timestamp.Before(cutoff) {
			oldIndex = i
			continue
		}
		tr.Considered = append(tr.Considered, rec)
		if rec.Replicas > result {
			result = rec.Replicas
		}
	}
	stored := append([]Recommendation{}, recommendations...)
	if oldIndex >= 0 {
		stored[oldIndex] = Recommendation{Replicas: desired, Timestamp: now}
	} else {
		stored = append(stored, Recommendation{Replicas: desired, Timestamp: now})
	}
	tr.DownRecommendation = result
	tr.Result = result
	return result, stored, tr
}

// RateLimitLegacy clamps a legacy recommendation to [minReplicas, maximum], where the maximum
// is the lower of maxReplicas and the legacy scale-up limit max(factor*current, minimum).
func RateLimitLegacy(current, desired, minReplicas, maxReplicas int32, factor, minimum float64) Limited {
	scaleUpLimit := int32(math.Max(factor*float64(current), minimum))
	maxAllowed := maxReplicas
	limit := Limited{Reason: ReasonTooManyReplicas, Message: messageTooManyReplicas}
	if maxReplicas > scaleUpLimit {
		maxAllowed = scaleUpLimit
		limit = Limited{Reason: ReasonScaleUpLimit, Message: messageScaleUpLimit}
	}
	switch {
	case desired < minReplicas:
		return Limited{Replicas: minReplicas, Reason: ReasonTooFewReplicas, Message: messageTooFewReplicas}
	case desired > maxAllowed:
		limit.Replicas = maxAllowed
		return limit
	}
	return Limited{Replicas: desired, Reason: ReasonDesiredWithinRange, Message: messageDesiredWithinRange}
}

// StabilizeWithBehavior applies the behavior stabilization windows: the result is
// min(max(current, lowest recommendation in the scale-up window), highest recommendation in the
// scale-down window), both windows including desired. Entries strictly after a cutoff are inside.
// It stores desired at now like StabilizeLegacy, overwriting the last entry older than both windows.
func StabilizeWithBehavior(recommendations []Recommendation, current, desired int32, upWindow, downWindow time.Duration, now time.Time) (Limited, []Recommendation, StabilizationTrace) {
	upCutoff := now.Add(-upWindow)
	downCutoff := now.Add(-downWindow)
	up, down := desired, desired
	oldIndex := -1
	tr := StabilizationTrace{Mode: "behavior", Desired: desired, UpWindow: upWindow, DownWindow: downWindow}
	for i, rec := range recommendations {
		inside := false
		if rec.Timestamp.After(upCutoff) {
			up = min(up, rec.Replicas)
			inside = true
		}
		if rec.Timestamp.After(downCutoff) {
			down = max(down, rec.Replicas)
			inside = true
		}
		if rec.Timestamp.Before(upCutoff) && rec.Timestamp.Before(downCutoff) {
			oldIndex = i
		}
		if inside {
			tr.Considered = append(tr.Considered, rec)
		}
	}
	result := current
	if result < up {
		result = up
	}
	if result > down {
		result = down
	}
	stored := append([]Recommendation{}, recommendations...)
	if oldIndex >= 0 {
		stored[oldIndex] = Recommendation{Replicas: desired, Timestamp: now}
	} else {
		stored = append(stored, Recommendation{Replicas: desired, Timestamp: now})
	}
	tr.UpRecommendation, tr.DownRecommendation, tr.Result = up, down, result

	out := Limited{Replicas: result, Reason: ReasonScaleDownStabilized, Message: messageScaleDownStabilized}
	if desired >= current {
		out.Reason, out.Message = ReasonScaleUpStabilized, messageScaleUpStabilized
	}
	return out, stored, tr
}

// replicaChangeSince sums the replica changes of events strictly after now-period.
func replicaChangeSince(events []ScaleEvent, period time.Duration, now time.Time) int32 {
	cutoff := now.Add(-period)
	var total int32
	for _, e := range events {
		if e.Timestamp.After(cutoff) {
			total += e.ReplicaChange
		}
	}
	return total
}

// PolicyLimit is the limit one scaling policy allows.
type PolicyLimit struct {
	Policy autoscalingv2.HPAScalingPolicy `json:"policy"`
	// PeriodStartReplicas is current - added + deleted within the policy period.
	PeriodStartReplicas int32 `json:"periodStartReplicas"`
	Limit               int32 `json:"limit"`
}

// ScaleUpLimit returns the highest replica count the scale-up rules allow now, with each
// policy's own limit. selectPolicy Disabled allows no change; Min takes the lowest policy limit;
// anything else (Max, the default) takes the highest.
func ScaleUpLimit(current int32, upEvents, downEvents []ScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) (int32, []PolicyLimit) {
	return policyLimit(current, upEvents, downEvents, rules, now, true)
}

// ScaleDownLimit returns the lowest replica count the scale-down rules allow now. selectPolicy
// Max (the default) allows the largest change, that is the lowest policy limit; Min the highest.
// Percent policies truncate toward zero.
func ScaleDownLimit(current int32, upEvents, downEvents []ScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) (int32, []PolicyLimit) {
	return policyLimit(current, upEvents, downEvents, rules, now, false)
}

// policyLimit evaluates every policy from the replica count at the start of its period
// (current - added + deleted within the period) and combines the limits by selectPolicy.
func policyLimit(current int32, upEvents, downEvents []ScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time, up bool) (int32, []PolicyLimit) {
	if rules.SelectPolicy != nil && *rules.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current, nil
	}
	// The largest change is the highest limit going up and the lowest going down.
	takeHighest := up
	if rules.SelectPolicy != nil && *rules.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		takeHighest = !up
	}
	result := int32(math.MaxInt32)
	if takeHighest {
		result = math.MinInt32
	}
	var limits []PolicyLimit
	for _, policy := range rules.Policies {
		period := time.Duration(policy.PeriodSeconds) * time.Second
		start := current - replicaChangeSince(upEvents, period, now) + replicaChangeSince(downEvents, period, now)
		var proposed int32
		switch {
		case policy.Type == autoscalingv2.PodsScalingPolicy && up:
			proposed = start + policy.Value
		case policy.Type == autoscalingv2.PodsScalingPolicy:
			proposed = start - policy.Value
		case policy.Type == autoscalingv2.PercentScalingPolicy && up:
			// In float64, 100 * 1.1 is 110.00000000000001, so 10% of 100 allows 111.
			proposed = int32(math.Ceil(float64(start) * (1 + float64(policy.Value)/100)))
		case policy.Type == autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(start) * (1 - float64(policy.Value)/100))
		}
		limits = append(limits, PolicyLimit{Policy: policy, PeriodStartReplicas: start, Limit: proposed})
		if takeHighest {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result, limits
}

// RateLimitTrace records the behavior rate-limit step.
type RateLimitTrace struct {
	Direction string        `json:"direction"` // "up", "down" or "none"
	Limit     int32         `json:"limit"`
	Policies  []PolicyLimit `json:"policies,omitempty"`
	// SelectPolicy is the rules' selectPolicy (Max when unset).
	SelectPolicy autoscalingv2.ScalingPolicySelect `json:"selectPolicy,omitempty"`
	Result       Limited                           `json:"result"`
}

// RateLimitWithBehavior bounds a stabilized recommendation by the scaling policies and by
// maxReplicas on the way up or minReplicas on the way down. up and down are the fully defaulted
// rules.
func RateLimitWithBehavior(current, desired, minReplicas, maxReplicas int32, up, down *autoscalingv2.HPAScalingRules, upEvents, downEvents []ScaleEvent, now time.Time) (Limited, RateLimitTrace) {
	tr := RateLimitTrace{Direction: "none"}
	within := Limited{Replicas: desired, Reason: ReasonDesiredWithinRange, Message: messageDesiredWithinRange}
	switch {
	case desired > current:
		tr.Direction = "up"
		tr.SelectPolicy = selectPolicyOf(up)
		limit, policies := ScaleUpLimit(current, upEvents, downEvents, up, now)
		if limit < current {
			limit = current
		}
		tr.Limit, tr.Policies = limit, policies
		candidate := Limited{Replicas: maxReplicas, Reason: ReasonTooManyReplicas, Message: messageTooManyReplicas}
		if maxReplicas > limit {
			candidate = Limited{Replicas: limit, Reason: ReasonScaleUpLimit, Message: messageScaleUpLimit}
		}
		if desired > candidate.Replicas {
			tr.Result = candidate
			return candidate, tr
		}
	case desired < current:
		tr.Direction = "down"
		tr.SelectPolicy = selectPolicyOf(down)
		limit, policies := ScaleDownLimit(current, upEvents, downEvents, down, now)
		if limit > current {
			limit = current
		}
		tr.Limit, tr.Policies = limit, policies
		candidate := Limited{Replicas: minReplicas, Reason: ReasonTooFewReplicas, Message: messageTooFewReplicas}
		if minReplicas < limit {
			candidate = Limited{Replicas: limit, Reason: ReasonScaleDownLimit, Message: messageScaleDownLimit}
		}
		if desired < candidate.Replicas {
			tr.Result = candidate
			return candidate, tr
		}
	}
	tr.Result = within
	return within, tr
}

func selectPolicyOf(rules *autoscalingv2.HPAScalingRules) autoscalingv2.ScalingPolicySelect {
	if rules == nil || rules.SelectPolicy == nil {
		return autoscalingv2.MaxChangePolicySelect
	}
	return *rules.SelectPolicy
}

// longestPolicyPeriod is the longest periodSeconds among the rules' policies.
func longestPolicyPeriod(rules *autoscalingv2.HPAScalingRules) time.Duration {
	var longest int32
	if rules != nil {
		for _, p := range rules.Policies {
			longest = max(longest, p.PeriodSeconds)
		}
	}
	return time.Duration(longest) * time.Second
}

// StoreScaleEvent records a rescale from prev to next replicas in the controller's event lists
// (only for HPAs with behavior). Events older than the direction's longest policy period are
// marked outdated first, and the new event takes the last outdated slot or is appended.
func StoreScaleEvent(memory Memory, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, prev, next int32, now time.Time) Memory {
	if behavior == nil {
		return memory
	}
	out := memory.Clone()
	store := func(events []ScaleEvent, rules *autoscalingv2.HPAScalingRules, change int32) []ScaleEvent {
		cutoff := now.Add(-longestPolicyPeriod(rules))
		oldIndex := -1
		for i := range events {
			if events[i].Timestamp.Before(cutoff) {
				events[i].Outdated = true
			}
			if events[i].Outdated {
				oldIndex = i
			}
		}
		event := ScaleEvent{ReplicaChange: change, Timestamp: now}
		if oldIndex >= 0 {
			events[oldIndex] = event
			return events
		}
		return append(events, event)
	}
	if next > prev {
		out.ScaleUpEvents = store(out.ScaleUpEvents, behavior.ScaleUp, next-prev)
	} else {
		out.ScaleDownEvents = store(out.ScaleDownEvents, behavior.ScaleDown, prev-next)
	}
	return out
}
