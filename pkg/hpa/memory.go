package hpa

import "time"

// Recommendation is one raw (unclamped) desired replica count that the controller stored for
// stabilization.
type Recommendation struct {
	Replicas  int32     `json:"replicas"`
	Timestamp time.Time `json:"timestamp"`
}

// ScaleEvent is one rescale that the controller remembers for behavior rate limits.
type ScaleEvent struct {
	// ReplicaChange is the absolute change in replicas.
	ReplicaChange int32     `json:"replicaChange"`
	Timestamp     time.Time `json:"timestamp"`
	// Outdated marks an event older than the longest policy period; its slot is reused by the next event.
	Outdated bool `json:"outdated,omitempty"`
}

// Memory is the state that the HPA controller keeps per HPA only in its process memory. It is
// lost when kube-controller-manager restarts and no API object shows it.
type Memory struct {
	// Recommendations drive legacy and behavior stabilization. A nil slice means the controller
	// has not reconciled this HPA since it started: the first reconcile stores the current
	// replica count as the only entry.
	Recommendations []Recommendation `json:"recommendations"`
	// ScaleUpEvents and ScaleDownEvents drive behavior rate limits. They are recorded only for
	// HPAs with spec.behavior.
	ScaleUpEvents   []ScaleEvent `json:"scaleUpEvents,omitempty"`
	ScaleDownEvents []ScaleEvent `json:"scaleDownEvents,omitempty"`
}

// Clone returns a deep copy, so that a caller's memory is never changed by Reconcile.
func (m Memory) Clone() Memory {
	out := Memory{}
	if m.Recommendations != nil {
		out.Recommendations = append([]Recommendation{}, m.Recommendations...)
	}
	if m.ScaleUpEvents != nil {
		out.ScaleUpEvents = append([]ScaleEvent{}, m.ScaleUpEvents...)
	}
	if m.ScaleDownEvents != nil {
		out.ScaleDownEvents = append([]ScaleEvent{}, m.ScaleDownEvents...)
	}
	return out
}
