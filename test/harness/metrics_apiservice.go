package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// metricsServiceName is the Service in kube-system that the metrics APIServices point at.
const metricsServiceName = "test-metrics-server"

var apiServiceResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// registerAPIServices points an APIService for each metrics group at the metrics server on
// 127.0.0.1:port and waits until every one is Available.
//
// The Service is of type ExternalName with externalName localhost, because the API server
// resolves it to localhost:port. Endpoints with loopback addresses would be rejected by
// validation.
func registerAPIServices(t testing.TB, c *Cluster, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.options.StartTimeout)
	defer cancel()

	service := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: metricsServiceName, Namespace: metav1.NamespaceSystem},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(port)}},
		},
	}
	if _, err := c.Client.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, service, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create Service %s/%s for the metrics server: %w", metav1.NamespaceSystem, metricsServiceName, err)
	}

	names := make([]string, 0, len(servedVersions))
	for _, version := range servedVersions {
		name := version.Version + "." + version.Group
		apiService := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiregistration.k8s.io/v1",
			"kind":       "APIService",
			"metadata":   map[string]any{"name": name},
			"spec": map[string]any{
				"group":   version.Group,
				"version": version.Version,
				"service": map[string]any{
					"namespace": metav1.NamespaceSystem,
					"name":      metricsServiceName,
					"port":      int64(port),
				},
				// The metrics server's certificate is signed by the test CA, but the API server
				// is not given that CA for aggregated servers.
				"insecureSkipTLSVerify": true,
				"groupPriorityMinimum":  int64(100),
				"versionPriority":       int64(100),
			},
		}}
		if _, err := c.Dynamic.Resource(apiServiceResource).Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create APIService %s: %w", name, err)
		}
		names = append(names, name)
	}

	for _, name := range names {
		if err := waitAPIServiceAvailable(ctx, c, name); err != nil {
			return err
		}
	}
	t.Logf("metrics APIServices %v are Available and served by %s", names, fmt.Sprintf("127.0.0.1:%d", port))
	return nil
}

func waitAPIServiceAvailable(ctx context.Context, c *Cluster, name string) error {
	lastMessage := "no status yet"
	for {
		object, err := c.Dynamic.Resource(apiServiceResource).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conditions, _, _ := unstructured.NestedSlice(object.Object, "status", "conditions")
			for _, condition := range conditions {
				fields, _ := condition.(map[string]any)
				if fields["type"] != "Available" {
					continue
				}
				if fields["status"] == "True" {
					return nil
				}
				lastMessage = fmt.Sprintf("Available=%v, reason %v: %v", fields["status"], fields["reason"], fields["message"])
			}
		} else {
			lastMessage = err.Error()
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("APIService %s did not become Available within %s (%s); check the metrics server requests in the test log", name, c.options.StartTimeout, lastMessage)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
