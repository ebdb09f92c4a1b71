package hpa

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Tolerances are the per-direction tolerances around a usage ratio of 1.0 within which the
// controller keeps the current replica count.
type Tolerances struct {
	ScaleDown float64 `json:"scaleDown"`
	ScaleUp   float64 `json:"scaleUp"`
}

// Within reports whether ratio lies in the inclusive band [1-ScaleDown, 1+ScaleUp], computed in
// float64 as the controller does (so 0.9 and 1.1 are within a 0.1 tolerance).
func (t Tolerances) Within(ratio float64) bool {
	return (1.0-t.ScaleDown) <= ratio && ratio <= (1.0+t.ScaleUp)
}

// TolerancesFor returns the tolerances the controller applies to hpaObj: the controller flag in
// both directions, overridden per direction by behavior.scaleUp.tolerance and
// behavior.scaleDown.tolerance when the HPA has a behavior and HPAConfigurableTolerance is on.
// The quantity is converted with AsApproximateFloat64, so "0.3" (stored as 300m) gives
// 0.29999999999999998890, as in the controller.
func TolerancesFor(hpaObj *autoscalingv2.HorizontalPodAutoscaler, settings ControllerSettings) Tolerances {
	t := Tolerances{ScaleDown: settings.Tolerance, ScaleUp: settings.Tolerance}
	behavior := hpaObj.Spec.Behavior
	if behavior == nil || !settings.FeatureGates.HPAConfigurableTolerance {
		return t
	}
	if behavior.ScaleDown != nil && behavior.ScaleDown.Tolerance != nil {
		t.ScaleDown = canonicalFloat(*behavior.ScaleDown.Tolerance)
	}
	if behavior.ScaleUp != nil && behavior.ScaleUp.Tolerance != nil {
		t.ScaleUp = canonicalFloat(*behavior.ScaleUp.Tolerance)
	}
	return t
}

// canonicalFloat converts q to the value that the controller reads, after the API server has
// stored it in canonical form. A quantity parsed from a manifest ("0.3") gives
// 0.30000000000000004441, while the stored form ("300m") gives 0.29999999999999998890.
func canonicalFloat(q resource.Quantity) float64 {
	stored, err := resource.ParseQuantity(q.String())
	if err != nil {
		return q.AsApproximateFloat64()
	}
	return stored.AsApproximateFloat64()
}
