package hpa

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodMetric is one pod's metric sample in milli-units.
type PodMetric struct {
	Value     int64         `json:"valueMilli"`
	Timestamp time.Time     `json:"timestamp"`
	Window    time.Duration `json:"window"`
}

// PodMetricsInfo maps a pod name to its sample.
type PodMetricsInfo map[string]PodMetric

// PodGroups is the controller's sorting of the pods selected by the scale target, made before it
// uses their metrics. Names are sorted.
type PodGroups struct {
	// ReadyCount is the number of pods whose sample is used as is.
	ReadyCount int      `json:"readyCount"`
	Ready      []string `json:"ready"`
	// Unready pods are Pending, or (for cpu only) not yet trusted after start. They count as 0%
	// usage on a scale-up and are left out otherwise.
	Unready []string `json:"unready"`
	// UnreadyReasons gives the rule that made each unready pod unready (see the Unready* constants).
	UnreadyReasons map[string]string `json:"unreadyReasons,omitempty"`
	// Missing pods have no metric sample. They count as 0 on a scale-up and as the target
	// (at least 100% of request for utilization) on a scale-down.
	Missing []string `json:"missing"`
	// Ignored pods are being deleted or have failed; they never count.
	Ignored []string `json:"ignored"`
}

// GroupPods sorts pods into ready, unready, missing and ignored the way the v1.37 controller
// does. The CPU readiness rules apply only when resource is exactly "cpu"; for other resources
// and for custom metrics (resource "") a running pod with a sample is ready whatever its Ready
// condition says.
func GroupPods(pods []*corev1.Pod, metrics PodMetricsInfo, resource corev1.ResourceName, cpuInitializationPeriod, initialReadinessDelay time.Duration, now time.Time) PodGroups {
	var groups PodGroups
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			groups.Ignored = append(groups.Ignored, pod.Name)
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			groups.markUnready(pod.Name, UnreadyPending)
			continue
		}
		metric, found := metrics[pod.Name]
		if !found {
			groups.Missing = append(groups.Missing, pod.Name)
			continue
		}
		if resource == corev1.ResourceCPU {
			if reason := cpuSampleUntrusted(pod, metric, cpuInitializationPeriod, initialReadinessDelay, now); reason != "" {
				groups.markUnready(pod.Name, reason)
				continue
			}
		}
		groups.ReadyCount++
		groups.Ready = append(groups.Ready, pod.Name)
	}
	sort.Strings(groups.Ready)
	sort.Strings(groups.Unready)
	sort.Strings(groups.Missing)
	sort.Strings(groups.Ignored)
	return groups
}

// Reasons for an unready pod.
const (
	UnreadyPending = "Pending"
	// UnreadyNoReadyCondition: a cpu metric and a pod without a Ready condition or a start time.
	UnreadyNoReadyCondition = "NoReadyCondition"
	// UnreadyNotReady: a cpu metric and Ready=False while the pod is in its CPU initialization period.
	UnreadyNotReady = "NotReadyDuringCPUInitialization"
	// UnreadySampleBeforeReady: a cpu sample taken before the Ready transition plus the sample
	// window, while the pod is in its CPU initialization period.
	UnreadySampleBeforeReady = "SampleBeforeReady"
	// UnreadyNeverReady: a cpu metric, Ready=False, and no Ready transition since the initial
	// readiness delay after start.
	UnreadyNeverReady = "NeverReadySinceStart"
)

func (g *PodGroups) markUnready(pod, reason string) {
	g.Unready = append(g.Unready, pod)
	if g.UnreadyReasons == nil {
		g.UnreadyReasons = map[string]string{}
	}
	g.UnreadyReasons[pod] = reason
}

// cpuSampleUntrusted applies the CPU readiness rules and returns why the pod is unready, or "". Within the CPU initialization period after
// start, a pod is unready when its Ready condition is False or when the sample was taken before
// the Ready transition plus the sample window. After that period, a pod is unready only when it
// is not Ready and has not become ready since the initial readiness delay after start.
// Ready=Unknown is not False.
func cpuSampleUntrusted(pod *corev1.Pod, metric PodMetric, cpuInitializationPeriod, initialReadinessDelay time.Duration, now time.Time) string {
	ready := podReadyCondition(pod)
	if ready == nil || pod.Status.StartTime == nil {
		return UnreadyNoReadyCondition
	}
	start := pod.Status.StartTime.Time
	if start.Add(cpuInitializationPeriod).After(now) {
		if ready.Status == corev1.ConditionFalse {
			return UnreadyNotReady
		}
		if metric.Timestamp.Before(ready.LastTransitionTime.Time.Add(metric.Window)) {
			return UnreadySampleBeforeReady
		}
		return ""
	}
	if ready.Status == corev1.ConditionFalse && start.Add(initialReadinessDelay).After(ready.LastTransitionTime.Time) {
		return UnreadyNeverReady
	}
	return ""
}

func podReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// podRunningAndReady is the readiness test of Object and External Value targets: phase Running
// and condition Ready=True, with no CPU initialization rules.
func podRunningAndReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	ready := podReadyCondition(pod)
	return ready != nil && ready.Status == corev1.ConditionTrue
}
