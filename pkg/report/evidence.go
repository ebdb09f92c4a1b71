package report

import (
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// LastStatus is the HPA status that the controller wrote at its last reconcile, as read.
type LastStatus struct {
	CurrentReplicas int32 `json:"currentReplicas"`
	DesiredReplicas int32 `json:"desiredReplicas"`
	// LastScaleTime is the time of the last rescale, if any.
	LastScaleTime *time.Time `json:"lastScaleTime,omitempty"`
	// ObservedGeneration is the HPA generation that the controller last saw, if reported.
	ObservedGeneration *int64      `json:"observedGeneration,omitempty"`
	Conditions         []Condition `json:"conditions"`
}

// buildLastStatus copies the status that the HPA carried when it was read; nil when the controller
// has not written one yet (no conditions).
func buildLastStatus(observed *autoscalingv2.HorizontalPodAutoscaler) *LastStatus {
	if observed == nil || len(observed.Status.Conditions) == 0 {
		return nil
	}
	status := observed.Status
	last := &LastStatus{
		CurrentReplicas:    status.CurrentReplicas,
		DesiredReplicas:    status.DesiredReplicas,
		ObservedGeneration: status.ObservedGeneration,
		Conditions:         []Condition{},
	}
	if status.LastScaleTime != nil {
		t := status.LastScaleTime.UTC()
		last.LastScaleTime = &t
	}
	for _, c := range status.Conditions {
		last.Conditions = append(last.Conditions, Condition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	return last
}

// buildEvidence reads the HPA's last status as evidence about what the tool cannot see: the
// controller's memory, whether it has seen the current spec, and whether the inputs changed
// since its last reconcile.
func buildEvidence(decision hpa.Decision, ctx Context) []string {
	observed := ctx.HPA
	if observed == nil {
		return nil
	}
	if len(observed.Status.Conditions) == 0 {
		return []string{"the HPA has no status conditions: it comes from a manifest without status, the controller has not reconciled it yet, or no HPA controller runs"}
	}
	var out []string
	status := observed.Status

	if status.ObservedGeneration != nil && *status.ObservedGeneration < observed.Generation {
		out = append(out, fmt.Sprintf("the controller last saw generation %d of the HPA, and the spec is at generation %d: "+
			"its next reconcile is the first with the current spec", *status.ObservedGeneration, observed.Generation))
	}

	if able := hpa.FindCondition(status.Conditions, autoscalingv2.AbleToScale); able != nil {
		switch able.Reason {
		case hpa.ReasonScaleDownStabilized:
			out = append(out, "the controller's last reconcile held a scale-down (AbleToScale ScaleDownStabilized): its memory "+
				"has recommendations above the count it proposed, inside the scale-down stabilization window")
		case hpa.ReasonScaleUpStabilized:
			out = append(out, "the controller's last reconcile held a scale-up (AbleToScale ScaleUpStabilized): its memory "+
				"has recommendations below the count it proposed, inside the scale-up stabilization window")
		case "FailedGetScale", "FailedUpdateScale":
			out = append(out, fmt.Sprintf("the controller's last reconcile failed with AbleToScale %s: %s", able.Reason, able.Message))
		}
	}
	if active := hpa.FindCondition(status.Conditions, autoscalingv2.ScalingActive); active != nil {
		predicted := hpa.FindCondition(decision.Status.Conditions, autoscalingv2.ScalingActive)
		if predicted != nil && (predicted.Status != active.Status || predicted.Reason != active.Reason) {
			out = append(out, fmt.Sprintf("the controller last reported ScalingActive %s (%s) and this decision predicts %s (%s): "+
				"the metrics or pods changed since its last reconcile, or it reads them differently",
				active.Status, active.Reason, predicted.Status, predicted.Reason))
		}
	}

	if status.DesiredReplicas != decision.DesiredReplicas && decision.MetricDesiredReplicas != -1 {
		out = append(out, fmt.Sprintf("the controller's last status has desiredReplicas %d and this decision has %d: the inputs "+
			"changed since its last reconcile, or its memory differs from the one assumed here", status.DesiredReplicas, decision.DesiredReplicas))
	}
	if status.LastScaleTime != nil {
		age := ctx.EvaluatedAt.Sub(status.LastScaleTime.Time).Round(time.Second)
		out = append(out, fmt.Sprintf("the last rescale was %s before the evaluation time (status.lastScaleTime %s)",
			age, status.LastScaleTime.UTC().Format(time.RFC3339)))
	}
	return out
}
