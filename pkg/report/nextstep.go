package report

import (
	"math"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// Threshold is a metric value at which one metric's proposal leaves the current replica count.
type Threshold struct {
	// Value is an integer utilization percent for Utilization targets and milli-units otherwise.
	Value int64
	// Replicas is the metric's proposal at Value.
	Replicas int32
}

// maxUtilizationScan bounds the integer scan of utilization percents. The scan covers the
// percents between the tolerance band and the first count that changes the proposal, which is a
// few hundred values for realistic targets and pod counts.
const maxUtilizationScan = 1 << 20

// maxSearchDoublings bounds how often the binary search doubles its upper end; 62 doublings
// reach the int64 range from 1.
const maxSearchDoublings = 62

// ratioModel is one replica calculation's simple path as the engine computes it in float64:
// the usage ratio of a metric value and the proposal outside the tolerance band.
type ratioModel struct {
	ratio    func(value int64) float64
	proposal func(value int64) int32
}

// scaleUpAt reports whether value makes the simple path propose more than current: the ratio is
// above target and outside the tolerance band, and the proposal exceeds current.
func (m ratioModel) scaleUpAt(value int64, current int32, tolerances hpa.Tolerances) bool {
	ratio := m.ratio(value)
	return ratio > 1.0 && !tolerances.Within(ratio) && m.proposal(value) > current
}

// scaleDownAt reports whether value makes the simple path propose fewer than current.
func (m ratioModel) scaleDownAt(value int64, current int32, tolerances hpa.Tolerances) bool {
	ratio := m.ratio(value)
	return ratio < 1.0 && !tolerances.Within(ratio) && m.proposal(value) < current
}

// byRatio is the model of Resource and Pods metrics on the simple path and of Object and External
// Value targets: ratio = value / target and proposal = ceil(ratio × count).
func byRatio(target, count int64) ratioModel {
	ratio := func(value int64) float64 { return float64(value) / float64(target) }
	return ratioModel{
		ratio:    ratio,
		proposal: func(value int64) int32 { return ceilToInt32(ratio(value) * float64(count)) },
	}
}

// usageOverTarget is the model of Object and External AverageValue targets: ratio = value /
// (target × status replicas) and proposal = ceil(value / target).
func usageOverTarget(target int64, statusReplicas int32) ratioModel {
	return ratioModel{
		ratio: func(value int64) float64 { return float64(value) / (float64(target) * float64(statusReplicas)) },
		proposal: func(value int64) int32 {
			return ceilToInt32(float64(value) / float64(target))
		},
	}
}

// ceilToInt32 rounds up and caps at math.MaxInt32, as the engine does for Object and External
// proposals. The thresholds searched here stay far below the cap.
func ceilToInt32(x float64) int32 {
	c := math.Ceil(x)
	if c > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(c)
}

// UtilizationScaleUp returns the lowest integer utilization percent U at which a Utilization
// target on the simple path (no missing or unready pods) proposes more than current replicas:
// U/target is above 1+tolerance and ceil(U/target × count) > current. count is the number of
// ready pods. found is false when count or target is not positive or the bounded scan ends first.
func UtilizationScaleUp(target int32, count int64, current int32, tolerances hpa.Tolerances) (threshold Threshold, found bool) {
	if target <= 0 || count <= 0 {
		return Threshold{}, false
	}
	model := byRatio(int64(target), count)
	// No percent at or below target × (1+up) is above the band, and every percent above
	// target × max(1+up, current/count) proposes more than current.
	low := int64(math.Floor(float64(target)*(1+tolerances.ScaleUp))) - 1
	high := int64(math.Ceil(float64(target)*max(1+tolerances.ScaleUp, float64(current)/float64(count)))) + 2
	low = max(low, 0)
	high = min(high, low+maxUtilizationScan)
	for u := low; u <= high; u++ {
		if model.scaleUpAt(u, current, tolerances) {
			return Threshold{Value: u, Replicas: model.proposal(u)}, true
		}
	}
	return Threshold{}, false
}

// UtilizationScaleDown returns the highest integer utilization percent U at which a Utilization
// target on the simple path proposes fewer than current replicas: U/target is below
// 1-tolerance and ceil(U/target × count) < current. found is false when no percent from 0 does,
// for example with a scale-down tolerance of 1 or more.
func UtilizationScaleDown(target int32, count int64, current int32, tolerances hpa.Tolerances) (threshold Threshold, found bool) {
	if target <= 0 || count <= 0 {
		return Threshold{}, false
	}
	model := byRatio(int64(target), count)
	// Every percent at or above target × (1-down) is within the band or above target.
	high := int64(math.Ceil(float64(target)*(1-tolerances.ScaleDown))) + 1
	high = min(max(high, 0), maxUtilizationScan)
	for u := high; u >= 0; u-- {
		if model.scaleDownAt(u, current, tolerances) {
			return Threshold{Value: u, Replicas: model.proposal(u)}, true
		}
	}
	return Threshold{}, false
}

// RatioScaleUp returns the lowest value in milli-units at which ratio = value/target, with
// proposal ceil(ratio × count), proposes more than current replicas. It models Resource
// AverageValue and Pods metrics on the simple path (value is the per-pod average, count the ready
// pods) and Object and External Value targets (value is the metric value, count the Running and
// Ready pods).
func RatioScaleUp(targetMilli, count int64, current int32, tolerances hpa.Tolerances) (Threshold, bool) {
	if targetMilli <= 0 || count <= 0 {
		return Threshold{}, false
	}
	return lowestScaleUp(byRatio(targetMilli, count), targetMilli, current, tolerances)
}

// RatioScaleDown returns the highest value in milli-units at which the model of RatioScaleUp
// proposes fewer than current replicas.
func RatioScaleDown(targetMilli, count int64, current int32, tolerances hpa.Tolerances) (Threshold, bool) {
	if targetMilli <= 0 || count <= 0 {
		return Threshold{}, false
	}
	return highestScaleDown(byRatio(targetMilli, count), targetMilli, current, tolerances)
}

// UsageOverTargetScaleUp returns the lowest metric value in milli-units at which an Object or
// External AverageValue target proposes more than statusReplicas: value / (target ×
// statusReplicas) is above the band and ceil(value / target) > statusReplicas.
func UsageOverTargetScaleUp(targetMilli int64, statusReplicas int32, tolerances hpa.Tolerances) (Threshold, bool) {
	if targetMilli <= 0 || statusReplicas <= 0 {
		return Threshold{}, false
	}
	return lowestScaleUp(usageOverTarget(targetMilli, statusReplicas), productOrMax(targetMilli, statusReplicas), statusReplicas, tolerances)
}

// UsageOverTargetScaleDown returns the highest metric value in milli-units at which an Object or
// External AverageValue target proposes fewer than statusReplicas.
func UsageOverTargetScaleDown(targetMilli int64, statusReplicas int32, tolerances hpa.Tolerances) (Threshold, bool) {
	if targetMilli <= 0 || statusReplicas <= 0 {
		return Threshold{}, false
	}
	return highestScaleDown(usageOverTarget(targetMilli, statusReplicas), productOrMax(targetMilli, statusReplicas), statusReplicas, tolerances)
}

// productOrMax returns target × replicas, or math.MaxInt64 when the product overflows.
func productOrMax(target int64, replicas int32) int64 {
	if target > math.MaxInt64/int64(replicas) {
		return math.MaxInt64
	}
	return target * int64(replicas)
}

// lowestScaleUp binary-searches the lowest value where model.scaleUpAt is true. The predicate is
// monotone in value because the ratio and the proposal both are. start is a value at which the
// ratio is about 1; the upper end doubles from there until the predicate holds.
func lowestScaleUp(model ratioModel, start int64, current int32, tolerances hpa.Tolerances) (Threshold, bool) {
	high := max(start, 1)
	found := false
	for range maxSearchDoublings {
		if model.scaleUpAt(high, current, tolerances) {
			found = true
			break
		}
		if high > math.MaxInt64/2 {
			break
		}
		high *= 2
	}
	if !found {
		return Threshold{}, false
	}
	// Invariant: scaleUpAt(high) holds and scaleUpAt(low) does not (a value of 0 has ratio 0).
	low := int64(0)
	for high-low > 1 {
		middle := low + (high-low)/2
		if model.scaleUpAt(middle, current, tolerances) {
			high = middle
		} else {
			low = middle
		}
	}
	return Threshold{Value: high, Replicas: model.proposal(high)}, true
}

// highestScaleDown binary-searches the highest value where model.scaleDownAt is true, between 0
// and high, a value with a ratio of at least 1.
func highestScaleDown(model ratioModel, high int64, current int32, tolerances hpa.Tolerances) (Threshold, bool) {
	if !model.scaleDownAt(0, current, tolerances) {
		return Threshold{}, false
	}
	// Invariant: scaleDownAt(low) holds and scaleDownAt(high) does not (its ratio is at least 1).
	low := int64(0)
	for high-low > 1 {
		middle := low + (high-low)/2
		if model.scaleDownAt(middle, current, tolerances) {
			low = middle
		} else {
			high = middle
		}
	}
	return Threshold{Value: low, Replicas: model.proposal(low)}, true
}
