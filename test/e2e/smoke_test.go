// Package e2e runs kubectl-mlflow and the real Kubernetes v1.37 controllers against the test
// control plane of package harness. Every test is skipped unless KUBE_TESTCLUSTER_BIN names the
// kube-testcluster binary: run hack/e2e.sh, which builds it.
package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-mlflow/kubectl-mlflow/test/harness"
)

// cpuHPA returns an autoscaling/v2 HPA for a Deployment with one CPU utilization target.
func cpuHPA(namespace, name string, minReplicas, maxReplicas, utilization int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    &minReplicas,
			MaxReplicas:    maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &utilization},
				},
			}},
		},
	}
}

func TestHPAControllerScalesUpOnCPU(t *testing.T) {
	harness.SkipWithoutBinary(t)
	started := time.Now()
	cluster := harness.Start(t, harness.Options{})
	const namespace, name, selector = "smoke", "web", "app=web"

	cluster.CreateNamespace(t, namespace)
	cluster.CreateDeployment(t, harness.NewDeployment(namespace, name).Replicas(2).CPURequest("100m").Build())
	pods := cluster.WaitForPods(t, namespace, selector, 2)

	// Start and readiness times older than the CPU initialization period (5 minutes) make the
	// controller trust every CPU sample.
	longAgo := time.Now().Add(-10 * time.Minute)
	cluster.MarkPodsRunningReady(t, namespace, selector, longAgo, longAgo)
	for _, pod := range pods {
		cluster.Metrics.SetPodMetrics(namespace, pod.Name, map[string]corev1.ResourceList{
			"app": {corev1.ResourceCPU: resource.MustParse("200m")},
		}, 30*time.Second)
	}
	cluster.CreateHPA(t, cpuHPA(namespace, name, 2, 10, 50))

	cluster.StartHPAController(t, harness.HPAControllerOptions{})
	hpa := cluster.WaitForHPAStatus(t, namespace, name, "desiredReplicas above 2", func(hpa *autoscalingv2.HorizontalPodAutoscaler) bool {
		return hpa.Status.DesiredReplicas > 2
	})

	// 200m used of 100m requested is 200% against a 50% target, so the replica algorithm
	// computes 2 * 200/50 = 8 replicas. An HPA without spec.behavior scales up to at most
	// max(2 * current, 4) replicas per sync in v1.37, which caps the first rescale at 4.
	if hpa.Status.DesiredReplicas != 4 {
		t.Errorf("status.desiredReplicas = %d after the first rescale, expected 4", hpa.Status.DesiredReplicas)
	}
	ableToScale := harness.FindHPACondition(hpa, autoscalingv2.AbleToScale)
	if ableToScale == nil {
		t.Fatalf("HPA has no AbleToScale condition: %+v", hpa.Status.Conditions)
	}
	if ableToScale.Status != corev1.ConditionTrue || ableToScale.Reason != "SucceededRescale" {
		t.Errorf("AbleToScale = %s/%s (%s), expected True/SucceededRescale", ableToScale.Status, ableToScale.Reason, ableToScale.Message)
	}
	scalingActive := harness.FindHPACondition(hpa, autoscalingv2.ScalingActive)
	if scalingActive == nil || scalingActive.Reason != "ValidMetricFound" {
		t.Errorf("ScalingActive = %+v, expected reason ValidMetricFound", scalingActive)
	}
	if len(hpa.Status.CurrentMetrics) != 1 || hpa.Status.CurrentMetrics[0].Resource == nil {
		t.Fatalf("status.currentMetrics = %+v, expected one Resource metric", hpa.Status.CurrentMetrics)
	}
	if got := hpa.Status.CurrentMetrics[0].Resource.Current.AverageUtilization; got == nil || *got != 200 {
		t.Errorf("current CPU utilization = %v, expected 200", got)
	}

	deployment, err := cluster.Client.AppsV1().Deployments(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Deployment %s/%s: %v", namespace, name, err)
	}
	if *deployment.Spec.Replicas < 4 {
		t.Errorf("Deployment spec.replicas = %d, expected the HPA to have set at least 4", *deployment.Spec.Replicas)
	}
	assertRescaleEvent(t, cluster, namespace, name, "New size: 4; reason: cpu resource utilization (percentage of request) above target")

	// The new pods stay Pending, and the controller counts them as using nothing when it scales
	// up: at 4 replicas it computes 4 * (2*200% + 2*0%)/4 / 50% = 8, and at 8 replicas the
	// average of 50% matches the target, so it stops at 8.
	cluster.WaitForHPAStatus(t, namespace, name, "desiredReplicas 8", func(hpa *autoscalingv2.HorizontalPodAutoscaler) bool {
		return hpa.Status.DesiredReplicas == 8
	})

	// Once all 8 pods are ready at 200%, it computes 32 replicas and spec.maxReplicas stops it.
	for _, pod := range cluster.WaitForPods(t, namespace, selector, 8) {
		cluster.Metrics.SetPodMetrics(namespace, pod.Name, map[string]corev1.ResourceList{
			"app": {corev1.ResourceCPU: resource.MustParse("200m")},
		}, 30*time.Second)
	}
	cluster.MarkPodsRunningReady(t, namespace, selector, longAgo, longAgo)
	atMax := cluster.WaitForHPACondition(t, namespace, name, autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooManyReplicas")
	if atMax.Status.DesiredReplicas != 10 {
		t.Errorf("status.desiredReplicas = %d while ScalingLimited/TooManyReplicas, expected spec.maxReplicas 10", atMax.Status.DesiredReplicas)
	}

	// kubectl from PATH reads the same HPA through the admin kubeconfig.
	output, err := cluster.KubectlCommand("get", "hpa", name, "--namespace", namespace, "--output", "json").Output()
	if err != nil {
		t.Fatalf("kubectl get hpa failed: %v\n%s", err, stderrOf(err))
	}
	var fromKubectl autoscalingv2.HorizontalPodAutoscaler
	if err := json.Unmarshal(output, &fromKubectl); err != nil {
		t.Fatalf("decode kubectl get hpa output: %v\n%s", err, output)
	}
	if fromKubectl.Spec.MaxReplicas != 10 {
		t.Errorf("kubectl get hpa: spec.maxReplicas = %d, expected 10", fromKubectl.Spec.MaxReplicas)
	}
	if fromKubectl.Status.DesiredReplicas < 4 {
		t.Errorf("kubectl get hpa: status.desiredReplicas = %d, expected at least 4", fromKubectl.Status.DesiredReplicas)
	}
	t.Logf("scenario took %s", time.Since(started).Round(time.Millisecond))
}

// assertRescaleEvent waits for the HPA controller's SuccessfulRescale event with the given
// message. Events are written asynchronously, shortly after the rescale.
func assertRescaleEvent(t *testing.T, cluster *harness.Cluster, namespace, name, message string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var seen []string
	for {
		seen = seen[:0]
		for _, event := range cluster.Events(t, namespace) {
			if event.InvolvedObject.Kind != "HorizontalPodAutoscaler" || event.InvolvedObject.Name != name {
				continue
			}
			if event.Reason == "SuccessfulRescale" && event.Message == message {
				return
			}
			seen = append(seen, fmt.Sprintf("%s: %s", event.Reason, event.Message))
		}
		if time.Now().After(deadline) {
			t.Errorf("no SuccessfulRescale event %q for HPA %s/%s after 30s; HPA events: %q", message, namespace, name, seen)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stderrOf returns what a failed command wrote to standard error, which Output collects.
func stderrOf(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return strings.TrimSpace(string(exitErr.Stderr))
	}
	return ""
}
