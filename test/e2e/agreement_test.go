package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-mlflow/kubectl-mlflow/test/harness"
)

// The agreement tests set up a workload, its metrics and an HPA while no HPA controller runs.
// They ask the plugin, through the real kubectl, for the controller's next decision. Then they
// start the real HPA controller and compare its first decision with the prediction. A freshly started
// controller has exactly the memory that the plugin assumes by default.

const (
	workloadName     = "mlflow"
	workloadSelector = "app=mlflow"
	// holdLabel marks pods that a scenario keeps Pending.
	holdLabel = "e2e-hold"
	// agreementSyncPeriod is long, so that the controller's second reconcile cannot replace the
	// first decision before the test has read it.
	agreementSyncPeriod = time.Minute
)

// scenario is one MLflow-like workload and HPA.
type scenario struct {
	name     string
	replicas int32
	// pending is how many pods stay Pending (no kubelet runs them); the others are Running and Ready.
	pending  int
	requests corev1.ResourceList
	// cpu and memory are the usage every Running pod reports through metrics.k8s.io.
	cpu, memory string
	hpa         func(namespace string) *autoscalingv2.HorizontalPodAutoscaler
	// metrics sets custom or external metric values, when the HPA uses them.
	metrics func(m *harness.MetricsServer, namespace string, running []corev1.Pod)
	// wantDesired is the decision the scenario is built to produce. The real controller is the
	// referee, so this value only guards against a scenario that drifted into a trivial case.
	wantDesired int32
}

func mlflowRequests() corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}
}

// mlflowHPA is the production example of the MLflow chart's documentation. It targets CPU 70%
// and memory 80% with 2 to 10 replicas. It scales up 100% per 60 s after a 30 s window and down
// 10% per 60 s after a 300 s window. upWindow replaces the scale-up window so that a scenario can scale up on
// the first decision.
func mlflowHPA(namespace string, upWindow int32) *autoscalingv2.HorizontalPodAutoscaler {
	minReplicas, cpu, memory, downWindow := int32(2), int32(70), int32(80), int32(300)
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: workloadName, Namespace: namespace},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: workloadName},
			MinReplicas:    &minReplicas,
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &cpu}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &memory}}},
			},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &upWindow,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 60}}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &downWindow,
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 10, PeriodSeconds: 60}}},
			},
		},
	}
}

// singleMetricHPA is mlflowHPA with one metric in place of CPU and memory.
func singleMetricHPA(namespace string, metric autoscalingv2.MetricSpec, withBehavior bool) *autoscalingv2.HorizontalPodAutoscaler {
	h := mlflowHPA(namespace, 0)
	h.Spec.Metrics = []autoscalingv2.MetricSpec{metric}
	if !withBehavior {
		h.Spec.Behavior = nil
	}
	return h
}

func agreementScenarios() []scenario {
	return []scenario{
		{
			// cpu 560m of 500m is 112% against 70%: ceil(1.6 × 3) = 5, within 100% per 60 s.
			name: "scale-up", replicas: 3, requests: mlflowRequests(), cpu: "560m", memory: "600Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler { return mlflowHPA(ns, 0) }, wantDesired: 5,
		},
		{
			// The unmodified 30 s scale-up window holds the first scale-up of a fresh controller.
			name: "scale-up-held-by-window", replicas: 3, requests: mlflowRequests(), cpu: "560m", memory: "600Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler { return mlflowHPA(ns, 30) }, wantDesired: 3,
		},
		{
			// cpu 20% and memory 29% propose 2, and the 300 s scale-down window holds 4.
			name: "scale-down-stabilized", replicas: 4, requests: mlflowRequests(), cpu: "100m", memory: "300Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler { return mlflowHPA(ns, 0) }, wantDesired: 4,
		},
		{
			// cpu 74% against 70% is a ratio of 1.06, inside the 0.1 tolerance; memory 80% is 1.0.
			name: "within-tolerance", replicas: 3, requests: mlflowRequests(), cpu: "370m", memory: "820Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler { return mlflowHPA(ns, 0) }, wantDesired: 3,
		},
		{
			// No memory request: the memory metric fails, and a failed metric forbids the scale-down
			// that cpu proposes, so the controller does not compute a decision at all.
			name: "missing-requests", replicas: 3, requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
			cpu: "100m", memory: "300Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler { return mlflowHPA(ns, 0) }, wantDesired: 0,
		},
		{
			// 3 Running pods at 100% of request and 1 Pending pod: counting the Pending pod as 0%
			// brings cpu to 75%, inside the tolerance, so the scale-up is cancelled.
			name: "unready-pods-scale-up", replicas: 4, pending: 1, requests: mlflowRequests(), cpu: "500m", memory: "600Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler { return mlflowHPA(ns, 0) }, wantDesired: 4,
		},
		{
			// 250 requests per second on the Ingress against a Value target of 100 with 2 ready
			// pods proposes ceil(2.5 × 2) = 5; 100% per 60 s allows 4.
			name: "object-metric", replicas: 2, requests: mlflowRequests(),
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler {
				target := resource.MustParse("100")
				return singleMetricHPA(ns, autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
					DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: workloadName},
					Metric:          autoscalingv2.MetricIdentifier{Name: "requests-per-second"},
					Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &target},
				}}, true)
			},
			metrics: func(m *harness.MetricsServer, ns string, _ []corev1.Pod) {
				m.SetObjectMetric(ns, "ingresses.networking.k8s.io", workloadName, "requests-per-second", resource.MustParse("250"))
			},
			wantDesired: 4,
		},
		{
			// 150 messages against an AverageValue target of 30 proposes 5; without behavior the
			// legacy limit max(2 × 2, 4) = 4 applies.
			name: "external-metric", replicas: 2, requests: mlflowRequests(),
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler {
				target := resource.MustParse("30")
				return singleMetricHPA(ns, autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "queue_messages_ready",
						Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "mlflow-jobs"}}},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &target},
				}}, false)
			},
			metrics: func(m *harness.MetricsServer, ns string, _ []corev1.Pod) {
				m.SetExternalMetric(ns, "queue_messages_ready", map[string]string{"queue": "mlflow-jobs"}, resource.MustParse("150"))
			},
			wantDesired: 4,
		},
		{
			// 25 requests per second per pod against an AverageValue target of 10 proposes
			// ceil(2.5 × 3) = 8; 100% per 60 s allows 6.
			name: "pods-metric", replicas: 3, requests: mlflowRequests(),
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler {
				target := resource.MustParse("10")
				return singleMetricHPA(ns, autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "http_requests_per_second"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &target},
				}}, true)
			},
			metrics: func(m *harness.MetricsServer, ns string, running []corev1.Pod) {
				for _, pod := range running {
					m.SetPodCustomMetric(ns, pod.Name, "http_requests_per_second", resource.MustParse("25"))
				}
			},
			wantDesired: 6,
		},
		{
			// The "app" container at 400m of 500m is 80% against 50%: ceil(1.6 × 3) = 5.
			name: "container-resource", replicas: 3, requests: mlflowRequests(), cpu: "400m", memory: "600Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler {
				utilization := int32(50)
				return singleMetricHPA(ns, autoscalingv2.MetricSpec{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
					Name: corev1.ResourceCPU, Container: "app",
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &utilization},
				}}, true)
			},
			wantDesired: 5,
		},
		{
			// 768Mi per pod against an AverageValue of 512Mi: ceil(1.5 × 3) = 5.
			name: "resource-average-value", replicas: 3, requests: mlflowRequests(), cpu: "100m", memory: "768Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler {
				target := resource.MustParse("512Mi")
				return singleMetricHPA(ns, autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &target},
				}}, true)
			},
			wantDesired: 5,
		},
		{
			// 10 pods far below target propose 2; with no scale-down window, 10% per 60 s allows
			// int32(10 × 0.9) = 9.
			name: "scale-down-rate-limited", replicas: 10, requests: mlflowRequests(), cpu: "50m", memory: "100Mi",
			hpa: func(ns string) *autoscalingv2.HorizontalPodAutoscaler {
				h := mlflowHPA(ns, 0)
				noWindow := int32(0)
				h.Spec.Behavior.ScaleDown.StabilizationWindowSeconds = &noWindow
				return h
			},
			wantDesired: 9,
		},
	}
}

func TestPredictionMatchesController(t *testing.T) {
	harness.SkipWithoutBinary(t)
	requirePlugin(t)
	cluster := harness.Start(t, harness.Options{})

	for _, sc := range agreementScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			runAgreement(t, cluster, sc)
		})
	}

	t.Run("all namespaces explains every HPA", func(t *testing.T) {
		out, err := cluster.KubectlCommand("mlflow", "explain-hpa", "-A", "-o", "json").Output()
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("kubectl mlflow explain-hpa -A did not run: %v", err)
		}
		var all prediction
		if err := json.Unmarshal(out, &all); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		seen := map[string]bool{}
		for _, item := range all.Items {
			seen[item.Namespace+"/"+item.Name] = true
		}
		for _, sc := range agreementScenarios() {
			if key := "agree-" + sc.name + "/" + workloadName; !seen[key] {
				t.Errorf("explain-hpa -A did not explain %s; it explained %v", key, seen)
			}
		}
	})

	t.Run("completion lists HPA names", func(t *testing.T) {
		// kubectl (v1.26 and later) completes plugin arguments through kubectl_complete-<plugin>.
		helpers, err := filepath.Abs("../../hack/completion")
		if err != nil {
			t.Fatal(err)
		}
		cmd := cluster.KubectlCommand("__complete", "mlflow", "explain-hpa", "-n", "agree-scale-up", "")
		for i, variable := range cmd.Env {
			if strings.HasPrefix(variable, "PATH=") {
				cmd.Env[i] = "PATH=" + helpers + string(filepath.ListSeparator) + strings.TrimPrefix(variable, "PATH=")
			}
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl __complete mlflow explain-hpa: %v", err)
		}
		completions := strings.Fields(string(out))
		if len(completions) == 0 || completions[0] != workloadName {
			t.Errorf("completions = %q, want %q first", completions, workloadName)
		}
	})
}

// requirePlugin fails the test unless kubectl can find the plugin on PATH.
func requirePlugin(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("kubectl-mlflow"); err != nil {
		t.Fatalf("kubectl-mlflow is not on PATH: run 'make build' and put bin/ on PATH (hack/e2e.sh does both): %v", err)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatalf("kubectl is not on PATH: %v", err)
	}
}

// prediction is the part of the plugin's -o json output that the controller's action is compared with.
type prediction struct {
	Items []struct {
		Namespace       string `json:"namespace"`
		Name            string `json:"name"`
		CurrentReplicas int32  `json:"currentReplicas"`
		DesiredReplicas int32  `json:"desiredReplicas"`
		Rescale         bool   `json:"rescale"`
		Metrics         []struct {
			Type             string `json:"type"`
			Name             string `json:"name"`
			ProposedReplicas int32  `json:"proposedReplicas"`
		} `json:"metrics"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"conditions"`
		Events []struct {
			Type    string `json:"type"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"events"`
	} `json:"items"`
}

// explain runs `kubectl mlflow explain-hpa` through the real kubectl plugin mechanism. A non-zero
// exit is allowed when the output is JSON, because the plugin exits non-zero when the controller
// cannot compute a decision.
func explain(t *testing.T, cluster *harness.Cluster, namespace string) prediction {
	t.Helper()
	cmd := cluster.KubectlCommand("mlflow", "explain-hpa", workloadName, "-n", namespace, "-o", "json")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var p prediction
	if err := json.Unmarshal([]byte(stdout.String()), &p); err != nil {
		t.Fatalf("kubectl mlflow explain-hpa: output is not JSON (%v, exit error %v)\nstdout:\n%s\nstderr:\n%s", err, runErr, stdout.String(), stderr.String())
	}
	if len(p.Items) != 1 {
		t.Fatalf("kubectl mlflow explain-hpa returned %d items, want 1\nstderr:\n%s", len(p.Items), stderr.String())
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("kubectl mlflow explain-hpa did not run: %v", runErr)
	}
	return p
}

func runAgreement(t *testing.T, cluster *harness.Cluster, sc scenario) {
	namespace := "agree-" + sc.name
	setUpScenario(t, cluster, namespace, sc)

	predicted := explain(t, cluster, namespace).Items[0]
	if predicted.DesiredReplicas != sc.wantDesired {
		t.Errorf("predicted desiredReplicas = %d, the scenario is built for %d", predicted.DesiredReplicas, sc.wantDesired)
	}

	controller := cluster.StartHPAController(t, harness.HPAControllerOptions{SyncPeriod: agreementSyncPeriod})
	actual := cluster.WaitForHPAStatus(t, namespace, workloadName, "the first status write of the HPA controller",
		func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return len(h.Status.Conditions) > 0 })
	// The controller records some events after its status write and sends events asynchronously,
	// so it keeps running until they are checked. Its next reconcile is a sync period away.
	defer controller.Stop()

	if actual.Status.DesiredReplicas != predicted.DesiredReplicas {
		t.Errorf("desiredReplicas: controller %d, prediction %d", actual.Status.DesiredReplicas, predicted.DesiredReplicas)
	}
	if actual.Status.CurrentReplicas != predicted.CurrentReplicas {
		t.Errorf("currentReplicas: controller %d, prediction %d", actual.Status.CurrentReplicas, predicted.CurrentReplicas)
	}

	var gotConditions, wantConditions []string
	for _, c := range actual.Status.Conditions {
		gotConditions = append(gotConditions, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	for _, c := range predicted.Conditions {
		wantConditions = append(wantConditions, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	if strings.Join(gotConditions, " ") != strings.Join(wantConditions, " ") {
		t.Errorf("conditions:\ncontroller %v\nprediction %v", gotConditions, wantConditions)
	}

	scale, err := cluster.Client.AppsV1().Deployments(namespace).GetScale(context.Background(), workloadName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get the scale of Deployment %s/%s: %v", namespace, workloadName, err)
	}
	wantScale := predicted.CurrentReplicas
	if predicted.Rescale {
		wantScale = predicted.DesiredReplicas
	}
	if scale.Spec.Replicas != wantScale {
		t.Errorf("scale.spec.replicas after the decision = %d, prediction %d", scale.Spec.Replicas, wantScale)
	}

	for _, want := range predicted.Events {
		waitForEvent(t, cluster, namespace, want.Type, want.Reason, want.Message)
	}
}

// setUpScenario creates the namespace, the Deployment, its pods' states and metrics, and the HPA,
// with no HPA controller running.
func setUpScenario(t *testing.T, cluster *harness.Cluster, namespace string, sc scenario) {
	t.Helper()
	cluster.CreateNamespace(t, namespace)
	cluster.CreateDeployment(t, harness.NewDeployment(namespace, workloadName).Replicas(sc.replicas).Requests(sc.requests).Build())
	pods := cluster.WaitForPods(t, namespace, workloadSelector, int(sc.replicas))

	// Pods started and turned ready long before the CPU initialization period (5 minutes), so
	// the controller trusts every CPU sample.
	for _, pod := range pods[:sc.pending] {
		holdPending(t, cluster, namespace, pod.Name)
	}
	longAgo := time.Now().Add(-10 * time.Minute)
	running := cluster.MarkPodsRunningReady(t, namespace, workloadSelector+",!"+holdLabel, longAgo, longAgo)
	if len(running) != int(sc.replicas)-sc.pending {
		t.Fatalf("%d pods are Running, want %d", len(running), int(sc.replicas)-sc.pending)
	}
	if sc.cpu != "" {
		for _, pod := range running {
			cluster.Metrics.SetPodMetrics(namespace, pod.Name, map[string]corev1.ResourceList{
				"app": {corev1.ResourceCPU: resource.MustParse(sc.cpu), corev1.ResourceMemory: resource.MustParse(sc.memory)},
			}, 30*time.Second)
		}
	}
	if sc.metrics != nil {
		sc.metrics(cluster.Metrics, namespace, running)
	}
	cluster.CreateHPA(t, sc.hpa(namespace))
}

// holdPending labels a pod so that MarkPodsRunningReady leaves it Pending.
func holdPending(t *testing.T, cluster *harness.Cluster, namespace, pod string) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, holdLabel))
	if _, err := cluster.Client.CoreV1().Pods(namespace).Patch(context.Background(), pod, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("label pod %s/%s: %v", namespace, pod, err)
	}
}

// podInMessage matches a pod name in an event message. When several pods lack a request, the
// controller names the first one its informer cache lists, in no fixed order, so messages are
// compared with the pod name replaced.
var podInMessage = regexp.MustCompile(`Pod [a-z0-9.-]+`)

func normalizeMessage(message string) string {
	return podInMessage.ReplaceAllString(message, "Pod <pod>")
}

// waitForEvent waits until the HPA has an event with this type, reason and message (pod names
// aside). Events are recorded asynchronously, so it polls for a bounded time.
func waitForEvent(t *testing.T, cluster *harness.Cluster, namespace, eventType, reason, message string) {
	t.Helper()
	message = normalizeMessage(message)
	deadline := time.Now().Add(30 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		seen = seen[:0]
		for _, e := range cluster.Events(t, namespace) {
			if e.InvolvedObject.Kind != "HorizontalPodAutoscaler" || e.InvolvedObject.Name != workloadName {
				continue
			}
			if e.Type == eventType && e.Reason == reason && normalizeMessage(e.Message) == message {
				return
			}
			seen = append(seen, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, e.Message))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("the controller recorded no event %s %s %q; it recorded %q", eventType, reason, message, seen)
}
