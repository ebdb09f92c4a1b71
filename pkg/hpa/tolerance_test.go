package hpa

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestTolerancesWithinIsInclusive(t *testing.T) {
	tol := Tolerances{ScaleDown: 0.1, ScaleUp: 0.1}
	cases := []struct {
		ratio float64
		want  bool
	}{
		{0.9, true},
		{1.1, true},
		{0.8999999, false},
		{1.1000001, false},
		{1.0, true},
	}
	for _, c := range cases {
		if got := tol.Within(c.ratio); got != c.want {
			t.Errorf("Within(%v) = %v, want %v", c.ratio, got, c.want)
		}
	}
}

func TestTolerancesForBehaviorOverride(t *testing.T) {
	settings := DefaultSettings()
	up := resource.MustParse("0.3")
	h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: &up}},
	}}
	got := TolerancesFor(h, settings)
	if got.ScaleDown != 0.1 {
		t.Errorf("scale-down tolerance = %v, want the flag value 0.1", got.ScaleDown)
	}
	// "0.3" is stored as 300m, so the controller reads 300 * 1e-3.
	if got.ScaleUp != 300*1e-3 {
		t.Errorf("scale-up tolerance = %.20f, want %.20f", got.ScaleUp, 300*1e-3)
	}

	settings.FeatureGates.HPAConfigurableTolerance = false
	if got := TolerancesFor(h, settings); got.ScaleUp != 0.1 {
		t.Errorf("scale-up tolerance with the gate off = %v, want 0.1", got.ScaleUp)
	}
}
