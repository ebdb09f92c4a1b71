package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-mlflow/kubectl-mlflow/test/harness"
)

// requestLine matches one API request in kubectl's -v=6 log, for example
// "round_trippers.go:632] "Response" verb="GET" url="https://..." status="200 OK"" or the older
// "GET https://... 200 OK in 3 milliseconds".
var requestLine = regexp.MustCompile(`(verb="(GET|LIST|POST|PUT|PATCH|DELETE)"|\] (GET|POST|PUT|PATCH|DELETE) https://)`)

// pluginRequests matches the plugin's -v=2 log line that counts its API requests.
var pluginRequests = regexp.MustCompile(`apiRequests=(\d+)`)

// benchNamespace creates count MLflow-like workloads with an HPA each, with 2 ready pods at 80%
// CPU, in a new namespace.
func benchNamespace(b *testing.B, cluster *harness.Cluster, namespace string, count int) {
	cluster.CreateNamespace(b, namespace)
	longAgo := time.Now().Add(-10 * time.Minute)
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("mlflow-%02d", i)
		cluster.CreateDeployment(b, harness.NewDeployment(namespace, name).Replicas(2).Requests(mlflowRequests()).Build())
	}
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("mlflow-%02d", i)
		selector := "app=" + name
		cluster.WaitForPods(b, namespace, selector, 2)
		for _, pod := range cluster.MarkPodsRunningReady(b, namespace, selector, longAgo, longAgo) {
			cluster.Metrics.SetPodMetrics(namespace, pod.Name, map[string]corev1.ResourceList{
				"app": {corev1.ResourceCPU: resource.MustParse("400m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			}, 30*time.Second)
		}
		h := mlflowHPA(namespace, 30)
		h.Name = name
		h.Spec.ScaleTargetRef.Name = name
		cluster.CreateHPA(b, h)
	}
}

// runCounted runs kubectl with args (or, when direct is set, the plugin binary itself) and
// returns the number of API requests it made, read from its log by count.
func runCounted(b *testing.B, cluster *harness.Cluster, direct bool, count func(string) int, args ...string) int {
	cmd := cluster.KubectlCommand(args...)
	if direct {
		cmd = exec.Command("kubectl-mlflow", args...)
		cmd.Env = cluster.KubectlEnv()
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return count(stderr.String())
}

func countKubectlRequests(log string) int {
	return len(requestLine.FindAllString(log, -1))
}

func countPluginRequests(log string) int {
	match := pluginRequests.FindStringSubmatch(log)
	if match == nil {
		return -1
	}
	n, err := strconv.Atoi(match[1])
	if err != nil {
		return -1
	}
	return n
}

// BenchmarkExplainVersusDescribe measures wall time and API requests of explain-hpa and of
// kubectl describe hpa for one HPA and for a namespace of 50 HPAs, on the test control plane.
// Both run as processes through the real kubectl, so process start-up is included in both.
func BenchmarkExplainVersusDescribe(b *testing.B) {
	harness.SkipWithoutBinary(b)
	cluster := harness.Start(b, harness.Options{})
	benchNamespace(b, cluster, "bench-one", 1)
	benchNamespace(b, cluster, "bench-fifty", 50)

	// The "direct" cases run the plugin binary without kubectl in front, which shows the cost of
	// kubectl's plugin mechanism (one more process start) apart from the plugin's own work.
	cases := []struct {
		name   string
		direct bool
		count  func(string) int
		args   []string
	}{
		{"explain/1-hpa", false, countPluginRequests, []string{"mlflow", "explain-hpa", "mlflow-00", "-n", "bench-one", "-o", "json", "-v=2"}},
		{"explain-direct/1-hpa", true, countPluginRequests, []string{"explain-hpa", "mlflow-00", "-n", "bench-one", "-o", "json", "-v=2"}},
		{"describe/1-hpa", false, countKubectlRequests, []string{"describe", "hpa", "mlflow-00", "-n", "bench-one", "-v=6"}},
		{"explain/50-hpas", false, countPluginRequests, []string{"mlflow", "explain-hpa", "-n", "bench-fifty", "-o", "json", "-v=2"}},
		{"explain-direct/50-hpas", true, countPluginRequests, []string{"explain-hpa", "-n", "bench-fifty", "-o", "json", "-v=2"}},
		{"describe/50-hpas", false, countKubectlRequests, []string{"describe", "hpa", "-n", "bench-fifty", "-v=6"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			requests := 0
			for i := 0; i < b.N; i++ {
				requests = runCounted(b, cluster, c.direct, c.count, c.args...)
			}
			if requests <= 0 {
				b.Fatalf("no API request count found in the log of kubectl %s", strings.Join(c.args, " "))
			}
			b.ReportMetric(float64(requests), "requests/op")
		})
	}
}
