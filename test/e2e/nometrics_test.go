package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/kubectl-mlflow/kubectl-mlflow/test/harness"
)

// TestPredictionWithoutMetricsAPI runs a cluster that serves none of the three metrics APIs, as a
// cluster without metrics-server does. The plugin must name what is missing and what to install,
// exit non-zero because no decision can be computed, and still predict the controller's
// conditions.
func TestPredictionWithoutMetricsAPI(t *testing.T) {
	harness.SkipWithoutBinary(t)
	requirePlugin(t)
	cluster := harness.Start(t, harness.Options{DisableMetricsServer: true})
	const namespace = "no-metrics"
	sc := agreementScenarios()[0]
	sc.cpu = "" // nothing serves pod metrics
	setUpScenario(t, cluster, namespace, sc)

	cmd := cluster.KubectlCommand("mlflow", "explain-hpa", workloadName, "-n", namespace)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("explain-hpa without a metrics API: got %v, want a non-zero exit\n%s", err, stdout.String())
	}
	text := stdout.String() + stderr.String()
	for _, want := range []string{"metrics.k8s.io", "metrics-server", "FailedGetResourceMetric"} {
		if !strings.Contains(text, want) {
			t.Errorf("output does not mention %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "panic") {
		t.Errorf("the plugin panicked:\n%s", text)
	}

	predicted := explain(t, cluster, namespace).Items[0]
	controller := cluster.StartHPAController(t, harness.HPAControllerOptions{SyncPeriod: agreementSyncPeriod})
	defer controller.Stop()
	actual := cluster.WaitForHPAStatus(t, namespace, workloadName, "the first status write of the HPA controller",
		func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return len(h.Status.Conditions) > 0 })

	var got, want []string
	for _, c := range actual.Status.Conditions {
		got = append(got, string(c.Type)+"="+string(c.Status)+"/"+c.Reason)
	}
	for _, c := range predicted.Conditions {
		want = append(want, c.Type+"="+c.Status+"/"+c.Reason)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("conditions:\ncontroller %v\nprediction %v", got, want)
	}
	if actual.Status.DesiredReplicas != predicted.DesiredReplicas {
		t.Errorf("desiredReplicas: controller %d, prediction %d", actual.Status.DesiredReplicas, predicted.DesiredReplicas)
	}
}
