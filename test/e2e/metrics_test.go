package e2e

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	metricsclientset "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/metrics/pkg/client/custom_metrics"
	"k8s.io/metrics/pkg/client/external_metrics"

	"github.com/kubectl-mlflow/kubectl-mlflow/test/harness"
)

func TestMetricsAPIsThroughAggregation(t *testing.T) {
	harness.SkipWithoutBinary(t)
	cluster := harness.Start(t, harness.Options{})
	const namespace, selector = "metrics", "app=api"

	cluster.CreateNamespace(t, namespace)
	cluster.CreateDeployment(t, harness.NewDeployment(namespace, "api").Replicas(2).CPURequest("100m").Build())
	pods := cluster.WaitForPods(t, namespace, selector, 2)
	cpu := map[string]string{pods[0].Name: "150m", pods[1].Name: "250m"}
	for _, pod := range pods {
		cluster.Metrics.SetPodMetrics(namespace, pod.Name, map[string]corev1.ResourceList{
			"app": {corev1.ResourceCPU: resource.MustParse(cpu[pod.Name]), corev1.ResourceMemory: resource.MustParse("64Mi")},
		}, 30*time.Second)
		cluster.Metrics.SetPodCustomMetric(namespace, pod.Name, "requests_per_second", resource.MustParse("12"))
	}
	cluster.Metrics.SetObjectMetric(namespace, "ingresses.networking.k8s.io", "front", "hits_per_second", resource.MustParse("40"))
	cluster.Metrics.SetExternalMetric(namespace, "queue_depth", map[string]string{"queue": "jobs"}, resource.MustParse("30"))
	cluster.Metrics.SetExternalMetric(namespace, "queue_depth", map[string]string{"queue": "mail"}, resource.MustParse("7"))

	t.Run("pod metrics client", func(t *testing.T) {
		client, err := metricsclientset.NewForConfig(cluster.RESTConfig())
		if err != nil {
			t.Fatalf("create metrics client: %v", err)
		}
		list, err := client.MetricsV1beta1().PodMetricses(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatalf("list PodMetrics through the API server: %v", err)
		}
		if len(list.Items) != 2 {
			t.Fatalf("listed %d PodMetrics for %q, expected 2", len(list.Items), selector)
		}
		for _, item := range list.Items {
			usage := item.Containers[0].Usage[corev1.ResourceCPU]
			if usage.String() != cpu[item.Name] {
				t.Errorf("PodMetrics %s: cpu = %s, expected %s", item.Name, usage.String(), cpu[item.Name])
			}
			if item.Labels["app"] != "api" {
				t.Errorf("PodMetrics %s: labels = %v, expected the pod's labels", item.Name, item.Labels)
			}
			if item.Window.Duration != 30*time.Second {
				t.Errorf("PodMetrics %s: window = %s, expected 30s", item.Name, item.Window.Duration)
			}
		}

		none, err := client.MetricsV1beta1().PodMetricses(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app=other"})
		if err != nil {
			t.Fatalf("list PodMetrics for app=other: %v", err)
		}
		if len(none.Items) != 0 {
			t.Errorf("listed %d PodMetrics for app=other, expected none", len(none.Items))
		}

		path := "/apis/metrics.k8s.io/v1beta1/namespaces/" + namespace + "/pods"
		if count := cluster.Metrics.RequestCount(path); count < 2 {
			t.Errorf("metrics server counted %d requests to %s, expected at least 2", count, path)
		}
	})

	t.Run("kubectl top pods", func(t *testing.T) {
		output, err := cluster.KubectlCommand("top", "pods", "--namespace", namespace, "--no-headers").Output()
		if err != nil {
			t.Fatalf("kubectl top pods failed: %v\n%s", err, stderrOf(err))
		}
		lines := strings.Split(strings.TrimSpace(string(output)), "\n")
		if len(lines) != 2 {
			t.Fatalf("kubectl top pods printed %d lines, expected 2:\n%s", len(lines), output)
		}
		for _, line := range lines {
			fields := strings.Fields(line)
			if len(fields) < 3 {
				t.Errorf("kubectl top pods line %q has fewer than 3 columns", line)
				continue
			}
			if fields[1] != cpu[fields[0]] {
				t.Errorf("kubectl top pods: pod %s cpu = %s, expected %s", fields[0], fields[1], cpu[fields[0]])
			}
			if fields[2] != "64Mi" {
				t.Errorf("kubectl top pods: pod %s memory = %s, expected 64Mi", fields[0], fields[2])
			}
		}
	})

	t.Run("custom metrics client", func(t *testing.T) {
		discovery := memory.NewMemCacheClient(cluster.Client.Discovery())
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(discovery)
		client := custom_metrics.NewForConfig(cluster.RESTConfig(), mapper, custom_metrics.NewAvailableAPIsGetter(discovery))
		podSelector, err := labels.Parse(selector)
		if err != nil {
			t.Fatalf("parse %q: %v", selector, err)
		}

		values, err := client.NamespacedMetrics(namespace).GetForObjects(schema.GroupKind{Kind: "Pod"}, podSelector, "requests_per_second", labels.Everything())
		if err != nil {
			t.Fatalf("get requests_per_second of pods %q: %v", selector, err)
		}
		if len(values.Items) != 2 {
			t.Fatalf("got requests_per_second for %d pods, expected 2", len(values.Items))
		}
		for _, value := range values.Items {
			if value.Value.String() != "12" {
				t.Errorf("pod %s: requests_per_second = %s, expected 12", value.DescribedObject.Name, value.Value.String())
			}
		}

		ingress, err := client.NamespacedMetrics(namespace).GetForObject(schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}, "front", "hits_per_second", labels.Everything())
		if err != nil {
			t.Fatalf("get hits_per_second of Ingress front: %v", err)
		}
		if ingress.Value.String() != "40" {
			t.Errorf("Ingress front: hits_per_second = %s, expected 40", ingress.Value.String())
		}

		if _, err := client.NamespacedMetrics(namespace).GetForObject(schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}, "back", "hits_per_second", labels.Everything()); err == nil {
			t.Errorf("get hits_per_second of Ingress back succeeded, expected not found because no value was set")
		}
	})

	t.Run("external metrics client", func(t *testing.T) {
		client, err := external_metrics.NewForConfig(cluster.RESTConfig())
		if err != nil {
			t.Fatalf("create external metrics client: %v", err)
		}
		jobs, err := client.NamespacedMetrics(namespace).List("queue_depth", labels.SelectorFromSet(labels.Set{"queue": "jobs"}))
		if err != nil {
			t.Fatalf("list queue_depth for queue=jobs: %v", err)
		}
		if len(jobs.Items) != 1 {
			t.Fatalf("listed %d series of queue_depth for queue=jobs, expected 1", len(jobs.Items))
		}
		if jobs.Items[0].Value.String() != "30" {
			t.Errorf("queue_depth for queue=jobs = %s, expected 30", jobs.Items[0].Value.String())
		}

		all, err := client.NamespacedMetrics(namespace).List("queue_depth", labels.Everything())
		if err != nil {
			t.Fatalf("list every series of queue_depth: %v", err)
		}
		if len(all.Items) != 2 {
			t.Errorf("listed %d series of queue_depth, expected 2", len(all.Items))
		}
	})
}
