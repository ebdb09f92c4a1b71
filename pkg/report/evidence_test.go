package report

import (
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

func evidenceContains(evidence []string, part string) bool {
	for _, line := range evidence {
		if strings.Contains(line, part) {
			return true
		}
	}
	return false
}

func TestEvidenceFromLastStatus(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	lastScale := metav1.NewTime(now.Add(-90 * time.Second))
	generation := int64(3)
	observed := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 4},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			CurrentReplicas:    4,
			DesiredReplicas:    4,
			LastScaleTime:      &lastScale,
			ObservedGeneration: &generation,
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
				{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: hpa.ReasonScaleDownStabilized},
				{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound"},
			},
		},
	}
	decision := hpa.Decision{
		DesiredReplicas: 2,
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse, Reason: hpa.ReasonFailedGetResourceMetric},
		}},
	}
	item := Build(decision, Context{HPA: observed, EvaluatedAt: now})

	if item.LastStatus == nil || item.LastStatus.DesiredReplicas != 4 {
		t.Fatalf("lastStatus = %+v, want desiredReplicas 4", item.LastStatus)
	}
	if len(item.LastStatus.Conditions) != 2 {
		t.Errorf("lastStatus conditions = %d, want 2", len(item.LastStatus.Conditions))
	}
	for _, want := range []string{
		"generation 3",
		"held a scale-down (AbleToScale ScaleDownStabilized)",
		"ScalingActive True (ValidMetricFound)",
		"desiredReplicas 4 and this decision has 2",
		"the last rescale was 1m30s before",
	} {
		if !evidenceContains(item.Evidence, want) {
			t.Errorf("evidence %q does not contain %q", item.Evidence, want)
		}
	}
}

func TestEvidenceWithoutStatus(t *testing.T) {
	observed := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
	item := Build(hpa.Decision{}, Context{HPA: observed})
	if item.LastStatus != nil {
		t.Errorf("lastStatus = %+v, want none before the first status write", item.LastStatus)
	}
	if !evidenceContains(item.Evidence, "has not reconciled it yet") {
		t.Errorf("evidence %q does not say the controller has not reconciled the HPA", item.Evidence)
	}
}

func TestSampleAgeWarnings(t *testing.T) {
	now := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	decision := hpa.Decision{Metrics: []hpa.MetricTrace{
		{Name: "cpu resource utilization (percentage of request)", Timestamp: now.Add(-12 * time.Hour)},
		{Name: "memory resource utilization (percentage of request)", Timestamp: now.Add(5 * time.Minute)},
		{Name: "pods metric requests", Timestamp: now.Add(-30 * time.Second)},
	}}
	warnings := sampleAgeWarnings(decision, Context{EvaluatedAt: now})
	if len(warnings) != 2 {
		t.Fatalf("warnings = %q, want one for the old and one for the future samples", warnings)
	}
	if !strings.Contains(warnings[0], "12h0m0s before the evaluation time") {
		t.Errorf("old-sample warning = %q", warnings[0])
	}
	if !strings.Contains(warnings[1], "5m0s after the evaluation time") {
		t.Errorf("future-sample warning = %q", warnings[1])
	}
}
