package hpa

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// DefaultBehavior returns a copy of behavior with the API server's autoscaling/v2 defaults
// applied field by field (selectPolicy, stabilizationWindowSeconds, policies; tolerance has no
// default). scaleUp defaults to a 0 s window and the larger of 4 pods or 100% per 15 s.
// scaleDown defaults to 100% per 15 s and leaves the window unset, because the controller fills
// it from --horizontal-pod-autoscaler-downscale-stabilization. A nil behavior stays nil.
func DefaultBehavior(behavior *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if behavior == nil {
		return nil
	}
	out := behavior.DeepCopy()
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	upDefault := autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr(int32(0)),
		SelectPolicy:               &maxPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
	downDefault := autoscalingv2.HPAScalingRules{
		SelectPolicy: &maxPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
	out.ScaleUp = defaultRules(out.ScaleUp, upDefault)
	out.ScaleDown = defaultRules(out.ScaleDown, downDefault)
	return out
}

func defaultRules(rules *autoscalingv2.HPAScalingRules, defaults autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if rules == nil {
		return &defaults
	}
	if rules.SelectPolicy == nil {
		rules.SelectPolicy = defaults.SelectPolicy
	}
	if rules.StabilizationWindowSeconds == nil {
		rules.StabilizationWindowSeconds = defaults.StabilizationWindowSeconds
	}
	if rules.Policies == nil {
		rules.Policies = defaults.Policies
	}
	return rules
}
