package hpa

import (
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event is an event that the controller would record on the HPA.
type Event struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// setCondition updates the condition of type t in place, or appends it, keeping insertion order.
// lastTransitionTime changes only when the status changes.
func setCondition(conditions []autoscalingv2.HorizontalPodAutoscalerCondition, t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) []autoscalingv2.HorizontalPodAutoscalerCondition {
	index := -1
	for i := range conditions {
		if conditions[i].Type == t {
			index = i
			break
		}
	}
	if index < 0 {
		conditions = append(conditions, autoscalingv2.HorizontalPodAutoscalerCondition{Type: t})
		index = len(conditions) - 1
	}
	c := &conditions[index]
	if c.Status != status {
		c.LastTransitionTime = metav1.NewTime(now)
	}
	c.Status, c.Reason, c.Message = status, reason, message
	return conditions
}

func removeCondition(conditions []autoscalingv2.HorizontalPodAutoscalerCondition, t autoscalingv2.HorizontalPodAutoscalerConditionType) []autoscalingv2.HorizontalPodAutoscalerCondition {
	out := conditions[:0]
	for _, c := range conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// FindCondition returns the condition of type t, or nil.
func FindCondition(conditions []autoscalingv2.HorizontalPodAutoscalerCondition, t autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range conditions {
		if conditions[i].Type == t {
			return &conditions[i]
		}
	}
	return nil
}
