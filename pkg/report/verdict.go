package report

import (
	"fmt"
	"regexp"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// verdict writes the one-line summary of a decision, for example "will scale up to 6" or
// "holds at 3: scale-down held by the 300s stabilization window".
func verdict(decision hpa.Decision, ctx Context) string {
	current := decision.CurrentReplicas
	switch decision.Branch {
	case hpa.BranchFailedGetScale:
		return fmt.Sprintf("no change: the scale subresource of %s/%s could not be read", ctx.ScaleTargetRef.Kind, ctx.ScaleTargetRef.Name)
	case hpa.BranchScalingDisabled:
		return "no change: scaling is disabled because the target has 0 replicas"
	case hpa.BranchAboveMaxReplicas:
		return fmt.Sprintf("will scale down to %d: the current count %d is above maxReplicas %d", decision.DesiredReplicas, current, decision.MaxReplicas)
	case hpa.BranchBelowMinReplicas:
		return fmt.Sprintf("will scale up to %d: the current count %d is below minReplicas %d", decision.DesiredReplicas, current, decision.MinReplicas)
	}
	if decision.MetricDesiredReplicas < 0 {
		return "no change: the metrics could not be computed (" + failureReason(decision) + ")"
	}

	proposal := decision.PrenormalizedDesiredReplicas
	if decision.Rescale {
		direction := "up"
		if decision.DesiredReplicas < current {
			direction = "down"
		}
		text := fmt.Sprintf("will scale %s to %d", direction, decision.DesiredReplicas)
		if decision.DesiredReplicas != proposal && !decision.ScaleFromZeroFloor {
			text += fmt.Sprintf(" (the metrics propose %d): %s", proposal, holdReason(decision, ctx))
		}
		return text
	}
	switch {
	case proposal == current && allWithinTolerance(decision):
		return "no change: within tolerance"
	case proposal == current:
		return fmt.Sprintf("no change: the metrics propose the current %d replicas", current)
	case proposal < current:
		return fmt.Sprintf("holds at %d: scale-down %s", current, holdReason(decision, ctx))
	default:
		return fmt.Sprintf("holds at %d: scale-up %s", current, holdReason(decision, ctx))
	}
}

// holdReason names the normalization step that kept the result from the metrics' proposal.
func holdReason(decision hpa.Decision, ctx Context) string {
	if decision.Stabilized != nil && decision.Stabilization != nil && decision.Stabilized.Replicas != decision.Stabilization.Desired {
		window := decision.Stabilization.DownWindow
		if decision.Stabilized.Reason == hpa.ReasonScaleUpStabilized {
			window = decision.Stabilization.UpWindow
		}
		return fmt.Sprintf("held by the %s stabilization window", formatDuration(window))
	}
	if decision.Limited == nil {
		return "held by normalization"
	}
	switch decision.Limited.Reason {
	case hpa.ReasonTooManyReplicas:
		return fmt.Sprintf("limited by maxReplicas %d", decision.MaxReplicas)
	case hpa.ReasonTooFewReplicas:
		return fmt.Sprintf("limited by minReplicas %d", decision.MinReplicas)
	case hpa.ReasonScaleUpLimit, hpa.ReasonScaleDownLimit:
		if decision.RateLimit != nil && decision.RateLimit.SelectPolicy == autoscalingv2.DisabledPolicySelect {
			return "disabled by selectPolicy Disabled"
		}
		if ctx.Behavior == nil {
			return "limited by the legacy scale-up limit"
		}
		return "limited by the scaling policies"
	}
	return "held by " + decision.Limited.Reason
}

func allWithinTolerance(decision hpa.Decision) bool {
	seen := false
	for _, m := range decision.Metrics {
		if m.Err != nil || m.Error != "" {
			continue
		}
		if m.Rule != hpa.RuleWithinTolerance && m.Rule != hpa.RuleAdjustedWithinTolerance {
			return false
		}
		seen = true
	}
	return seen
}

// failureReason names why the metrics step failed: the selector or the first failed metric.
func failureReason(decision hpa.Decision) string {
	if decision.SelectorError != "" {
		return decision.SelectorError
	}
	for _, m := range decision.Metrics {
		if m.Error != "" {
			if m.Reason != "" {
				return m.Reason
			}
			return m.Error
		}
	}
	return "unknown error"
}

// hintPattern maps an error text to what the operator can do about it. The patterns match the
// engine's messages, which are the controller's.
type hintPattern struct {
	pattern *regexp.Regexp
	hint    func(match []string) string
}

var hintPatterns = []hintPattern{
	{regexp.MustCompile(`missing request for (\S+) in container (\S+) of Pod (\S+)`), func(m []string) string {
		return fmt.Sprintf("set resources.requests.%s on container %s (pod %s): utilization targets need a request on every container", m[1], m[2], m[3])
	}},
	{regexp.MustCompile(`missing pod-level request for (\S+) in Pod (\S+)`), func(m []string) string {
		return fmt.Sprintf("set spec.resources.requests.%s on pod %s, or remove its pod-level requests", m[1], m[2])
	}},
	{regexp.MustCompile(`container (\S+) not found in Pod (\S+)`), func(m []string) string {
		return fmt.Sprintf("check containerResource.container in the HPA: pod %s has no container %s", m[2], m[1])
	}},
	{regexp.MustCompile(`unable to fetch metrics from resource metrics API`), func([]string) string {
		return "install metrics-server, or check that the APIService v1beta1.metrics.k8s.io is Available (kubectl get apiservice v1beta1.metrics.k8s.io)"
	}},
	{regexp.MustCompile(`no metrics returned from resource metrics API`), func([]string) string {
		return "metrics-server has no samples for these pods yet: new pods get one after their first scrape; check kubectl top pods"
	}},
	{regexp.MustCompile(`unable to fetch metrics from custom metrics API`), func([]string) string {
		return "install or fix the custom metrics adapter that serves custom.metrics.k8s.io, and check the metric name and selector"
	}},
	{regexp.MustCompile(`unable to fetch metrics from external metrics API`), func([]string) string {
		return "install or fix the adapter that serves external.metrics.k8s.io, and check the metric name and selector"
	}},
	{regexp.MustCompile(`no metrics returned from (custom|external) metrics API`), func(m []string) string {
		return fmt.Sprintf("the %s metrics adapter returned no values: check the metric name, the selector and the adapter's rules", m[1])
	}},
	{regexp.MustCompile(`did not receive metrics for targeted pods`), func([]string) string {
		return "every selected pod is unready, failed or being deleted: wait for pods to become Ready"
	}},
	{regexp.MustCompile(`no pods returned by selector`), func([]string) string {
		return "no pods match the scale target's selector: check that the workload has running pods"
	}},
	{regexp.MustCompile(`no metrics returned matched known pods`), func([]string) string {
		return "the metrics name pods that the selector does not list: check the workload's selector and labels"
	}},
	{regexp.MustCompile(`selector is required`), func([]string) string {
		return "the scale subresource reports no selector: the target kind must publish status.selector in its scale subresource"
	}},
	{regexp.MustCompile(`controlled by more than one HPA`), func([]string) string {
		return "make sure each workload's pods are selected by exactly one HPA"
	}},
	{regexp.MustCompile(`invalid metric: the (\S+) field is not set`), func(m []string) string {
		return fmt.Sprintf("fix the HPA spec: set the %s field of this metric", m[1])
	}},
	{regexp.MustCompile(`invalid API version in scale target reference|failed to query scale subresource`), func([]string) string {
		return "check that spec.scaleTargetRef names an existing workload that has a scale subresource"
	}},
}

// offlineHintPatterns replace hintPatterns for objects read from manifests, where missing data
// means missing documents: a chart render has no Pods and no metrics.
var offlineHintPatterns = []hintPattern{
	{regexp.MustCompile(`no metrics returned from resource metrics API`), func([]string) string {
		return "the manifests have no PodMetrics for the selected pods: add them (kubectl get podmetrics -n NAMESPACE -o yaml), or run against the cluster"
	}},
	{regexp.MustCompile(`no pods returned by selector`), func([]string) string {
		return "the manifests have no Pods that match the scale target's selector, as in a chart render: add them (kubectl get pods -n NAMESPACE -o yaml), or run against the cluster"
	}},
	{regexp.MustCompile(`no metrics returned from custom metrics API|unable to fetch metrics from custom metrics API`), func([]string) string {
		return "the manifests have no custom metric value for this metric: add a MetricValueList (kubectl get --raw /apis/custom.metrics.k8s.io/v1beta2/...)"
	}},
	{regexp.MustCompile(`no metrics returned from external metrics API|unable to fetch metrics from external metrics API`), func([]string) string {
		return "the manifests have no external metric value for this metric: add an ExternalMetricValueList (kubectl get --raw /apis/external.metrics.k8s.io/v1beta1/...)"
	}},
}

// hintFor returns what to do about an error text, or "" when no known cause matches. offline
// selects the hints for objects read from manifests first.
func hintFor(message string, offline bool) string {
	if offline {
		for _, p := range offlineHintPatterns {
			if match := p.pattern.FindStringSubmatch(message); match != nil {
				return p.hint(match)
			}
		}
	}
	for _, p := range hintPatterns {
		if match := p.pattern.FindStringSubmatch(message); match != nil {
			return p.hint(match)
		}
	}
	return ""
}

// unavailableHint returns what to do when an API or resource could not be read.
func unavailableHint(name string) string {
	switch {
	case name == "metrics.k8s.io":
		return "install metrics-server, or check the APIService v1beta1.metrics.k8s.io"
	case strings.HasSuffix(name, "metrics.k8s.io"):
		return "install or fix the metrics adapter that serves " + name
	case name == "events":
		return "past rescales cannot be rebuilt; grant list on events to see them"
	}
	return ""
}
