package hpa

import "time"

// FeatureGates are the kube-controller-manager feature gates that change HPA decisions.
type FeatureGates struct {
	// HPAScaleToZero allows minReplicas 0 with Object or External metrics (beta, on by default in v1.37).
	HPAScaleToZero bool `json:"HPAScaleToZero"`
	// HPAConfigurableTolerance honours behavior.scaleUp.tolerance and behavior.scaleDown.tolerance
	// (GA and locked on in v1.37).
	HPAConfigurableTolerance bool `json:"HPAConfigurableTolerance"`
	// PodLevelResources uses pod-level requests (spec.resources) for Resource utilization
	// (beta, on by default in v1.37).
	PodLevelResources bool `json:"PodLevelResources"`
	// HPAGeneration sets status.observedGeneration (beta, on by default in v1.37).
	HPAGeneration bool `json:"HPAGeneration"`
}

// ControllerSettings are the kube-controller-manager flags that the HPA controller reads.
type ControllerSettings struct {
	// Tolerance is --horizontal-pod-autoscaler-tolerance, used for both directions unless the
	// HPA's behavior sets a per-direction tolerance.
	Tolerance float64 `json:"tolerance"`
	// CPUInitializationPeriod is --horizontal-pod-autoscaler-cpu-initialization-period.
	CPUInitializationPeriod time.Duration `json:"cpuInitializationPeriod"`
	// InitialReadinessDelay is --horizontal-pod-autoscaler-initial-readiness-delay.
	InitialReadinessDelay time.Duration `json:"initialReadinessDelay"`
	// DownscaleStabilizationWindow is --horizontal-pod-autoscaler-downscale-stabilization: the
	// legacy stabilization window and the default of behavior.scaleDown.stabilizationWindowSeconds.
	DownscaleStabilizationWindow time.Duration `json:"downscaleStabilizationWindow"`
	// SyncPeriod is --horizontal-pod-autoscaler-sync-period, the interval between reconciles of one HPA.
	SyncPeriod time.Duration `json:"syncPeriod"`
	// ScaleUpLimitFactor and ScaleUpLimitMinimum bound a legacy (no behavior) scale-up to
	// max(factor*current, minimum). The controller hard-codes 2 and 4; its unit tests use 8.
	ScaleUpLimitFactor  float64      `json:"scaleUpLimitFactor"`
	ScaleUpLimitMinimum float64      `json:"scaleUpLimitMinimum"`
	FeatureGates        FeatureGates `json:"featureGates"`
}

// DefaultSettings returns the kube-controller-manager v1.37 defaults.
func DefaultSettings() ControllerSettings {
	return ControllerSettings{
		Tolerance:                    0.1,
		CPUInitializationPeriod:      5 * time.Minute,
		InitialReadinessDelay:        30 * time.Second,
		DownscaleStabilizationWindow: 5 * time.Minute,
		SyncPeriod:                   15 * time.Second,
		ScaleUpLimitFactor:           2.0,
		ScaleUpLimitMinimum:          4.0,
		FeatureGates: FeatureGates{
			HPAScaleToZero:           true,
			HPAConfigurableTolerance: true,
			PodLevelResources:        true,
			HPAGeneration:            true,
		},
	}
}
